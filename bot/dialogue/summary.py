"""The note an operator finds on a ticket the bot hands over: what the bot learned, in one glance."""
from __future__ import annotations

from bot.dialogue.i18n import Translator, language_name
from bot.dialogue.state import DialogueState

FIELD_LABELS = {"order_number": "Order number", "email": "Email"}


def summary_note(state: DialogueState, t: Translator, *, reason: str, bot_messages: int) -> str:
    """Plain text, one fact a line, in the desk's language (``t``)."""
    lines = [t.gettext("Self-service summary")]
    language = language_name(state.language, t.language) if state.language else "?"
    line = t.gettext("Language: {language}", language=f"{language} ({state.language or '?'})")
    if state.detected and state.detected != state.language:
        line += " · " + t.gettext("written in {language}", language=language_name(state.detected, t.language))
    lines.append(line)
    if state.question:
        lines.append(t.gettext("Question: {text}", text=state.question))
    if state.article:
        verdict = (t.gettext("helped") if state.article in state.answered
                   else t.gettext("did not help") if state.article in state.not_helpful else t.gettext("no answer yet"))
        lines.append(t.gettext("FAQ answer: {article} (score {score:.2f}), {verdict}",
                               article=state.article, score=state.score, verdict=verdict))
    if state.queue:
        lines.append(t.gettext("Intent and queue: {queue} (confidence {confidence:.2f})",
                               queue=state.queue, confidence=state.queue_confidence))
    for name, label in FIELD_LABELS.items():
        if name in state.fields:
            value = state.fields[name]
        elif name in state.unreadable:
            value = t.gettext("not valid: {text}", text=state.unreadable[name])
        elif name in state.skipped:
            value = t.gettext("skipped")
        else:
            continue
        lines.append(f"{t.gettext(label)}: {value}")
    lines.append(t.gettext("Hand-off: {reason}", reason=t.gettext(reason)))
    lines.append(t.gettext("Messages with the bot: {count} (folded above)", count=bot_messages))
    return "\n".join(lines)


# Hand-off reasons and field labels are looked up at run time; listed here so extraction finds them.
def _marked(t: Translator) -> None:  # pragma: no cover - read by `helpline i18n extract`, never called
    t.gettext("Order number"), t.gettext("Email")
    t.gettext("client asked"), t.gettext("attachment"), t.gettext("answer did not help")
    t.gettext("no answer in the client's language"), t.gettext("no answer found"), t.gettext("form done")
    t.gettext("operator joined"), t.gettext("client left the form")
