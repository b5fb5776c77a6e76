"""Text checks on client words, as pure functions: complaint words, categories, themes, masking of personal data."""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from router.rules import keyword_pattern
from router.text import fold

SCORE = re.compile(r"\s*([1-5])\s*(?:/\s*5|[*\u2605\u2b50\ufe0f]+)?\s*")


def parse_score(*candidates: str) -> int | None:
    """A score 1-5 from a button payload or a reply that is just the number ("4", "4/5", "4*")."""
    for value in candidates:
        match = SCORE.fullmatch(value or "")
        if match:
            return int(match.group(1))
    return None


def _pattern(words: tuple[str, ...]) -> re.Pattern | None:
    words = tuple(w for w in words if w.strip("* "))
    return keyword_pattern(words) if words else None


@lru_cache(maxsize=64)
def _table_pattern(items: tuple[tuple[str, tuple[str, ...]], ...]) -> re.Pattern | None:
    # Every language's words at once: a comment's language is often guessed wrong, a word is not.
    return _pattern(tuple(w for _, words in items for w in words))


def _key(table: dict[str, tuple[str, ...]]) -> tuple:
    return tuple(sorted((lang, tuple(words)) for lang, words in table.items()))


def has_words(text: str, table: dict[str, tuple[str, ...]]) -> bool:
    """Whether any of the words (of any language in the table) occurs in the text."""
    pattern = _table_pattern(_key(table))
    return bool(text and pattern and pattern.search(fold(text)))


def guess_category(text: str, category_keywords: dict[str, dict[str, tuple[str, ...]]], categories: tuple[str, ...]) -> str:
    """The first configured category whose words occur in the text; the last category ("other") otherwise."""
    folded = fold(text or "")
    for name, table in category_keywords.items():
        pattern = _table_pattern(_key(table))
        if name in categories and pattern and pattern.search(folded):
            return name
    return "other" if "other" in categories else categories[-1]


@dataclass(frozen=True)
class Masker:
    """Replaces personal data (emails, card, order and phone numbers; configurable) by [email], [card] ..."""

    patterns: tuple[tuple[str, re.Pattern], ...]

    @classmethod
    def of(cls, masks: dict[str, str]) -> "Masker":
        return cls(tuple((name, re.compile(pattern)) for name, pattern in masks.items()))

    def __call__(self, text: str) -> str:
        for name, pattern in self.patterns:
            text = pattern.sub(f"[{name}]", text)
        return text


def quote(text: str, masker: Masker, limit: int = 200) -> str:
    """A short, masked, one-line quote of what a client wrote."""
    one_line = " ".join(masker(text or "").split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1].rstrip() + "…"
