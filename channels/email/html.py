"""HTML mail -> readable text for the console, and sanitized HTML for showing the original.

Text conversion keeps paragraphs, lists and links, and marks quoted blocks (``<blockquote>``) with
"> " so quoted earlier replies fold away like plain-text ones. Sanitizing uses nh3 (ammonia):
no scripts, styles, forms, frames, images or event handlers survive; links get
``rel="noopener noreferrer nofollow"``.
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

import nh3

MAX_HTML = 2 * 1024 * 1024  # larger HTML is cut before conversion (the original stays whole)
SKIP = {"script", "style", "head", "title", "template", "noscript", "svg", "math", "object", "iframe", "xml"}
BLOCK = {"p", "div", "section", "article", "header", "footer", "table", "tr", "ul", "ol", "dl", "h1", "h2", "h3",
         "h4", "h5", "h6", "pre", "address", "center", "form", "hr", "dd", "dt", "blockquote", "figure"}
SAFE_TAGS = {"a", "abbr", "b", "blockquote", "br", "caption", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2",
             "h3", "h4", "h5", "h6", "hr", "i", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span",
             "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul"}
SAFE_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


def sanitize(html: str) -> str:
    """HTML safe to show inside the console (still shown in a sandboxed frame, as a second wall)."""
    return nh3.clean(html[:MAX_HTML], tags=SAFE_TAGS, attributes=SAFE_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow",
                     clean_content_tags=SKIP - {"head"}, strip_comments=True)


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.quote = 0
        self.pre = 0
        self.href: list[str | None] = []
        self.line_start = True
        # Kept as the text grows, so a block tag never re-reads all the text before it (that was
        # quadratic: a mail of many short paragraphs took minutes).
        self.trailing = 0  # newlines at the end of the text so far
        self.wrote = False  # whether the text so far holds anything but whitespace

    def _emit(self, piece: str) -> None:
        self.out.append(piece)
        body = piece.rstrip("\n")
        self.trailing = len(piece) - len(body) if body else self.trailing + len(piece)
        self.wrote = self.wrote or not piece.isspace() and bool(piece)

    def _newline(self, count: int = 1) -> None:
        have = self.trailing if self.wrote else 2
        for _ in range(max(0, count - have)):
            self._emit("\n")
        self.line_start = True

    def _write(self, data: str) -> None:
        if self.line_start and self.quote:
            self._emit("> " * self.quote)
        self._emit(data)
        self.line_start = False

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in SKIP:
            self.skip += 1
        if self.skip:
            return
        if tag == "br":
            self._newline(1) if not self.line_start else self._emit("\n")
            self.line_start = True
        elif tag == "li":
            self._newline(1)
            self._write("- ")
        elif tag in BLOCK:
            self._newline(2 if tag in ("p", "blockquote", "table", "h1", "h2", "h3") else 1)
        if tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in SKIP:
            self.skip = max(0, self.skip - 1)
            return
        if self.skip:
            return
        if tag == "blockquote":
            self.quote = max(0, self.quote - 1)
        elif tag == "pre":
            self.pre = max(0, self.pre - 1)
        elif tag == "a" and self.href:
            href = self.href.pop()
            if href and re.match(r"(?i)https?://", href) and href not in "".join(self.out[-20:]):
                self._write(f" ({href})")
        if tag in BLOCK or tag == "li":
            self._newline(2 if tag in ("p", "blockquote", "table") else 1)

    def handle_data(self, data: str) -> None:
        if self.skip:
            return
        if self.pre:
            for i, line in enumerate(data.split("\n")):
                if i:
                    self._emit("\n")
                    self.line_start = True
                if line:
                    self._write(line)
            return
        data = re.sub(r"[ \t\r\n\f\u00a0]+", " ", data)
        if self.line_start:
            data = data.lstrip()
        if data:
            self._write(data)


def to_text(html: str) -> str:
    """Readable plain text of an HTML body; never raises."""
    parser = _Text()
    try:
        parser.feed(html[:MAX_HTML])
        parser.close()
    except Exception:  # html.parser is lenient; anything it still trips on leaves what it had
        pass
    lines = [line.rstrip() for line in "".join(parser.out).split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
