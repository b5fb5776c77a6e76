"""Uploads and downloads: images and PDFs proven by their bytes, only within the visitor's own conversation."""
from __future__ import annotations

import struct
import zlib

import aiohttp
from sqlalchemy import func, select

from bot.storage.models import Message, StoredAttachment


def png(width: int = 4, height: int = 3) -> bytes:
    """A real, tiny PNG image."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    rows = b"".join(b"\x00" + b"\x20\x60\xc0" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML = b"<!doctype html><script>alert(document.domain)</script>"


def form(client_id: str, data: bytes, filename: str, content_type: str, text: str = "") -> aiohttp.FormData:
    body = aiohttp.FormData(quote_fields=False)  # send the file name as browsers do, unescaped
    body.add_field("id", client_id)
    body.add_field("text", text)
    body.add_field("file", data, filename=filename, content_type=content_type)
    return body


async def upload(chat, token: str | None, body, **headers) -> tuple[int, dict]:
    if token is not None:
        headers["X-Visitor-Token"] = token
    async with chat.session.post(f"{chat.url}/chat/upload", data=body, headers=headers) as response:
        return response.status, await response.json()


async def attachments(desk) -> list[StoredAttachment]:
    async with desk.sessions() as s:
        return list((await s.execute(select(StoredAttachment))).scalars())


async def test_a_png_upload_is_stored_acknowledged_and_shown(chat):
    visitor = await chat.visitor()
    status, ack = await upload(chat, visitor.token, form("img1", png(), "../receipt.png", "image/png", "my receipt"))
    assert status == 200, ack
    assert ack["type"] == "ack" and ack["id"] == "img1" and ack["ticket"] == 1001
    frame = await visitor.message()
    assert frame["message_id"] == ack["message_id"] and frame["client_id"] == "img1" and frame["text"] == "my receipt"
    [file] = frame["attachments"]
    assert file["filename"] == "receipt.png" and file["content_type"] == "image/png" and file["size"] == len(png())
    async with chat.session.get(f"{chat.url}/chat/attachments/{file['id']}",
                                headers={"X-Visitor-Token": visitor.token}) as response:
        assert response.status == 200 and await response.read() == png()
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert "sandbox" in response.headers["Content-Security-Policy"]


async def test_a_resent_upload_is_stored_once(chat):
    visitor = await chat.visitor()
    first = await upload(chat, visitor.token, form("pdf1", PDF, "invoice.pdf", "application/pdf"))
    again = await upload(chat, visitor.token, form("pdf1", PDF, "invoice.pdf", "application/pdf"))
    assert first == again and first[0] == 200
    assert len(await attachments(chat.desk)) == 1


async def test_the_declared_type_is_not_trusted(chat):
    visitor = await chat.visitor()
    # A PNG declared as text keeps its true type; HTML declared as PNG is refused.
    status, _ = await upload(chat, visitor.token, form("a", png(), "photo.txt", "text/plain"))
    assert status == 200
    [stored] = await attachments(chat.desk)
    assert stored.content_type == "image/png" and stored.filename == "photo.txt.png"
    for data, name, declared in ((SVG, "logo.svg", "image/svg+xml"), (HTML, "page.html", "text/html"),
                                 (HTML, "fake.png", "image/png"), (b"MZ\x90\x00" + b"\x00" * 64, "setup.exe", "application/pdf")):
        status, error = await upload(chat, visitor.token, form("b", data, name, declared))
        assert status == 415 and error["code"] == "unsupported_file" and error["id"] == "b", (name, error)
    assert len(await attachments(chat.desk)) == 1


async def test_oversized_uploads_are_refused_before_storing(strict_chat):
    visitor = await strict_chat.visitor()  # this desk takes files up to 2048 bytes
    status, error = await upload(strict_chat, visitor.token, form("big", png() + b"\x00" * 4096, "big.png", "image/png"))
    assert status == 413 and error["code"] == "file_too_large" and error["id"] == "big"
    async with strict_chat.desk.sessions() as s:
        assert (await s.execute(select(func.count()).select_from(Message))).scalar_one() == 0
    status, _ = await upload(strict_chat, visitor.token, form("small", png(), "small.png", "image/png"))
    assert status == 200


async def test_uploads_need_a_token_and_well_formed_fields(chat):
    visitor = await chat.visitor()
    status, error = await upload(chat, None, form("a", png(), "a.png", "image/png"))
    assert status == 401 and error["code"] == "bad_token"
    status, error = await upload(chat, "short", form("a", png(), "a.png", "image/png"))
    assert status == 401
    status, error = await upload(chat, visitor.token, form("bad/id", png(), "a.png", "image/png"))
    assert status == 400 and error["code"] == "invalid_frame"
    no_file = aiohttp.FormData(default_to_multipart=True)
    no_file.add_field("id", "c")
    no_file.add_field("text", "hello")
    status, error = await upload(chat, visitor.token, no_file)
    assert status == 400 and error["code"] == "missing_file"
    status, error = await upload(chat, visitor.token, b"raw bytes", **{"Content-Type": "application/octet-stream"})
    assert status == 400 and error["code"] == "invalid_frame"
    extra = form("d", png(), "a.png", "image/png")
    extra.add_field("token", "smuggled")
    status, error = await upload(chat, visitor.token, extra)
    assert status == 400 and "token" in error["message"]
    assert await attachments(chat.desk) == []


async def test_another_visitor_cannot_download_the_file(chat):
    owner = await chat.visitor()
    status, ack = await upload(chat, owner.token, form("p", PDF, "contract.pdf", "application/pdf"))
    assert status == 200
    [stored] = await attachments(chat.desk)
    stranger = await chat.visitor()
    for token in (stranger.token, "B" * 43):
        async with chat.session.get(f"{chat.url}/chat/attachments/{stored.id}", headers={"X-Visitor-Token": token}) as r:
            assert r.status == 404 and PDF not in await r.read()
    async with chat.session.get(f"{chat.url}/chat/attachments/{stored.id}") as r:
        assert r.status == 401
    # The token in the URL is not a way in either.
    async with chat.session.get(f"{chat.url}/chat/attachments/{stored.id}?token={owner.token}") as r:
        assert r.status == 401
    async with chat.session.get(f"{chat.url}/chat/attachments/{stored.id + 1}", headers={"X-Visitor-Token": owner.token}) as r:
        assert r.status == 404


async def test_uploads_count_against_the_message_rate(strict_chat):
    visitor = await strict_chat.visitor()
    for i in range(3):
        await visitor.say(f"m{i}", "hi")
    status, error = await upload(strict_chat, visitor.token, form("f", png(), "a.png", "image/png"))
    assert status == 429 and error["code"] == "rate_limited" and error["retry_after"] > 0


async def test_a_file_from_the_operator_reaches_the_visitor(chat):
    from bot.actions.operators import log_in
    from bot.actions.tickets import reply_to_ticket
    from bot.domain import Attachment

    await chat.server.add_operator("anna")
    _, viewer = await log_in(chat.desk, "anna", "password-123")
    visitor = await chat.visitor()
    ack = await visitor.say("q", "Can I have the invoice?")
    async with chat.desk.sessions() as s:
        from bot.storage.models import Ticket
        ticket = (await s.execute(select(Ticket.id).where(Ticket.number == ack["ticket"]))).scalar_one()
    await reply_to_ticket(chat.desk, viewer, ticket, "Here it is.",
                          (Attachment("invoice.pdf", "application/pdf", len(PDF), data=PDF),))
    frame = await visitor.message(lambda f: f["author"] == "operator")
    [file] = frame["attachments"]
    assert file["filename"] == "invoice.pdf"
    async with chat.session.get(f"{chat.url}/chat/attachments/{file['id']}", headers={"X-Visitor-Token": visitor.token}) as r:
        assert r.status == 200 and await r.read() == PDF
