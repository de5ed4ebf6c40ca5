"""How the box prints: its labels in each language, its rows, and digit grouping.

The period rows and their names come from counter/periods.py; the server-rendered box, the
command line and widget.js (filled in when it is served, api/routes/embed.py) all read them
from here.
"""

from __future__ import annotations

from counter.periods import DAY, SPANS, TOTAL, period_labels

LOCALES = ("vi", "en")
_OWN = {
    # NukeViet's split of who is here: visitors, and search engines' crawlers apart.
    "vi": {
        "title": "Thống kê truy cập",
        "online": "Đang online",
        "online_bots": "Máy chủ tìm kiếm",
    },
    "en": {"title": "Visitor statistics", "online": "Online now", "online_bots": "Crawlers"},
}
LABELS = {locale: {**_OWN[locale], **period_labels(locale)} for locale in LOCALES}
# A page's own views ("Lượt xem" under an article): the image counter's and the CLI's label.
PAGE_LABELS = {"vi": "Lượt xem", "en": "Views"}
# The box's rows in order: who is online, today and yesterday, each longer span's current
# period, all time.
ROWS: tuple[str, ...] = (
    "online",
    "online_bots",
    DAY.current,
    DAY.previous,
    *(span.current for span in SPANS if span is not DAY),
    TOTAL,
)
# Shown unless the embed asks for more (``data-rows`` / ``?rows=``): the DESIGN's box.
DEFAULT_ROWS = frozenset({"online", DAY.current, SPANS[1].current, TOTAL})
OPTIONAL_ROWS = frozenset(ROWS) - DEFAULT_ROWS
# The periods a pageview's answer does not carry: the snippet reads /api/stats for them.
PREVIOUS_PERIODS = tuple(span.previous for span in SPANS)
# What the snippet reads /api/stats for after a pageview, when the page shows one of them.
READ_AFTER_PAGEVIEW = (*PREVIOUS_PERIODS, "online_bots")


def grouped(number: int, grouping: str) -> str:
    """48812107 -> ``48.812.107`` or ``48,812,107``."""
    return f"{number:,}".replace(",", grouping)
