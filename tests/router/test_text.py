"""Normalization: masked order numbers and amounts, folded diacritics and Cyrillic."""
from router.text import fold, normalize, strip_diacritics, transliterate


def test_order_numbers_and_amounts_are_masked():
    text = normalize("Order NW-483920 / nw 12345: paid 1 250,50 EUR and €49.99, 15 000 Ft, 120 zł")
    assert "483920" not in text and "12345" not in text
    assert text.count("zorder") == 2
    assert text.count("zamount") == 4


def test_addresses_and_links_are_masked():
    assert normalize("write to jane.doe@example.com or see https://shop.example/x?y=1") == \
        "write to zemail or see zurl"


def test_normalize_is_nfkc_lowercase_single_spaced():
    assert normalize("  ＷＨＥＲＥ   is\nMY\tparcel ") == "where is my parcel"


def test_fold_strips_diacritics_and_transliterates():
    assert strip_diacritics("Kur ir mans sūtījums? Größe, köszönöm, łódź") == "Kur ir mans sutijums? Grosse, koszonom, lodz"
    assert transliterate("где мой заказ") == "gde moj zakaz"
    assert fold("ГДЕ МОЙ ЗАКАЗ?") == fold("gde moj zakaz?") == "gde moj zakaz?"
