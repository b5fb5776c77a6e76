"""Horizontal bar charts of the digest: inline SVG for the web page, PNG for email (same layout)."""
from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

from bot.feedback.png import Canvas

BAR = (47, 91, 234)
PREVIOUS = (190, 198, 214)
INK = (29, 36, 51)
MUTED = (107, 115, 133)
COLORS = {"green": (28, 138, 74), "yellow": (224, 168, 0), "red": (198, 47, 58)}


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    previous: float | None = None  # drawn as a thin grey bar under the value (the trend)
    text: str = ""  # shown after the bar; the value when empty
    color: str = ""  # green, yellow or red instead of the default blue


def _rgb(color: tuple[int, int, int]) -> str:
    return "#%02x%02x%02x" % color


def _scale(bars: list[Bar]) -> float:
    return max([b.value for b in bars] + [b.previous or 0 for b in bars] + [1e-9])


def svg(bars: list[Bar], *, width: int = 440, label_width: int = 120, title: str = "") -> Markup:
    """An accessible inline SVG (a <title> and one <text> per label); every label is escaped."""
    row, top = 26, 6
    height = top + row * max(1, len(bars)) + 4
    area = width - label_width - 95  # room for the value after the longest bar
    top_value = _scale(bars)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, b in enumerate(bars):
        y = top + i * row
        color = _rgb(COLORS.get(b.color, BAR))
        label = escape(b.label if len(b.label) <= 18 else b.label[:17] + "…")
        parts.append(f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end">{label}</text>')
        if b.previous:
            parts.append(f'<rect x="{label_width}" y="{y + 16}" width="{max(1, area * b.previous / top_value):.1f}" height="4" '
                         f'fill="{_rgb(PREVIOUS)}"><title>previous: {escape(b.previous)}</title></rect>')
        parts.append(f'<rect x="{label_width}" y="{y + 3}" width="{max(1, area * b.value / top_value):.1f}" height="13" rx="2" '
                     f'fill="{color}"/>')
        parts.append(f'<text x="{label_width + area * b.value / top_value + 6:.1f}" y="{y + 15}">{escape(b.text or _num(b.value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def png(bars: list[Bar], *, title: str = "", width: int = 560) -> bytes:
    """The same chart as a PNG for mail clients (labels in capitals: a bitmap font)."""
    scale, row = 2, 26
    label_width = min(200, max([Canvas.text_width(b.label[:16], scale) for b in bars] + [40]) + 12)
    head = 28 if title else 6
    canvas = Canvas(width, head + row * max(1, len(bars)) + 6)
    if title:
        canvas.text(6, 6, title[:44], INK, scale)
    area = width - label_width - 80
    top_value = _scale(bars)
    for i, b in enumerate(bars):
        y = head + i * row
        canvas.text(6, y + 5, b.label[:16], MUTED, scale)
        if b.previous:
            canvas.rect(label_width, y + 19, max(1, int(area * b.previous / top_value)), 4, PREVIOUS)
        length = max(1, int(area * b.value / top_value))
        canvas.rect(label_width, y + 4, length, 14, COLORS.get(b.color, BAR))
        canvas.text(label_width + length + 6, y + 5, b.text or _num(b.value), INK, scale)
    return canvas.png()


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:.2f}"
