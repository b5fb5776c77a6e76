"""Hostile payloads with traceable markers, and an HTML check that none of them became markup.

Each payload calls a function named ``hl_pwnN``: if any element, attribute or URL of a parsed
page carries one of those names, the payload escaped as markup. Text that merely shows the
payload (escaped) is fine and expected.
"""
from __future__ import annotations

from html.parser import HTMLParser

SCRIPT = "<script>hl_pwn1()</script>"
IMG = "<img src=x onerror=hl_pwn2()>"
LINK = '<a href="javascript:hl_pwn3()">click</a>'
SVG = '"><svg onload=hl_pwn4()>'
ATTR = "' onmouseover='hl_pwn5()"
RTL = "\u202egnp.exe"
PAYLOAD = f"{SCRIPT} {IMG} {LINK} {SVG} {ATTR} javascript:hl_pwn6() {RTL}"
MARK = "hl_pwn"
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcset", "background"}


class _Elements(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.in_script = False

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            value = (value or "").strip()
            if name.startswith("on") and MARK in value:
                self.problems.append(f"<{tag} {name}={value!r}>: an event handler from the payload")
            if name in URL_ATTRIBUTES and value.lower().startswith(("javascript:", "data:text/html")):
                self.problems.append(f"<{tag} {name}={value!r}>: a script URL")
            if MARK in name:
                self.problems.append(f"<{tag} {name}>: an attribute made of the payload")
        if tag in ("svg", "iframe", "object", "embed") and any(MARK in (v or "") for _, v in attrs):
            self.problems.append(f"<{tag}> from the payload")
        if tag == "img" and ("src", "x") in attrs:
            self.problems.append("<img src=x> from the payload")
        self.in_script = tag == "script"

    def handle_endtag(self, tag):
        self.in_script = False

    def handle_data(self, data):
        if self.in_script and MARK in data:
            self.problems.append(f"<script> running the payload: {data[:80]!r}")


def markup_problems(page: str) -> list[str]:
    """What of the payload became live markup on ``page`` (empty when it is all inert text)."""
    parser = _Elements()
    parser.feed(page)
    parser.close()
    return parser.problems


def assert_inert(page: str, where: str) -> None:
    problems = markup_problems(page)
    assert not problems, f"{where}: {problems}"
