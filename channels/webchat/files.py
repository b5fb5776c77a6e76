"""What a visitor may upload: the type is read from the file's first bytes, never taken on trust."""
from __future__ import annotations

from bot.domain import safe_filename

# Magic numbers: PNG (RFC 2083), JPEG (JFIF/EXIF SOI marker), GIF87a/89a, WebP (RIFF....WEBP), PDF.
EXTENSIONS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jfif"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
}
ACCEPT = ",".join(EXTENSIONS)


def sniff(head: bytes) -> str | None:
    """The content type the bytes prove, or None when they are none of the accepted kinds."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    return None


def upload_name(name: str, content_type: str) -> str:
    """A safe file name whose extension matches the sniffed type ("notes.html" -> "notes.html.pdf")."""
    name = safe_filename(name, fallback="upload")
    extensions = EXTENSIONS.get(content_type, ())
    if extensions and not name.lower().endswith(extensions):
        name = safe_filename(name[: 120 - len(extensions[0])] + extensions[0])
    return name
