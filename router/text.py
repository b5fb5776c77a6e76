"""Text normalization for routing: one canonical view for rules, one folded view for the classifier.

Clients write the same request in many spellings: with or without diacritics, in Cyrillic or in
Latin transliteration, in capitals, with an order number or an amount that never repeats. Masking
those tokens and folding the spellings together lets a model trained on a few hundred examples
recognise messages it has never seen.
"""
from __future__ import annotations

import re
import unicodedata

# Northwind order numbers look like NW-483920; clients also write "nw 483920", "#483920".
_ORDER = re.compile(r"(?:\bnw[\s_#-]*|#)\d{4,10}\b", re.IGNORECASE)
_CURRENCY = r"(?:€|eur|euro|eiro|евро|huf|ft|forint|pln|zł|zl|złotych|usd|\$|грн|uah|руб|rub)"
# 1 250,50 / 1.250,50 / 1,250.50 / 49.99: groups of three after a separator, then at most 2 decimals.
_NUMBER = r"\d+(?:[ .,'\u00a0]\d{3})*(?:[.,]\d{1,2})?"
_AMOUNT = re.compile(rf"(?:{_CURRENCY}\s?{_NUMBER}|{_NUMBER}\s?{_CURRENCY}(?![a-z]))", re.IGNORECASE)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"\bhttps?://\S+|\bwww\.\S+", re.IGNORECASE)
_LONG_NUMBER = re.compile(r"\d{5,}")
_SPACE = re.compile(r"\s+")

# Placeholders are plain words, so the word and character features see them like any other word.
ORDER_TOKEN, AMOUNT_TOKEN, EMAIL_TOKEN, URL_TOKEN, NUMBER_TOKEN = (
    " zorder ", " zamount ", " zemail ", " zurl ", " znumber ")

# Russian and Ukrainian in Latin letters, the way clients type them ("gde moj zakaz").
_CYRILLIC = dict(zip(
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґў",
    ["a", "b", "v", "g", "d", "e", "e", "zh", "z", "i", "j", "k", "l", "m", "n", "o", "p", "r",
     "s", "t", "u", "f", "h", "c", "ch", "sh", "sch", "", "y", "", "e", "ju", "ja", "i", "ji",
     "je", "g", "u"]))
# Letters NFKD does not decompose into a base letter and a mark.
_EXTRA_FOLD = {"ß": "ss", "ł": "l", "ø": "o", "æ": "ae", "œ": "oe", "đ": "d", "ı": "i"}


def mask(text: str) -> str:
    """Replace order numbers, amounts, addresses and long numbers by placeholder words."""
    text = _URL.sub(URL_TOKEN, text)
    text = _EMAIL.sub(EMAIL_TOKEN, text)
    text = _ORDER.sub(ORDER_TOKEN, text)
    text = _AMOUNT.sub(AMOUNT_TOKEN, text)
    return _LONG_NUMBER.sub(NUMBER_TOKEN, text)


def normalize(text: str) -> str:
    """NFKC, lower case, masked, single spaces: the view keyword rules match against."""
    text = unicodedata.normalize("NFKC", text).lower()
    return _SPACE.sub(" ", mask(text)).strip()


def strip_diacritics(text: str) -> str:
    """Drop accents ("ā" -> "a", "ő" -> "o") and keep the base letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    out = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(_EXTRA_FOLD.get(c, c) for c in out)


def transliterate(text: str) -> str:
    """Write Cyrillic letters in Latin the way clients do when they have no Cyrillic keyboard."""
    return "".join(_CYRILLIC.get(c, c) for c in text)


def fold(text: str) -> str:
    """The classifier's view: normalized, without diacritics, Cyrillic transliterated."""
    # Transliterate before stripping: NFKD would turn "й" into "и" + a mark and lose the letter.
    return strip_diacritics(transliterate(normalize(text)))
