"""Property tests for the email parsers: any bytes as a mail are stored safely, never an escaping exception.

channels/email/normalize.normalize promises to be total: a mail it cannot parse is kept as raw
text with a note saying why. These tests feed it random bytes, random MIME trees with hostile
headers, names and charsets, and MIME bombs, and check that what comes out is storable and
within the configured limits.
"""
from __future__ import annotations

import base64
import time
from datetime import datetime, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email import headers
from channels.email.charsets import decode
from channels.email.normalize import MAX_TEXT, Limits, normalize
from channels.email.quotes import fold
from tests.security.test_properties import HOSTILE, assert_inbound_storable, assert_storable

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
LIMITS = Limits(max_attachment_bytes=64 * 1024, max_attachments=5, max_parts=50, max_depth=6)
hostile_bytes = st.one_of(st.binary(max_size=200), st.sampled_from(HOSTILE).map(lambda s: s.encode("utf-8", "surrogatepass")))
header_values = st.one_of(st.text(max_size=80), st.sampled_from(HOSTILE), st.sampled_from(
    ["=?utf-8?B?PHNjcmlwdD4=?=", "=?x-unknown?Q?=00=FF?=", "=?utf-8?Q?a=00b?=", "<a@b> <c@d>", "\"<x>\" <@>",
     "=?koi8-r?B?8NLJ18XU?=", "Re: [#1001] hi", "; charset=\"", "(((((", "<" * 50]))
charsets = st.sampled_from(["utf-8", "koi8-r", "windows-1251", "iso-8859-2", "utf-16", "x-unknown", "", "utf-7",
                            "\"; x=1", "utf-8\x00"])
encodings = st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "bogus"])


@st.composite
def leaf(draw) -> bytes:
    ctype = draw(st.sampled_from(["text/plain", "text/html", "image/png", "image/svg+xml", "application/octet-stream",
                                  "message/rfc822", "message/delivery-status", "text/x-weird", "application/pdf"]))
    encoding = draw(encodings)
    body = draw(hostile_bytes)
    if encoding == "base64" and draw(st.booleans()):
        body = base64.encodebytes(body)
    name = draw(st.one_of(st.none(), header_values, st.sampled_from(["../../etc/passwd", "..", "a\r\nb.png", "x.svg"])))
    lines = [f"Content-Type: {ctype}; charset={draw(charsets)}", f"Content-Transfer-Encoding: {encoding}"]
    if name is not None:
        lines.append(f"Content-Disposition: {draw(st.sampled_from(['attachment', 'inline', '']))}; filename=\"{name}\"")
    return ("\r\n".join(lines)).encode("utf-8", "surrogatepass") + b"\r\n\r\n" + body


def multipart(kids: list[bytes], subtype: str, boundary: str) -> bytes:
    head = f"Content-Type: multipart/{subtype}; boundary=\"{boundary}\"\r\n\r\n".encode()
    return head + b"".join(b"--" + boundary.encode() + b"\r\n" + k + b"\r\n" for k in kids) + b"--" + boundary.encode() + b"--\r\n"


trees = st.recursive(leaf(), lambda inner: st.builds(
    multipart, st.lists(inner, max_size=4), st.sampled_from(["mixed", "alternative", "related", "report"]),
    st.sampled_from(["b1", "b2", "", "\"", "=_x"])), max_leaves=12)


@st.composite
def mails(draw) -> bytes:
    head = [f"{name}: {draw(header_values)}" for name in
            draw(st.lists(st.sampled_from(["From", "Subject", "Message-ID", "In-Reply-To", "References", "Reply-To",
                                           "Date", "Content-Language", "Auto-Submitted", "Sender"]), max_size=8))]
    return "\r\n".join(head).encode("utf-8", "surrogatepass") + b"\r\n" + draw(trees)


def check_mail(raw: bytes) -> None:
    mail = normalize(raw, limits=LIMITS, received_at=NOW, envelope_from="visitor@example.com")
    message = mail.message
    assert_inbound_storable(message)
    assert message.text and len(message.text) <= MAX_TEXT
    assert len(message.attachments) <= LIMITS.max_attachments
    assert all(0 < len(a.data) <= LIMITS.max_attachment_bytes and a.content_type in LIMITS.allowed_types
               for a in message.attachments)
    assert message.raw == raw  # the original is kept as received


@settings(max_examples=300)
@given(raw=st.binary(max_size=2000))
def test_any_bytes_are_stored_as_a_mail(raw):
    check_mail(raw)


@settings(max_examples=300)
@given(raw=mails())
def test_any_mime_tree_with_hostile_headers_is_stored_safely(raw):
    check_mail(raw)


