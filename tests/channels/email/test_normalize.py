"""normalize() over the .eml corpus: charsets, encodings, structure, noise, bounces, malformed mail."""
from __future__ import annotations

import pytest

from bot.email_config import EMAIL_TYPES
from channels.email.normalize import Limits, normalize
from tests.channels.email.conftest import FIXTURES, eml

LIMITS = Limits(allowed_types=EMAIL_TYPES)


def parse(name: str, **kw):
    return normalize(eml(name), limits=LIMITS, **kw)


def test_windows_1251_mail_with_an_attachment():
    mail = parse("win1251_attachment.eml")
    m = mail.message
    assert m.channel == "email" and m.user_id == m.chat_id == "ivan.petrov@example.ru"
    assert m.user_name == "Иван Петров" and m.subject == "Не пришёл заказ NW-104233"
    assert m.message_id == "20261208101500.4411@mail.example.ru"
    assert m.text.startswith("Здравствуйте!") and "чайник 3 декабря" in m.text
    [pdf] = m.attachments
    assert (pdf.filename, pdf.content_type) == ("Счёт NW-104233.pdf", "application/pdf")
    assert pdf.data.startswith(b"%PDF") and pdf.size == len(pdf.data)
    assert m.locale_hint == "ru" and m.explicit_threads and not m.automated
    assert m.raw == eml("win1251_attachment.eml")
    assert m.sent_at.utcoffset().total_seconds() == 0 and m.sent_at.hour == 7


@pytest.mark.parametrize("name, sender, name_, subject, phrase", [
    ("koi8r_8bit.eml", "olga@example.net", "Ольга", "Двойная оплата", "верните, пожалуйста, лишние 49,90 евро"),
    ("iso8859_2_qp.eml", "arpad@example.hu", "Kovács Árpád", "Sérült csomag - tükör", "a tükör összetört"),
    ("iso8859_13_base64.eml", "zydrune@example.lt", "Žydrūnė Kairytė", "Užsakymas vėluoja", "Ačiū, Žydrūnė"),
    ("mislabelled.eml", "juergen@example.de", "Jürgen Müller", "Вопрос по доставке", "Grüße aus München"),
    ("cp1251_labelled_ascii.eml", "petr@example.ru", "", "help", "Привет, где мой заказ?"),
    ("unknown_charset.eml", "someone@example.org", "", "Hello there", "café is closed"),
])
def test_charsets_as_declared_mislabelled_and_unknown(name, sender, name_, subject, phrase):
    m = parse(name).message
    assert (m.user_id, m.user_name, m.subject) == (sender, name_, subject)
    assert phrase in m.text


def test_plain_alternative_is_preferred_quotes_and_signature_fold_away():
    m = parse("alternative_gmail_reply.eml").message
    assert m.text == "Thanks, the parcel arrived today.\n\nAnna"
    assert m.folded_text.startswith("--\nAnna Client, Riga") and "> Your parcel is on its way." in m.folded_text
    assert "<blockquote>" in m.html and "gmail_quote" not in m.html  # sanitized: classes dropped
    assert m.references == ("hl.501.aaaa@northwind.example", "first.1@mail.example.com")
    assert m.ticket_number == 1042 and m.subject == "Your order NW-100777"


def test_outlook_top_posting_folds_the_original_message():
    m = parse("outlook_top_post.eml").message
    assert m.text == "I still have not received the refund."
    assert m.folded_text.startswith("-----Original Message-----")
    assert m.ticket_number == 1042 and m.subject == "Refund"


def test_hostile_html_is_text_for_the_console_and_sanitized_for_the_original():
    m = parse("html_only_hostile.eml").message
    assert "alert" not in m.text and "I need a refund <b>now</b>." in m.text
    for bad in ("<script", "onerror", "onload", "javascript:", "<iframe", "<form", "<img", "style=", "<svg", "alert("):
        assert bad not in m.html.lower()
    assert 'href="https://example.net/track?id=1"' in m.html and "noopener" in m.html


def test_inline_image_of_a_related_html_mail_is_stored():
    m = parse("related_inline_image.eml").message
    assert m.text == "See the photo:"
    [image] = m.attachments
    assert image.content_type == "image/png" and image.data.startswith(b"\x89PNG")


@pytest.mark.parametrize("name, reason", [
    ("out_of_office.eml", "Auto-Submitted"),
    ("precedence_bulk.eml", "Precedence: bulk"),
    ("dsn_delayed.eml", "null sender"),
    ("stdlib_msg_25.eml", "Auto-Submitted"),
])
def test_auto_replies_bulk_and_reports_are_automated(name, reason):
    mail = parse(name)
    assert mail.message.automated and reason in mail.automated_reason


