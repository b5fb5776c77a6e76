"""Rate limits on a fake clock, and the upload checks (magic bytes, file names)."""
from __future__ import annotations

import pytest

from channels.webchat.files import sniff, upload_name
from channels.webchat.limits import ConnectionCounter, RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_rate_limit_is_a_sliding_minute_per_key():
    clock = Clock()
    limiter = RateLimiter(3, 60.0, clock)
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("a") == pytest.approx(60.0)
    assert limiter.acquire("b") == 0  # another visitor is not affected
    clock.now += 30
    assert limiter.acquire("a") == pytest.approx(30.0)
    clock.now += 30  # the first three leave the window together
    assert [limiter.acquire("a") for _ in range(3)] == [0, 0, 0]
    assert limiter.acquire("a") > 0


def test_quiet_keys_are_forgotten():
    clock = Clock()
    limiter = RateLimiter(1, 1.0, clock)
    for i in range(2000):
        limiter.acquire(f"visitor-{i}")
    clock.now += 5
    for _ in range(1024):
        limiter.acquire("late")
    assert len(limiter._log) == 1


def test_connection_counter():
    counter = ConnectionCounter(2)
    assert counter.acquire("1.2.3.4") and counter.acquire("1.2.3.4")
    assert not counter.acquire("1.2.3.4")
    assert counter.acquire("5.6.7.8")
    counter.release("1.2.3.4")
    assert counter.count("1.2.3.4") == 1 and counter.acquire("1.2.3.4")
    counter.release("5.6.7.8")
    assert counter.count("5.6.7.8") == 0


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"


@pytest.mark.parametrize("head,kind", [
    (PNG, "image/png"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "image/jpeg"),
    (b"GIF89a\x01\x00\x01\x00", "image/gif"),
    (b"GIF87a\x01\x00\x01\x00", "image/gif"),
    (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    (b"%PDF-1.7\n%\xe2\xe3", "application/pdf"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'>", None),
    (b"<!doctype html><script>", None),
    (b"RIFF\x24\x00\x00\x00WAVEfmt ", None),
    (b"MZ\x90\x00", None),
    (b"", None),
])
def test_the_type_comes_from_the_bytes(head, kind):
    assert sniff(head) == kind


@pytest.mark.parametrize("name,kind,safe", [
    ("photo.png", "image/png", "photo.png"),
    ("Photo.JPEG", "image/jpeg", "Photo.JPEG"),
    ("scan", "application/pdf", "scan.pdf"),
    ("page.html", "image/png", "page.html.png"),
    ("../../etc/passwd", "application/pdf", "passwd.pdf"),
    ("C:\\Users\\me\\bill.pdf", "application/pdf", "bill.pdf"),
    ("", "image/gif", "upload.gif"),
    ("...", "image/gif", "upload.gif"),
    ("inv\u202eoice\x00.pdf", "application/pdf", "invoice.pdf"),
    ("x" * 300 + ".png", "image/png", "x" * 110 + ".png"),
])
def test_file_names_are_safe_and_match_the_type(name, kind, safe):
    assert upload_name(name, kind) == safe
