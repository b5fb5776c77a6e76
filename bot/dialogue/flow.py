"""One step of the dialogue: (stored state, one client message, situation) -> replies and decisions.

Pure: no I/O and no clock of its own, so every path is tested directly. The order of checks
matters: a request for a person wins over everything (hand-off is always one step), then an
explicit language switch, then the answer the current stage waits for, then a new question.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from bot.dialogue.forms import FieldReader, FormRule, fields_needed
from bot.dialogue.hours import next_opening, say_duration, say_when
from bot.dialogue.i18n import Catalogs, Translator, language_name
from bot.dialogue.knowledge import KnowledgeBase
from bot.dialogue.language import LanguageDetector, choose_language
from bot.dialogue.retrieval import FaqIndex
from bot.dialogue.state import (
    ASK, DONE, FEEDBACK, FORM, NEW, DialogueState, Incoming, Outcome, Reply, Situation, Unanswered,
)
from bot.dialogue.words import WordList
from router.hours import BusinessHours

QueueGuess = Callable[[str, str], "tuple[str, float] | None"]  # (text, language) -> (queue, confidence)
CHOICE_KEYS = ("yes", "no", "handoff", "skip")
MAX_WORDS_FOR_SMALL_TALK = 4


@dataclass
class SelfService:
    """What the dialogue knows: catalogs, knowledge base, forms, hours and the desk's settings."""

    catalogs: Catalogs
    detector: LanguageDetector
    faq: FaqIndex | None
    reader: FieldReader
    forms: tuple[FormRule, ...] = ()
    hours: BusinessHours | None = None
    desk_name: str = "helpline"
    default_language: str = "en"
    reply_languages: frozenset[str] = frozenset({"en"})
    welcome: dict[str, str] = field(default_factory=dict)
    threshold: float = 0.3
    order_example: str = "NW-123456"
    response_minutes: int = 0
    extra_handoff_words: dict[str, tuple[str, ...]] = field(default_factory=dict)
    guess_queue: QueueGuess | None = None

    def __post_init__(self) -> None:
        every = list(self.catalogs.translators.values())
        self.handoff_words = WordList([w for t in every for w in t.words("handoff")]
                                      + [w for ws in self.extra_handoff_words.values() for w in ws])
        self.answer_words = {key: WordList([w for t in every for w in t.words(key)]) for key in ("yes", "no", "skip")}
        self.small_talk = WordList([w for t in every for w in t.words("greeting")])
        self.switch_words = {lang: WordList(t.own_words("language")) for lang, t in self.catalogs.translators.items()
                             if lang in self.reply_languages}

    @property
    def kb(self) -> KnowledgeBase | None:
        return self.faq.kb if self.faq else None

    # --- one step ---

    def step(self, state: DialogueState, msg: Incoming, situation: Situation) -> Outcome:
        out = Outcome()
        if state.stage == DONE:
            return out
        text = msg.text.strip()
        switch = self._switch_request(text)
        guess = self.detector.detect(text, situation.hints) if text else None
        if guess:
            state.detected, state.detected_how = guess.language, guess.how
        state.language = switch or choose_language(guess, state.language, list(situation.hints),
                                                   set(self.reply_languages), self.default_language)
        t = self.catalogs.get(state.language)
        first = state.stage == NEW
        if first:
            out.replies.append(Reply(self._welcome(t, state.language, situation)))
            state.stage = ASK
        self._collect(state, text, out)
        choice = self._choice(state, msg)
        if choice == "handoff" or (choice is None and self.handoff_words.found_in(text)):
            return self._hand_off(state, out, t, situation, "client asked")
        if switch:
            out.replies.append(Reply(t.gettext("All right, I will write in {language}.",
                                               language=language_name(switch, switch))))
            return self._ask_again(state, out, t) if not first else out
        if not text:
            out.replies.append(Reply(t.gettext("I can only read text, so I am passing your message to a person.")))
            return self._hand_off(state, out, t, situation, "attachment", say=False)
        if state.stage == FEEDBACK:
            if choice == "yes":
                state.stage, state.offered = ASK, {}
                state.answered.append(state.article)
                out.resolved = True
                out.replies.append(Reply(t.gettext("Glad I could help! Write again whenever you have another question.")))
                return out
            if choice == "no":
                state.not_helpful.append(state.article)
                out.unanswered.append(Unanswered("not_helpful", state.question, state.detected or state.language,
                                                 state.article, state.score))
                out.replies.append(Reply(t.gettext("Sorry that did not help. I will pass your question to a person.")))
                return self._before_hand_off(state, out, t, situation, "answer did not help")
        if state.stage == FORM:
            return self._form_answer(state, out, t, text, choice, situation)
        return self._question(state, out, t, text, situation, first)

    def abandon(self, state: DialogueState, situation: Situation) -> Outcome:
        """The client went quiet in the middle of a form: a person takes over with what is known."""
        out = Outcome()
        if state.stage != FORM:
            return out
        return self._hand_off(state, out, self.catalogs.get(state.language), situation, "client left the form")

    # --- stages ---

    def _question(self, state: DialogueState, out: Outcome, t: Translator, text: str, situation: Situation,
                  first: bool) -> Outcome:
        if self.small_talk.is_whole(text) or self._is_bare_answer(text):
            if not first:
                out.replies.append(Reply(t.gettext("How can I help you?")))
            return out
        state.question = text[:500]
        self._guess_queue(state, text)
        hits = self.faq.search(text, state.detected or state.language) if self.faq else []
        best = hits[0] if hits else None
        if best and best.score >= self.threshold:
            state.article, state.score = best.article_id, round(best.score, 3)
            article = self.kb.version(best.article_id, state.language)
            if article is not None:
                if article.queue:
                    state.queue, state.queue_confidence = article.queue, 1.0
                state.stage = FEEDBACK
                out.replies.append(Reply(article.as_text()))
                out.replies.append(self._offer(state, t, t.gettext("Did this answer your question?"),
                                               ("yes", "no", "handoff")))
                return out
            languages = ", ".join(language_name(code, state.language) for code in self.kb.languages_of(best.article_id))
            out.unanswered.append(Unanswered("no_translation", state.question, state.detected or state.language,
                                             best.article_id, state.score))
            out.replies.append(Reply(t.gettext("I have an answer to this, but only in {languages}. I will pass your "
                                               "question to a person.", languages=languages)))
            return self._before_hand_off(state, out, t, situation, "no answer in the client's language")
        out.unanswered.append(Unanswered("no_match", state.question, state.detected or state.language,
                                         best.article_id if best else "", round(best.score, 3) if best else 0.0))
        out.replies.append(Reply(t.gettext("I could not find an answer to that. I will pass your question to a person.")))
        return self._before_hand_off(state, out, t, situation, "no answer found")

    def _before_hand_off(self, state: DialogueState, out: Outcome, t: Translator, situation: Situation,
                         reason: str) -> Outcome:
        """Ask the queue's form fields first (each may be skipped), then hand off."""
        state.handoff_reason = reason
        field_name = self._next_field(state, situation)
        if field_name is None:
            return self._hand_off(state, out, t, situation, reason)
        state.stage, state.pending_field, state.retries = FORM, field_name, 0
        out.replies.append(self._offer(state, t, self._prompt(t, field_name), ("skip", "handoff")))
        return out

    def _form_answer(self, state: DialogueState, out: Outcome, t: Translator, text: str, choice: str | None,
                     situation: Situation) -> Outcome:
        name = state.pending_field
        if choice == "skip" or (choice is None and self.answer_words["skip"].is_whole(text)):
            state.skipped.append(name)
        elif name in state.fields:
            pass  # found in this very message by _collect
        elif state.retries < 1:
            state.retries += 1
            out.replies.append(self._offer(state, t, self._invalid(t, name), ("skip", "handoff")))
            return out
        else:
            state.unreadable[name] = text[:200]
            state.skipped.append(name)
            out.replies.append(Reply(t.gettext("I still cannot read it, so I will pass on what you wrote.")))
        next_field = self._next_field(state, situation)
        if next_field is None:
            return self._hand_off(state, out, t, situation, state.handoff_reason or "form done")
        state.pending_field, state.retries = next_field, 0
        out.replies.append(self._offer(state, t, self._prompt(t, next_field), ("skip", "handoff")))
        return out

    def _hand_off(self, state: DialogueState, out: Outcome, t: Translator, situation: Situation, reason: str,
                  *, say: bool = True) -> Outcome:
        """Let go of the ticket; ``say``: tell the client (unless the reply before already did)."""
        state.stage, state.offered, state.pending_field = DONE, {}, ""
        out.handoff = reason
        opening = self._opening(situation)
        parts = []
        if opening is not None:
            if say:
                parts.append(t.gettext("Thank you."))
            when = say_when(opening, situation.now, self.hours.time_zone, state.language, t)
            parts.append(t.gettext("Our team is back {when}, and a person will answer you here then.", when=when))
        else:
            if say:
                parts.append(t.gettext("Thank you. I am passing you to a person, who will answer you here."))
            if self.response_minutes:
                parts.append(t.gettext("We usually answer within {duration}.",
                                       duration=say_duration(self.response_minutes, state.language)))
        if parts:
            out.replies.append(Reply(" ".join(parts)))
        return out

    def _ask_again(self, state: DialogueState, out: Outcome, t: Translator) -> Outcome:
        """After a language switch, repeat what the bot was waiting for, in the new language."""
        if state.stage == FORM and state.pending_field:
            out.replies.append(self._offer(state, t, self._prompt(t, state.pending_field), ("skip", "handoff")))
        elif state.stage == FEEDBACK and state.article:
            article = self.kb.version(state.article, state.language) if self.kb else None
            if article is not None:
                out.replies.append(Reply(article.as_text()))
            out.replies.append(self._offer(state, t, t.gettext("Did this answer your question?"), ("yes", "no", "handoff")))
        else:
            out.replies.append(Reply(t.gettext("How can I help you?")))
        return out

    # --- helpers ---

    def _welcome(self, t: Translator, language: str, situation: Situation) -> str:
        text = self.welcome.get(language) or t.gettext(
            "Hello! I am the virtual assistant of {desk}. Ask me your question; if you would rather talk to a "
            "person, just say so at any time.", desk=self.desk_name)
        opening = self._opening(situation)
        if opening is not None:
            when = say_when(opening, situation.now, self.hours.time_zone, language, t)
            text += "\n\n" + t.gettext("Our team is away now and back {when}; until then I will try to help.", when=when)
        return text

    def _opening(self, situation: Situation):
        if self.hours is None or self.hours.is_open(situation.now):
            return None
        return next_opening(self.hours, situation.now)

    def _offer(self, state: DialogueState, t: Translator, text: str, keys: tuple[str, ...]) -> Reply:
        labels = {"yes": t.gettext("Yes"), "no": t.gettext("No"), "handoff": t.gettext("Talk to a person"),
                  "skip": t.gettext("Skip")}
        state.offered = {key: labels[key] for key in keys}
        return Reply(text, tuple(state.offered.values()))

    def _choice(self, state: DialogueState, msg: Incoming) -> str | None:
        """Which offered choice the message picks: a button, its label typed, its number, or a word meaning it."""
        said = (msg.payload or msg.text).strip().casefold()
        if not said:
            return None
        for key, label in state.offered.items():
            if said == label.casefold():
                return key
        # A button of the same choice in another language (the client switched meanwhile).
        for translator in self.catalogs.translators.values():
            for key, msgid in (("yes", "Yes"), ("no", "No"), ("handoff", "Talk to a person"), ("skip", "Skip")):
                if said == translator.gettext(msgid).casefold() and (key in state.offered or key == "handoff"):
                    return key
        keys = list(state.offered)
        if said.rstrip(".)").isdigit() and 1 <= int(said.rstrip(".)")) <= len(keys):
            return keys[int(said.rstrip(".)")) - 1]  # numbered options, as channels without buttons show them
        for key in ("yes", "no", "skip"):
            if key in state.offered and self.answer_words[key].is_whole(msg.text):
                return key
        return None

    def _is_bare_answer(self, text: str) -> bool:
        """"yes", "ok", "no" with no question pending: nothing to look up."""
        return any(words.is_whole(text) for words in self.answer_words.values())

    def _switch_request(self, text: str) -> str | None:
        """A message that only asks for a language ("in English please", "по-русски"), not one naming it."""
        if not text or len(text.split()) > 6:
            return None
        for language, words in self.switch_words.items():
            if words.is_whole(text):
                return language
        return None

    def _collect(self, state: DialogueState, text: str, out: Outcome) -> None:
        for name, value in self.reader.find_all(text).items():
            state.fields[name] = value
            if name in state.skipped:
                state.skipped.remove(name)
            if name == "email":
                out.claimed_email = value

    def _next_field(self, state: DialogueState, situation: Situation) -> str | None:
        for name in fields_needed(self.forms, state.queue or None, situation.channel):
            if name in state.fields or name in state.skipped:
                continue
            if name == "email" and situation.known_email:
                continue
            return name
        return None

    def _guess_queue(self, state: DialogueState, text: str) -> None:
        if self.guess_queue is None:
            return
        guessed = self.guess_queue(text, state.detected or state.language)
        if guessed:
            state.queue, state.queue_confidence = guessed[0], round(guessed[1], 3)

    def _prompt(self, t: Translator, name: str) -> str:
        if name == "order_number":
            return t.gettext("Before I do: what is your order number? It looks like {example}.",
                             example=self.order_example)
        return t.gettext("Before I do: which email address can we reach you at?")

    def _invalid(self, t: Translator, name: str) -> str:
        if name == "order_number":
            return t.gettext("That does not look like an order number (for example {example}). Please check it "
                             "and send it again, or skip this question.", example=self.order_example)
        return t.gettext("That does not look like an email address. Please send it again, or skip this question.")
