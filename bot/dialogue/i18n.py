"""Translation catalogs: gettext .po files read through Babel, one per language, English filling gaps.

Adding a language is adding ``bot/locale/<lang>/LC_MESSAGES/helpline.po``; no code changes. The
.po files are read directly (no compiled .mo to keep in step). Word lists the bot recognises
(hand-off words, yes/no, greetings) live in the catalogs too, under the message context
``words``, as ``|``-separated alternatives; a trailing ``*`` matches the start of a word.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from babel import Locale, UnknownLocaleError
from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

logger = logging.getLogger(__name__)
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "helpline"
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
SOURCE_LANGUAGE = "en"
WORDS = "words"
# Word lists each catalog may give: what asks for a person, answers yes/no/skip, greets, names the
# language (to switch to it), and short words typical of the language (for short messages).
WORD_LISTS = ("handoff", "yes", "no", "skip", "greeting", "language", "markers")


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _entries(catalog: Catalog) -> dict[tuple[str | None, str], str]:
    entries = {}
    for message in catalog:
        if not message.id or isinstance(message.id, tuple):
            continue
        if message.string and not message.fuzzy:
            entries[(message.context, message.id)] = message.string
    return entries


@dataclass
class Translator:
    """The texts of one language; a missing text falls back to English, then to the msgid itself."""

    language: str
    entries: dict[tuple[str | None, str], str]
    fallback: "Translator | None" = None

    def gettext(self, message: str, **values) -> str:
        text = self._lookup(None, message)
        return text.format(**values) if values else text

    def pgettext(self, context: str, message: str) -> str:
        return self._lookup(context, message)

    def words(self, key: str) -> list[str]:
        """A word list of this language (context ``words``); English's when this catalog lacks it."""
        text = self.entries.get((WORDS, key))
        if text is None:
            return self.fallback.words(key) if self.fallback else []
        return [w.strip() for w in text.split("|") if w.strip()]

    def own_words(self, key: str) -> list[str]:
        """This catalog's own word list, with no fallback (for telling languages apart)."""
        text = self.entries.get((WORDS, key), "")
        return [w.strip() for w in text.split("|") if w.strip()]

    def _lookup(self, context: str | None, message: str) -> str:
        text = self.entries.get((context, message))
        if text is not None:
            return text
        return self.fallback._lookup(context, message) if self.fallback else message


@dataclass
class Catalogs:
    """Every catalog in a locale folder, keyed by language code."""

    translators: dict[str, Translator] = field(default_factory=dict)

    @classmethod
    def load(cls, folder: Path = LOCALE_DIR) -> "Catalogs":
        found = {}
        for path in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
            language = path.parent.parent.name
            found[language] = _entries(read_catalog(path))
        source = Translator(SOURCE_LANGUAGE, found.get(SOURCE_LANGUAGE, {}))
        translators = {SOURCE_LANGUAGE: source}
        for language, entries in found.items():
            if language != SOURCE_LANGUAGE:
                translators[language] = Translator(language, entries, source)
        return cls(translators)

    @property
    def languages(self) -> list[str]:
        return sorted(self.translators)

    def get(self, language: str) -> Translator:
        return self.translators.get(language) or self.translators[SOURCE_LANGUAGE]

    def has(self, language: str) -> bool:
        return language in self.translators


@lru_cache(maxsize=1)
def default_catalogs() -> Catalogs:
    """The catalogs shipped with helpline, read once per process."""
    return Catalogs.load()


def language_name(code: str, in_language: str) -> str:
    """The name of a language in another one ("Latvian", "латышский"), from CLDR via Babel."""
    try:
        name = Locale.parse(code).get_display_name(Locale.parse(in_language))
    except (UnknownLocaleError, ValueError, TypeError):
        return code
    return name or code


@dataclass(frozen=True)
class Gap:
    language: str
    kind: str  # missing, untranslated, fuzzy, obsolete
    context: str | None
    message: str


def check_catalogs(folder: Path = LOCALE_DIR, template: Path = TEMPLATE) -> list[Gap]:
    """Every text of the template that a catalog lacks, leaves empty or marks fuzzy, and texts it has in excess."""
    wanted = {(m.context, m.id) for m in read_catalog(template) if m.id and not isinstance(m.id, tuple)}
    gaps: list[Gap] = []
    for path in sorted(folder.glob(f"*/LC_MESSAGES/{DOMAIN}.po")):
        language = path.parent.parent.name
        catalog = read_catalog(path)
        have = {}
        for m in catalog:
            if m.id and not isinstance(m.id, tuple):
                have[(m.context, m.id)] = m
        for key in sorted(wanted, key=lambda k: (k[0] or "", k[1])):
            message = have.get(key)
            if message is None:
                gaps.append(Gap(language, "missing", *key))
            elif not message.string:
                gaps.append(Gap(language, "untranslated", *key))
            elif message.fuzzy:
                gaps.append(Gap(language, "fuzzy", *key))
        for key in sorted(set(have) - wanted, key=lambda k: (k[0] or "", k[1])):
            gaps.append(Gap(language, "obsolete", *key))
    return gaps
