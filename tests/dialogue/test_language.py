"""Language detection on short texts: letters, typical words, hints; the detector only for longer texts."""
from __future__ import annotations

import pytest

from bot.dialogue.i18n import default_catalogs
from bot.dialogue.language import Guess, LanguageDetector, choose_language

LANGUAGES = ("en", "ru", "uk", "hu", "lv", "lt", "et", "de", "pl")


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    markers = {lang: t.own_words("markers") for lang, t in default_catalogs().translators.items()}
    return LanguageDetector(LANGUAGES, markers)


@pytest.mark.parametrize("text, language", [
    ("Mennyi idő alatt érkezik meg a csomagom?", "hu"),
    ("Kur ir mans pasūtījums? Jau nedēļu gaidu.", "lv"),
    ("Where is my order? I have been waiting a week.", "en"),
    ("Где мой заказ? Жду уже неделю.", "ru"),
    ("Де моє замовлення? Чекаю вже тиждень.", "uk"),
    ("Wo ist meine Bestellung? Ich warte seit einer Woche.", "de"),
    ("gde moj zakaz? zhdu uzhe nedelju", "ru"),  # romanized Russian: typical words outvote the detector
    ("Köszönöm", "hu"),  # one word: ö is shared with de, et; the catalog's typical words decide
    ("Paldies", "lv"),
    ("Дякую", "uk"),
    ("Spasibo", "ru"),
])
def test_detects_the_language(detector, text, language):
    guess = detector.detect(text)
    assert guess is not None and guess.language == language, guess


@pytest.mark.parametrize("text", ["ok", "👍", "NW-123456", "?", "Labas"])
def test_short_ambiguous_texts_get_no_guess(detector, text):
    """One word without a telltale letter or a typical word: no guess, the dialogue keeps its language."""
    guess = detector.detect(text)
    assert guess is None or guess.confidence < 0.8


def test_a_hint_settles_a_short_text_within_its_script(detector):
    assert detector.detect("ок", hints=("uk",)).language == "uk"
    assert detector.detect("ок", hints=("en",)).language == "ru"  # a Latin hint says nothing about Cyrillic
    assert detector.detect("ok", hints=("lv",)).language == "lv"


def test_unique_letters_decide_short_texts(detector):
    assert detector.detect("Szőnyeg").language == "hu"
    assert detector.detect("Mēbeles").language == "lv"
    assert detector.detect("Straße").language == "de"
    assert detector.detect("Привіт").language == "uk"


def test_choose_language_keeps_the_dialogue_unless_sure():
    replies = {"en", "ru", "hu", "lv"}
    assert choose_language(Guess("hu", 0.95, "detector"), "en", [], replies, "en") == "hu"
    assert choose_language(Guess("hu", 0.6, "words"), "en", [], replies, "en") == "en"
    assert choose_language(Guess("hu", 0.6, "words"), "", [], replies, "en") == "hu"
    assert choose_language(None, "", ["lv", "en"], replies, "en") == "lv"
    # A language without a catalog never replaces one the bot can reply in.
    assert choose_language(Guess("lt", 0.99, "detector"), "", ["lv"], replies, "en") == "lv"
    assert choose_language(None, "", ["xx"], replies, "de") == "en"
