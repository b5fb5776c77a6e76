"""Recognising short answers: word lists from the catalogs, matched on folded text.

Folding (router.text.fold) drops case and diacritics and writes Cyrillic in Latin letters, so
"cilvēks", "cilveks" and "CILVĒKS" are one word, and "оператор" also matches "operator".
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from router.text import fold as _fold

SHORT_MESSAGE_WORDS = 6  # a single hand-off word counts only in a message this short


@lru_cache(maxsize=256)
def fold(text: str) -> str:
    """router.text.fold, remembered: one dialogue step checks the same message against many word lists."""
    return _fold(text)


@lru_cache(maxsize=256)
def _bare(text: str) -> str:
    """The folded message without punctuation, single-spaced (what ``is_whole`` matches)."""
    return " ".join(re.sub(r"[^\w\s]", " ", fold(text)).split())


def _part(part: str) -> str:
    prefix = part.endswith("*")
    folded = _fold(part.rstrip("*")).strip()
    return re.escape(folded) + (r"\w*" if prefix else r"\b")


def _pattern(word: str) -> str:
    """Each word of a phrase may end in "*" ("коммерческ* предложени*")."""
    return r"\b" + r"\s+".join(_part(part) for part in word.split())


class WordList:
    """Words and phrases (a trailing ``*`` matches word beginnings), matched on folded text."""

    def __init__(self, words: Iterable[str]):
        cleaned = sorted({" ".join(w.split()) for w in words if _fold(w.replace("*", "")).strip()}, key=len, reverse=True)
        self.words = cleaned
        self.phrases = [w for w in cleaned if len(w.split()) > 1]
        self._any = re.compile("|".join(_pattern(w) for w in cleaned)) if cleaned else None
        self._phrase = re.compile("|".join(_pattern(w) for w in self.phrases)) if self.phrases else None
        self._whole = re.compile(rf"^(?:{'|'.join(_pattern(w) for w in cleaned)})(?:\s+|$)+$") if cleaned else None

    def __bool__(self) -> bool:
        return bool(self.words)

    def found_in(self, text: str, *, max_words: int = SHORT_MESSAGE_WORDS) -> bool:
        """A phrase anywhere, or any word in a short message ("operator please", not a long story)."""
        return self.found_in_folded(fold(text), max_words=max_words)

    def found_in_folded(self, folded: str, *, max_words: int = SHORT_MESSAGE_WORDS) -> bool:
        """As ``found_in``, for text already folded (many lists checked against one text)."""
        if self._any is None:
            return False
        if self._phrase is not None and self._phrase.search(folded):
            return True
        return len(folded.split()) <= max_words and bool(self._any.search(folded))

    def is_whole(self, text: str) -> bool:
        """The message says only these words (punctuation aside): "yes", "Igen!", "да, спасибо"."""
        if self._whole is None:
            return False
        folded = _bare(text)
        return bool(folded) and bool(self._whole.match(folded))
