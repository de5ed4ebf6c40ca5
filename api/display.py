"""How the box prints: its labels in each language, its rows, and digit grouping."""

from __future__ import annotations

LABELS = {
    "vi": {
        "title": "Thống kê truy cập",
        "online": "Đang online",
        "today": "Hôm nay",
        "yesterday": "Hôm qua",
        "week": "Trong tuần",
        "month": "Trong tháng",
        "total": "Tất cả",
    },
    "en": {
        "title": "Visitor statistics",
        "online": "Online now",
        "today": "Today",
        "yesterday": "Yesterday",
        "week": "This week",
        "month": "This month",
        "total": "All time",
    },
}
ROWS = ("online", "today", "yesterday", "week", "month", "total")


def grouped(number: int, grouping: str) -> str:
    """48812107 -> ``48.812.107`` or ``48,812,107``."""
    return f"{number:,}".replace(",", grouping)
