"""Which language a client writes in: a restricted detector, telltale letters and words, then hints.

Short messages defeat every statistical detector ("hi", "Labas", "ок"), so the detector never
chooses freely among all languages for them: letters only one supported language has (ő, ā, õ,
ß, і), then words the catalogs list as typical of a language, and otherwise no guess at all, so
the caller keeps the language it knew (the client's, the channel's locale). Longer texts go to
py3langid restricted to the configured languages (offline; about 20 µs a text).
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import lru_cache

from router.text import strip_diacritics, transliterate

# Letters that, among the languages helpline detects, only one language writes.
UNIQUE_LETTERS = {
    "hu": "őű", "lv": "āēīģķļņ", "lt": "ėįų", "pl": "łńśźżć", "et": "õ", "de": "ß", "uk": "іїєґ", "ru": "ыэъё",
}
CYRILLIC_LANGUAGES = ("ru", "uk")
WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?", re.UNICODE)
LONG_ENOUGH_WORDS = 3  # from this many words on, the detector's guess is worth considering
SURE = 0.8  # a guess at least this sure replaces the language the dialogue had


@dataclass(frozen=True)
class Guess:
    language: str
    confidence: float
    how: str  # letters, detector, words


@lru_cache(maxsize=1)
def full_identifier():
    """py3langid's model among all its languages, read once per process (an lzma file: about 0.4 s of CPU)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


@lru_cache(maxsize=8)
def _identifier(languages: tuple[str, ...]):
    # A shallow copy: set_languages replaces the copy's arrays and never writes into the shared full model.
    identifier = copy.copy(full_identifier())
    identifier.set_languages(list(languages))
    return identifier


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u052f"


@lru_cache(maxsize=65536)
def _plain(word: str) -> str:
    """A word as the catalogs' typical words are compared: lower case, no diacritics, Latin letters."""
    return strip_diacritics(transliterate(word.lower()))


class LanguageDetector:
    """Guesses the language of one message among ``languages``; ``markers`` are typical words per language."""

    def __init__(self, languages: tuple[str, ...], markers: dict[str, list[str]] | None = None):
        self.languages = tuple(languages)
        self.markers = {lang: {_plain(w) for w in words} for lang, words in (markers or {}).items() if lang in languages}
        self.cyrillic = tuple(lang for lang in self.languages if lang in CYRILLIC_LANGUAGES)
        self.latin = tuple(lang for lang in self.languages if lang not in CYRILLIC_LANGUAGES)

    def warm_up(self) -> None:
        """Load the detector's model now (about 0.7 s) rather than on the first message."""
        for group in (self.cyrillic, self.latin):
            if len(group) > 1:
                _identifier(group)

    def detect(self, text: str, hints: tuple[str, ...] | list[str] = ()) -> Guess | None:
        """The language of ``text``, or None when it is too short or too ambiguous to tell.

        ``hints`` (the client's or the channel's language) settle short texts the letters and
        words leave open, within the text's script only.
        """
        words = WORD.findall(text)
        letters = [ch for w in words for ch in w]
        if len(letters) < 2:
            return None
        cyrillic = sum(1 for ch in letters if _is_cyrillic(ch)) > len(letters) / 2
        group = self.cyrillic if cyrillic else self.latin
        if not group:
            return None
        by_letters = self._by_letters(text.lower(), group)
        if by_letters:
            return by_letters
        # Typical words count in any script: romanized Russian ("spasibo") is Russian in Latin letters.
        by_words = self._by_words(words, self.languages)
        if len(words) < LONG_ENOUGH_WORDS:
            if by_words:
                return by_words
            hinted = [h for h in hints if h in group]
            if hinted:
                return Guess(hinted[0], 0.6, "hint")
            # Cyrillic with no telltale letter: the first configured Cyrillic language, weakly.
            return Guess(group[0], 0.5, "script") if cyrillic else None
        if len(group) == 1:
            return Guess(group[0], 0.9, "detector")
        language, probability = _identifier(group).classify(text)
        guess = Guess(str(language), float(probability), "detector")
        # Romanized Russian and chat slang mislead the detector; several typical words outvote a weak guess.
        if by_words and by_words.language != guess.language and (guess.confidence < 0.9 or by_words.confidence >= 0.9):
            return by_words
        return guess

    def _by_letters(self, lowered: str, group: tuple[str, ...]) -> Guess | None:
        hits = {lang: sum(lowered.count(ch) for ch in UNIQUE_LETTERS.get(lang, "")) for lang in group}
        best = max(hits, key=hits.get, default=None)
        if best is None or not hits[best]:
            return None
        if sum(1 for n in hits.values() if n) > 1:
            return None  # letters of two languages: a quote or a name, let the rest decide
        return Guess(best, 0.9, "letters")

    def _by_words(self, words: list[str], group: tuple[str, ...]) -> Guess | None:
        folded = [_plain(w) for w in words]
        hits = {lang: sum(1 for w in folded if w in self.markers.get(lang, ())) for lang in group}
        ranked = sorted(hits.items(), key=lambda kv: -kv[1])
        if not ranked or not ranked[0][1]:
            return None
        best, count = ranked[0]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0
        if count == runner_up:
            return None
        share = count / max(1, len(words))
        confidence = 0.9 if (count - runner_up >= 2 or (share >= 0.5 and runner_up == 0)) else 0.6
        return Guess(best, confidence, "words")


def choose_language(guess: Guess | None, current: str, hints: list[str], replies_in: set[str],
                    default: str) -> str:
    """The language to reply in: a sure guess wins, else the dialogue's language, else hints, else default.

    A guess the bot cannot reply in (no catalog) does not move the dialogue away from a language it can.
    """
    if guess and guess.language in replies_in and (guess.confidence >= SURE or not current):
        return guess.language
    if current:
        return current
    for hint in hints:
        if hint in replies_in:
            return hint
    return default if default in replies_in else "en"
