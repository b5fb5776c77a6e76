"""Labelled examples: read and check a routing CSV (`text,language,queue`).

Every problem is reported with the file, the line and what to do, because these files are written
by hand and the person fixing them needs to find the row.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from router.errors import DataError

HEADER = ["text", "language", "queue"]


@dataclass(frozen=True)
class Example:
    """One labelled message; `line` is where its row starts in the file."""

    text: str
    language: str
    queue: str
    line: int = 0


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise DataError(f"{path}, line {line}: not valid UTF-8 (byte 0x{raw[exc.start]:02x}); "
                        "save the file as UTF-8 and try again") from None


def read_examples(path: Path, queues: Collection[str] | None = None) -> list[Example]:
    """Read a routing CSV; when `queues` is given, every label must be one of them."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file (give the path of a CSV with the header "
                        f"{','.join(HEADER)})") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot be read: {exc.strerror or exc}") from None
    text = _decode(path, raw)
    if not text.strip():
        raise DataError(f"{path}: the file is empty; it needs the header {','.join(HEADER)} "
                        "and one labelled message per row")
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise DataError(f"{path}, line 1: not a CSV header ({exc})") from None
    if header != HEADER:
        raise DataError(f"{path}, line 1: the header is {','.join(header)!r} but must be exactly "
                        f"{','.join(HEADER)!r}")
    known = sorted(queues) if queues is not None else None
    examples: list[Example] = []
    while True:
        start = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"{path}, line {start}: broken CSV quoting ({exc}); a field with a "
                            "comma, quote or line break must be in double quotes, inner quotes doubled") from None
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != 3:
            raise DataError(f"{path}, line {start}: expected 3 fields (text,language,queue) but found "
                            f"{len(row)}; put a text with commas in double quotes")
        body, language, queue = row[0].strip(), row[1].strip().lower(), row[2].strip()
        if not body:
            raise DataError(f"{path}, line {start}: the text is empty; write the message or drop the row")
        if not queue:
            raise DataError(f"{path}, line {start}: the queue is empty; label the row with one of {known or 'the queues'}")
        if known is not None and queue not in known:
            raise DataError(f"{path}, line {start}: unknown queue {queue!r}; use one of {known} "
                            "or add the queue to [[queues]] in the config")
        examples.append(Example(body, language, queue, start))
    if not examples:
        raise DataError(f"{path}: the header is there but no rows follow; add labelled messages")
    return examples
