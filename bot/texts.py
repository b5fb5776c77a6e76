"""Texts shown to operators in their own language: an English msgid and its values, translated where shown.

Actions and workers know no request, so they cannot pick a language. They keep a `Text` instead of a
finished sentence: the console renders it with the viewer's catalog, logs and the CLI with English
(the msgid itself). Values may be Texts too (a translated noun inside a sentence), and a list of values shows as a
comma-separated list. Stored as JSON, a
Text survives in a database column; a column written before (plain English) still shows as it is.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

Lookup = Callable[[str], str]


def N_(text: str) -> str:
    """Mark a text for the catalogs where it is written; it is translated where it is shown."""
    return text


def _english(message: str) -> str:
    return message


@dataclass(frozen=True)
class Text:
    """One translatable sentence: `msgid` with `{name}` fields, filled from `params` after translation."""

    msgid: str
    params: dict = field(default_factory=dict)

    def render(self, lookup: Lookup = _english) -> str:
        """The sentence through `lookup` (a catalog's gettext); a translation with broken fields falls back to English."""
        values = {k: _render(v, lookup) for k, v in self.params.items()}
        if not values:
            return lookup(self.msgid)
        try:
            return lookup(self.msgid).format(**values)
        except (KeyError, IndexError, ValueError, AttributeError):
            return self.msgid.format(**values)

    def __str__(self) -> str:
        return self.render()

    def as_dict(self) -> dict:
        return {"msgid": self.msgid, "params": {k: _plain(v) for k, v in self.params.items()}}

    def dumps(self) -> str:
        """The JSON to store in a text column."""
        return json.dumps(self.as_dict(), ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict) -> "Text":
        return cls(str(data["msgid"]), {k: _revive(v) for k, v in (data.get("params") or {}).items()})


def _render(value, lookup: Lookup):
    if isinstance(value, Text):
        return value.render(lookup)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(_render(v, lookup)) for v in value)
    return value


def _plain(value):
    if isinstance(value, Text):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _revive(value):
    if _is_text(value):
        return Text.from_dict(value)
    if isinstance(value, list):
        return [_revive(v) for v in value]
    return value


def _is_text(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("msgid"), str)


def stored_text(stored: str, lookup: Lookup = _english) -> str:
    """A column that holds a stored Text, rendered; anything else (rows from before) shown as stored."""
    if stored.startswith('{"msgid"'):
        try:
            data = json.loads(stored)
        except ValueError:
            return stored
        if _is_text(data):
            return Text.from_dict(data).render(lookup)
    return stored
