"""Outbound text: HTML escaping, splitting at 4096 UTF-16 units in order, keyboards within 64 bytes."""
from __future__ import annotations

import pytest

from bot.domain import Attachment, OutboundMessage
from channels.telegram.compose import callback_data, choice_for, keyboard, split_text, to_html, utf16_len
from channels.telegram.sender import parts_of
from tests.fakes.telegram_api import visible_text


def test_html_escaping_round_trips_through_telegrams_parser():
    text = 'if a < b && c > d then <b>bold</b> & "quotes" \'too\' &amp; &#169; <script>alert(1)</script>'
    assert visible_text(to_html(text)) == text


def test_a_short_text_is_one_part():
    assert split_text("hello") == ["hello"]
    assert split_text("") == [""]


def test_ten_thousand_characters_split_in_order_at_paragraphs():
    paragraphs = [f"Paragraph {i}: " + "word " * 180 for i in range(12)]
    text = "\n\n".join(paragraphs)
    parts = split_text(text)
    assert len(text) > 10_000 and len(parts) == 3
    assert "".join(parts) == text
    assert all(utf16_len(p) <= 4096 for p in parts)
    assert all(p.endswith("\n\n") for p in parts[:-1])  # cut at paragraph breaks


def test_astral_characters_count_two_units_and_are_never_cut_in_half():
    text = "😀" * 3000  # 6000 UTF-16 units, no spaces to cut at
    parts = split_text(text)
    assert "".join(parts) == text and [utf16_len(p) for p in parts] == [4096, 1904]


def test_cuts_prefer_lines_then_sentences_then_words():
    lines = "\n".join("line %d " % i + "x" * 90 for i in range(60))
    assert all(p.endswith("\n") for p in split_text(lines)[:-1])
    sentences = " ".join("Sentence number %d is here." % i for i in range(300))
    assert all(p.endswith(". ") for p in split_text(sentences)[:-1])
    words = " ".join("word" for _ in range(2000))
    parts = split_text(words)
    assert "".join(parts) == words and all(p.endswith(" ") for p in parts[:-1])


@pytest.mark.parametrize("choice", ["Yes", "★★★★★", "a" * 64, "ā" * 32, "ā" * 33, "x" * 300, "#hashtag"])
def test_callback_data_fits_64_bytes_and_maps_back_to_the_choice(choice):
    data = callback_data(choice)
    assert 1 <= len(data.encode("utf-8")) <= 64
    markup = {"inline_keyboard": keyboard([choice, "Other"])}
    assert choice_for(data, markup) == choice


def test_ratings_share_a_row_and_longer_choices_get_one_each():
    assert keyboard(["1", "2", "3", "4", "5"]) == [[{"text": str(i), "callback_data": str(i)} for i in range(1, 6)]]
    assert len(keyboard(["Talk to a person", "Track my order"])) == 2


def test_a_digest_not_on_the_keyboard_is_no_choice():
    assert choice_for("#" + "0" * 40, {"inline_keyboard": []}) == ""
    assert choice_for("plain", None) == "plain"


def test_message_parts_text_then_files_with_the_keyboard_on_the_last_text():
    message = OutboundMessage(channel="telegram", chat_id="1", text="a <b>" + "x " * 3000, message_id=7,
                              ticket_public_id="t", choices=("Yes", "No"),
                              attachments=(Attachment("a.png", "image/png", 3, id=11), Attachment("b.pdf", "application/pdf", 3, id=12)))
    parts = parts_of(message)
    assert [bool(p.attachment) for p in parts] == [False, False, True, True]
    assert parts[0].text.startswith("a &lt;b&gt;") and parts[0].keyboard is None
    assert parts[1].keyboard == [[{"text": "Yes", "callback_data": "Yes"}, {"text": "No", "callback_data": "No"}]]
