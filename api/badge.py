"""The image counter, ``/counter/{site}.svg``: one number as an SVG, for pages that run no
JavaScript (forums, READMEs, e-mails, old CMS templates).

Two styles: ``flat`` (a label and the number, grouped as the site prints it) and
``odometer`` (vPortal's row of digit wheels, zero-padded to ``digits``). Reading the image
never counts a view; the snippet or ``hit.gif`` does.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape

from api.display import LABELS, PAGE_LABELS, grouped
from counter.errors import InvalidInput

# What the image may show: who is online, and every period of the box (counter/periods.py).
FIGURES = tuple(key for key in LABELS["vi"] if key != "title")
MAX_LABEL_CHARS = 40
MIN_DIGITS, MAX_DIGITS = 1, 12
# Verdana 11px, as badges are drawn: an average glyph is about 7 px wide.
CHAR_W = 7
PAD = 6
HEIGHT = 20
CELL_W = 14


class Style(StrEnum):
    flat = "flat"
    odometer = "odometer"


def checked_period(period: str | None, page: bool) -> str:
    """The figure to show: a period of the box (default: all time), or a page's views, which
    are all-time only."""
    if page:
        if period not in (None, "total"):
            raise InvalidInput("a page's views are all-time: give url without period")
        return "page_views"
    if period is None:
        return "total"
    if period not in FIGURES:
        raise InvalidInput(f"period must be one of {', '.join(FIGURES)}")
    return period


def checked_label(label: str | None, figure: str, lang: str) -> str:
    """The label as given (empty: the number alone), or the figure's name in ``lang``."""
    if label is None:
        return PAGE_LABELS[lang] if figure == "page_views" else LABELS[lang][figure]
    if len(label) > MAX_LABEL_CHARS:
        raise InvalidInput(f"label is longer than {MAX_LABEL_CHARS} characters")
    # What XML 1.0 cannot hold, even escaped: control characters, surrogates, U+FFFE/U+FFFF.
    if any(ord(ch) < 32 or 0xD800 <= ord(ch) <= 0xDFFF or ch in "\ufffe\uffff" for ch in label):
        raise InvalidInput("label holds a control character or one that is not valid Unicode")
    return label


def figure_of(stats: dict[str, Any], figure: str) -> int:
    return int(stats.get(figure) or 0)


def _text_w(text: str) -> int:
    return len(text) * CHAR_W + 2 * PAD if text else 0


def _label(text: str, width: int) -> str:
    if not text:
        return ""
    return (
        f'<rect width="{width}" height="{HEIGHT}" fill="#555"/>'
        f'<text x="{width / 2:g}" y="14" fill="#fff" text-anchor="middle">{escape(text)}</text>'
    )


def render_svg(number: int, label: str, style: Style, grouping: str, digits: int) -> str:
    """The counter's SVG document; ``label`` may be empty (the number alone)."""
    label_w = _text_w(label)
    if style is Style.flat:
        value = grouped(number, grouping)
        value_w = _text_w(value)
        body = (
            f'<rect x="{label_w}" width="{value_w}" height="{HEIGHT}" fill="#1d4ed8"/>'
            f'<text x="{label_w + value_w / 2:g}" y="14" fill="#fff" text-anchor="middle">'
            f"{value}</text>"
        )
    else:
        wheels = str(number).zfill(digits)
        value_w = len(wheels) * CELL_W + 2
        body = f'<rect x="{label_w}" width="{value_w}" height="{HEIGHT}" fill="#111"/>' + "".join(
            f'<rect x="{label_w + 1 + i * CELL_W}" y="1" width="{CELL_W - 1}" height="18" '
            f'fill="#333"/><text x="{label_w + 1 + i * CELL_W + CELL_W / 2:g}" y="14" '
            f'fill="#fff" text-anchor="middle">{digit}</text>'
            for i, digit in enumerate(wheels)
        )
    width = label_w + value_w
    title = f"{label}: {grouped(number, grouping)}" if label else grouped(number, grouping)
    aria = escape(title, {'"': "&quot;"})
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT}" '
        f'viewBox="0 0 {width} {HEIGHT}" role="img" aria-label="{aria}">'
        f"<title>{escape(title)}</title>"
        f'<g font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f"{_label(label, label_w)}{body}</g></svg>"
    )
