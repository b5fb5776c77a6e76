"""Split a mail's text into what the client wrote now and what the console folds away.

Folded: a trailing block of quoted lines ("> ...") with its attribution line ("On ..., X wrote:"
in several languages), a top-posted earlier message (Outlook's "-----Original Message-----" or
its "From: / Sent:" header block), and the signature (RFC 3676's "-- " line, "Sent from my
phone"). Quotes interleaved with the client's own answers stay in place: folding them would hide
what the client wrote. The original text is never lost: the folded part is kept beside it.
"""
from __future__ import annotations

import re

ATTRIBUTION = re.compile(
    r"^\s*(On\s.{0,300}\swrote|Am\s.{0,300}\sschrieb.{0,80}|Le\s.{0,300}\sa\s+écrit|El\s.{0,300}\sescribió"
    r"|.{0,300}\s(писал|писала|написал|написала|пише|писав|написав|написала|írta|rakstīja|rašė|kirjutas|napisał|napisała)"
    r"(\s*\(а\))?)\s*:\s*$", re.IGNORECASE)
SEPARATOR = re.compile(
    r"^\s*(-{2,}\s*(Original Message|Ursprüngliche Nachricht|Исходное сообщение|Пересланное сообщение|"
    r"Eredeti üzenet|Oriģinālā ziņa|Originali žinutė|Forwarded message|Weitergeleitete Nachricht)\s*-{2,}|_{20,})\s*$",
    re.IGNORECASE)
HEADER_FROM = re.compile(r"^\s*\**(From|Von|От|Feladó|No|Nuo|Kellelt|De)\s*:\**\s*\S", re.IGNORECASE)
HEADER_NEXT = re.compile(r"^\s*\**(Sent|Date|Gesendet|Datum|Отправлено|Дата|Küldve|Elküldve|Nosūtīts|Išsiųsta|"
                         r"Saadetud|Envoyé|To|An|Кому|Címzett|Subject|Betreff|Тема|Tárgy)\s*:", re.IGNORECASE)
SIGNATURE = re.compile(r"^(-- ?|—)$")
MOBILE = re.compile(r"^\s*(Sent from my \w+|Get Outlook for \w+|Von meinem \w+ gesendet|Отправлено с\s.{1,40}|"
                    r"Отправлено из\s.{1,60})\s*$", re.IGNORECASE)


def fold(text: str) -> tuple[str, str]:
    """(new text, folded quote and signature); all of it stays new text when nothing else would be left."""
    lines = text.split("\n")
    cut = _cut(lines)
    if cut is None:
        return text.strip(), ""
    body = "\n".join(lines[:cut]).strip()
    folded = "\n".join(lines[cut:]).strip()
    if not body:
        return text.strip(), ""
    return body, folded


def _cut(lines: list[str]) -> int | None:
    only_quotes_after = _quotes_to_end(lines)
    for i, line in enumerate(lines):
        stripped = line.strip()
        if SEPARATOR.match(line) or SIGNATURE.match(line.rstrip("\r")) or MOBILE.match(line):
            return i
        if HEADER_FROM.match(line) and any(HEADER_NEXT.match(n) for n in lines[i + 1:i + 4]):
            return i
        if ATTRIBUTION.match(line) or (i + 1 < len(lines) and ATTRIBUTION.match(f"{stripped} {lines[i + 1].strip()}")):
            if only_quotes_after(i + 1):
                return i
        if stripped.startswith(">") and only_quotes_after(i):
            return _with_attribution(lines, i)
    return None


def _quotes_to_end(lines: list[str]):
    """A test of whether everything from a line on is quoted lines, blank lines or a signature.

    Worked out once, from the last line back: asking it afresh at every quoted line read the
    rest of the mail each time, and a mail of many quoted lines took minutes (hostile input).
    A wrapped attribution's second line is let through when it is the first line asked about.
    """
    n = len(lines)
    seen = [False] * (n + 1)  # a quoted line before the first line that is neither blank nor quoted
    ends_well = [True] * (n + 1)  # that first line is a signature, or there is none
    for k in range(n - 1, -1, -1):
        stripped = lines[k].strip()
        if not stripped:
            seen[k], ends_well[k] = seen[k + 1], ends_well[k + 1]
        elif stripped.startswith(">"):
            seen[k], ends_well[k] = True, ends_well[k + 1]
        else:
            ends_well[k] = bool(SIGNATURE.match(lines[k].rstrip("\r")) or MOBILE.match(lines[k]))

    def only_quotes_after(start: int) -> bool:
        if start < n:
            stripped = lines[start].strip()
            if stripped and not stripped.startswith(">") and ATTRIBUTION.match(lines[start]):
                start += 1  # the second line of a wrapped attribution
        return seen[start] and ends_well[start]

    return only_quotes_after


def _with_attribution(lines: list[str], quote_start: int) -> int:
    """Fold the attribution line(s) just above a trailing quote too."""
    for back in (1, 2, 3):
        j = quote_start - back
        if j < 0:
            break
        candidate = lines[j].strip()
        if not candidate:
            continue
        joined = f"{candidate} {lines[j + 1].strip()}" if j + 1 < quote_start else candidate
        if ATTRIBUTION.match(candidate) or ATTRIBUTION.match(joined):
            return j
        if j > 0 and ATTRIBUTION.match(f"{lines[j - 1].strip()} {candidate}"):
            return j - 1
        break
    return quote_start
