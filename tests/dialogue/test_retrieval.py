"""FAQ retrieval on the demo knowledge base: typos, inflections, transliteration, other languages, declines."""
from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.knowledge import KnowledgeBase, load_knowledge_base, markdown_to_text, parse_article
from bot.dialogue.retrieval import FaqIndex, stem
from bot.errors import ConfigError
from tests.dialogue.conftest import DEMO_KB

THRESHOLD = 0.3


@pytest.fixture(scope="module")
def index() -> FaqIndex:
    return FaqIndex(load_knowledge_base(DEMO_KB))


def top(index: FaqIndex, text: str, language: str):
    hits = index.search(text, language)
    return hits[0] if hits and hits[0].score >= THRESHOLD else None


@pytest.mark.parametrize("text, language, article", [
    ("How long does shipping to Hungary take?", "en", "delivery-time"),
    ("how do i retrun a chair", "en", "returns"),  # a typo one edit away
    ("Сколько дней идёт доставка в Литву?", "ru", "delivery-time"),
    ("доставку бесплатно делаете от какой суммы?", "ru", "delivery-cost"),  # inflected forms
    ("gde moj zakaz", "ru", "order-tracking"),  # transliterated Russian
    ("mennyi ido a szallitas", "hu", "delivery-time"),  # Hungarian without accents
    ("Hány nap alatt érkezik meg a csomag?", "hu", "delivery-time"),
    ("szeretném visszaküldeni a lámpát", "hu", "returns"),
    ("kur ir mans pasutijums", "lv", "order-tracking"),  # Latvian without diacritics
    ("aizmirsu paroli un nevaru ielogoties", "lv", "password-reset"),
    ("Wie lange dauert die Lieferung?", "de", "delivery-time"),  # no German article: concepts bridge
    ("нам нужно 30 столов для офиса, дайте коммерческое предложение", "ru", "business-quotes"),  # English-only article
])
def test_finds_the_article(index, text, language, article):
    hit = top(index, text, language)
    assert hit is not None and hit.article_id == article, index.search(text, language)


@pytest.mark.parametrize("text, language", [
    ("Do you sell used cars?", "en"),
    ("какая завтра погода в Риге?", "ru"),
    ("milyen idő lesz holnap Budapesten?", "hu"),
    ("kaimiņu suns visu nakti rej", "lv"),
    ("", "en"),
])
def test_declines_what_it_does_not_know(index, text, language):
    assert top(index, text, language) is None


def test_stemming_per_language():
    assert stem("доставки", "ru") == stem("доставку", "ru")
    assert stem("pasūtījumu", "lv") == stem("pasūtījums", "lv")
    assert stem("szállításról", "hu") == stem("szállítás", "hu")
    assert stem("word", "xx") == "word"


def test_article_parsing_and_plain_text():
    article = parse_article("a", "en", "---\nqueue: delivery\nkeywords: one, two\n---\n# Title\n\n**Bold** and [link](https://x.example)\n- item\n")
    assert (article.title, article.queue, article.keywords) == ("Title", "delivery", ("one", "two"))
    assert article.as_text() == "Title\n\nBold and link (https://x.example)\n• item"
    assert markdown_to_text("## Heading\n_em_ `code`") == "Heading\nem code"
    assert parse_article("b", "en", "no heading").title == "b"


def test_knowledge_base_loading(tmp_path: Path):
    with pytest.raises(ConfigError):
        load_knowledge_base(tmp_path / "missing")
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "ok.md").write_text("# Fine\n\nBody", encoding="utf-8")
    (tmp_path / "en" / "Bad Name.md").write_text("# Skipped", encoding="utf-8")
    (tmp_path / "en" / "binary.md").write_bytes(b"\xff\xfe\x00")
    (tmp_path / "notalanguage").mkdir()
    kb = load_knowledge_base(tmp_path)
    assert [a.id for a in kb.articles] == ["ok"]
    (tmp_path / "concepts.toml").write_text("[concepts]\nx = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_knowledge_base(tmp_path)


def test_an_empty_knowledge_base_answers_nothing():
    assert FaqIndex(KnowledgeBase((), {})).search("where is my order", "en") == []