@settings(max_examples=300)
@given(data=st.binary(max_size=300), label=st.one_of(st.none(), charsets, st.text(max_size=20)))
def test_decode_any_bytes_in_any_declared_charset(data, label):
    assert_storable(headers.clean(decode(data, label)))


@settings(max_examples=200)
@given(body=st.text(alphabet=st.characters(codec="utf-8", exclude_characters="\ufffd"), min_size=1, max_size=200)
       .filter(lambda t: sum(ord(c) > 127 for c in t) >= 8), stray=st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82"]))
def test_utf8_with_a_stray_byte_stays_utf8(body, stray):
    assert decode(body.encode() + stray, "utf-8") == body + "\ufffd"
    assert decode(body.encode() + stray) == body + "\ufffd"


@settings(max_examples=300)
@given(value=header_values)
def test_header_words_decode_to_clean_text(value):
    assert_storable(headers.clean(headers.decode_words(value)))
    for message_id in headers.message_ids(value):
        assert message_id and "\x00" not in message_id


@settings(max_examples=300)
@given(body=st.lists(st.one_of(st.text(max_size=40), st.sampled_from(["> quoted", "-- ", "On Mon, x wrote:",
                                                                     "Sent from my iPhone", "", "-----Original Message-----"])),
                     max_size=12).map("\n".join))
def test_fold_loses_no_words(body):
    new, folded = fold(body)
    assert new.split() + folded.split() == body.split() or new == body.strip()


# --- MIME bombs: refused or stored within the limits, fast --------------------------------------

def test_deep_nesting_is_cut_at_the_configured_depth():
    raw = b"From: a@example.com\r\nSubject: nest\r\n"
    for depth in range(400):
        raw = raw + f"Content-Type: multipart/mixed; boundary=\"n{depth}\"\r\n\r\n--n{depth}\r\n".encode()
    raw += b"Content-Type: text/plain\r\n\r\ndeep inside\r\n"
    started = time.perf_counter()
    check_mail(raw)
    message = normalize(raw, limits=LIMITS, received_at=NOW).message
    assert "nested too deeply" in message.text or "stored as raw text" in message.text
    assert time.perf_counter() - started < 30  # a bound against hangs, not a speed measurement


def test_thousands_of_parts_are_refused_with_a_note():
    parts = [b"Content-Type: text/plain\r\n\r\npart %d" % i for i in range(5000)]
    raw = b"From: a@example.com\r\nSubject: many\r\n" + multipart(parts, "mixed", "p")
    message = normalize(raw, limits=LIMITS, received_at=NOW).message
    assert_inbound_storable(message)
    assert "too many parts" in message.text or f"more than {LIMITS.max_parts} parts" in message.text
    assert len(message.text) <= MAX_TEXT


def test_many_attachments_keep_only_the_allowed_number():
    png = base64.encodebytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 16)
    parts = [b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\nContent-Disposition: attachment; "
             b"filename=\"../p%d.png\"\r\n\r\n" % i + png for i in range(40)]
    message = normalize(b"From: a@example.com\r\n" + multipart(parts, "mixed", "p"), limits=LIMITS, received_at=NOW).message
    assert len(message.attachments) == LIMITS.max_attachments
    assert [a.filename for a in message.attachments][:2] == ["p0.png", "p1.png"]
    assert message.text.count("more than 5 files in one email") == 40 - LIMITS.max_attachments


def test_a_huge_base64_part_is_left_out_and_said_so():
    big = base64.encodebytes(b"\x89PNG\r\n\x1a\n" + b"\xff" * (3 * 1024 * 1024))
    raw = (b"From: a@example.com\r\nSubject: big\r\n" + multipart(
        [b"Content-Type: text/plain\r\n\r\nsee attached",
         b"Content-Type: image/png; size=99999999999\r\nContent-Transfer-Encoding: base64\r\n"
         b"Content-Disposition: attachment; filename=\"big.png\"; size=99999999999\r\n\r\n" + big], "mixed", "b"))
    message = normalize(raw, limits=LIMITS, received_at=NOW).message
    assert message.attachments == ()
    assert "big.png (3.0 MB): larger than 64 KB." in message.text
    assert message.text.startswith("see attached")


def test_a_1mb_text_mail_is_stored_bounded_with_the_original_kept():
    raw = b"From: a@example.com\r\nSubject: long\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + \
        ("<script>hl()</script> ünïcode \x00 " * 40_000).encode("utf-8")[:1_000_000]
    message = normalize(raw, limits=LIMITS, received_at=NOW).message
    assert_inbound_storable(message)
    assert 50_000 < len(message.text) <= MAX_TEXT and message.text.startswith("<script>hl()</script> ünïcode")
    assert message.raw == raw