def test_people_are_not_automated_and_a_contact_form_is_the_person_in_reply_to():
    assert not parse("alternative_gmail_reply.eml").message.automated
    form = parse("contact_form.eml")
    assert not form.message.automated
    assert (form.message.user_id, form.message.user_name) == ("maria.form@example.com", "Maria Form")


def test_a_delivery_status_report_names_our_message_and_the_reason():
    mail = parse("dsn_failed.eml")
    assert mail.message.automated
    report = mail.report
    assert report.original_id == "hl.502.bbbb@northwind.example" and report.report_id == "dsn.13@mx.example.com"
    assert report.reason.startswith("Bounced: 550 5.1.1 <nobody@example.com>: Recipient address rejected")
    assert "(nobody@example.com)" in report.reason


def test_a_delayed_report_is_no_failure():
    assert parse("dsn_delayed.eml").report is None


@pytest.mark.parametrize("name, original", [
    ("stdlib_msg_16.eml", "002001c144a6$8752e060$56104586@oxy.edu"),
    ("stdlib_msg_43.eml", "edab.7804f5cb8070@python.org"),
])
def test_the_standard_librarys_reports(name, original):
    mail = parse(name)
    assert mail.report is not None and mail.report.original_id == original


def test_mail_without_a_message_id_gets_a_stable_synthetic_one():
    first, again = parse("no_message_id.eml").message, parse("no_message_id.eml").message
    assert first.message_id == again.message_id and first.message_id.endswith("@helpline.invalid")
    other = normalize(eml("no_message_id.eml").replace(b"very old", b"really old"), limits=LIMITS).message
    assert other.message_id != first.message_id


def test_broken_encodings_and_nul_bytes_are_stored_safely():
    m = parse("broken_base64.eml").message
    assert "Second part with a bad escape" in m.text
    nul = parse("nul_bytes.eml").message
    assert "\x00" not in nul.text + nul.subject and "\x07" not in nul.text
    assert nul.text == "Text with a NUL byte and  bell."


def test_files_of_other_types_are_left_out_and_said_so_and_names_are_made_safe():
    m = parse("forward_and_exe.eml").message
    names = [a.filename for a in m.attachments]
    assert names == ["forwarded-1.eml", "passwd.pdf"]
    assert "Not kept: setup.exe (application/x-msdownload, 1 KB): this type of file is not accepted." in m.text


def test_a_file_over_the_limit_is_left_out():
    m = normalize(eml("win1251_attachment.eml"), limits=Limits(max_attachment_bytes=10, allowed_types=EMAIL_TYPES)).message
    assert m.attachments == () and "larger than" in m.text


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("stdlib_*.eml")))
def test_the_standard_librarys_test_messages_normalize(name):
    m = parse(name).message
    assert m.text and m.message_id and "@" in m.user_id


def test_broken_boundaries_keep_the_text():
    assert parse("stdlib_msg_41.eml").message.text == "Blah blah blah"
    assert "Some removed test." in parse("stdlib_msg_15.eml").message.text


def test_a_forward_as_the_whole_mail_shows_the_forwarded_text():
    assert "Testing email forwarding" in parse("stdlib_msg_46.eml").message.text


def test_deeply_nested_multiparts_are_bounded():
    depth = 3000
    head = b"From: deep@example.com\r\nMessage-ID: <deep@example.com>\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    parts = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    raw = head + parts + b"Content-Type: text/plain\r\n\r\ninnermost\r\n"
    m = normalize(raw, limits=LIMITS).message
    assert m.message_id == "deep@example.com" and m.text
    assert "nested too deeply" in m.text or "too many parts" in m.text


def test_huge_part_counts_are_bounded():
    parts = b"".join(b"--b\r\nContent-Type: text/plain\r\n\r\npart %d\r\n" % i for i in range(5000))
    raw = (b"From: many@example.com\r\nMessage-ID: <many@example.com>\r\nMIME-Version: 1.0\r\n"
           b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n")
    m = normalize(raw, limits=LIMITS).message
    assert "too many parts" in m.text and len(m.text) <= 100_000


def test_headers_only_garbage_does_not_raise():
    for raw in (b"", b"\x00\xff\xfe garbage", b"Subject: =?utf-8?B?!!!?=\r\n\r\n", b"From: <<<>>>\r\n\r\nx",
                b"Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n--\r\n"):
        m = normalize(raw, limits=LIMITS).message
        assert m.message_id and m.user_id
