"""Long mails of many small pieces: normalize reads each line and each tag a bounded number of times.

Scenario: a sender posts a body of tens of thousands of quoted lines (or of short HTML
paragraphs). Folding used to ask, at every quoted line, whether only quotes followed, reading the
rest of the mail each time; the HTML-to-text conversion re-joined all the text so far at every
block tag. Either mail held a receiving worker (and the GIL every other connection needs) for
minutes. The suite's per-test timeout is what fails if that comes back; the asserts check that
the long mail still reads as it should.
"""
from __future__ import annotations

from email.message import EmailMessage

from bot.email_config import EMAIL_TYPES
from channels.email.normalize import Limits, normalize

LIMITS = Limits(allowed_types=EMAIL_TYPES)


def _mail(body: str, subtype: str = "plain") -> bytes:
    mail = EmailMessage()
    mail["From"] = "Mallory <mallory@example.org>"
    mail["To"] = "support@northwind.example"
    mail["Subject"] = "long"
    mail["Message-ID"] = "<long-1@example.org>"
    mail.set_content(body, subtype=subtype)
    return mail.as_bytes()


def test_a_reply_over_forty_thousand_quoted_lines_folds_the_quote():
    body = "Still waiting for my refund.\n\nOn Monday, Support wrote:\n" + "> earlier\n" * 40_000
    m = normalize(_mail(body), limits=LIMITS).message
    assert m.text == "Still waiting for my refund."
    assert m.folded_text.startswith("On Monday, Support wrote:\n> earlier")


def test_quoted_lines_answered_at_the_very_end_stay_in_the_text():
    body = ">\n" * 40_000 + "my answer below all of that"
    m = normalize(_mail(body), limits=LIMITS).message
    assert m.text.endswith("my answer below all of that") and m.folded_text == ""


def test_an_html_mail_of_forty_thousand_paragraphs_reads_as_paragraphs():
    body = "".join(f"<p>line {i}</p>" for i in range(40_000))
    m = normalize(_mail(body, "html"), limits=LIMITS).message
    assert m.text.startswith("line 0\n\nline 1\n\nline 2")
    assert "<p>line 39999</p>" in m.html
