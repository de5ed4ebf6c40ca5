"""What a site owner's dashboard reads (issue 15): the range of days it shows and the most
viewed pages.

There is no ranking of pages yet (another issue adds one, kept by the aggregator): until then
:func:`top_pages` walks the site's page-views hash with HSCAN and keeps only the ``limit``
largest, so a site with 100,000 pages costs a scan, never a list of them all in memory.
"""

from __future__ import annotations

import heapq
from datetime import date, timedelta

from counter.errors import InvalidInput
from counter.figures.history import MAX_HISTORY_DAYS, parse_day
from counter.periods import local_date
from counter.replies import text
from counter.storage.store import Store

MAX_TOP_PAGES = 100
SCAN_COUNT = 1000  # fields HSCAN returns per call, about


async def top_pages(store: Store, site_id: str, limit: int = 10) -> list[dict[str, object]]:
    """The ``limit`` most viewed pages of all time, ``[{"path", "views"}]``, most viewed first
    (ties by path)."""
    if not 1 <= limit <= MAX_TOP_PAGES:
        raise InvalidInput(f"limit must be 1 to {MAX_TOP_PAGES}")
    site = await store.sites.get(site_id)
    best: list[tuple[int, str]] = []  # a min-heap of (views, path): the smallest leaves first
    async for raw_path, raw_views in store.redis.hscan_iter(
        store.keys.site(site.id).page_views, count=SCAN_COUNT
    ):
        entry = (int(raw_views), text(raw_path))
        if len(best) < limit:
            heapq.heappush(best, entry)
        elif entry > best[0]:
            heapq.heapreplace(best, entry)
    ranked = sorted(best, key=lambda e: (-e[0], e[1]))
    return [{"path": path, "views": views} for views, path in ranked]


def day_range(today: date, days: int, first: str | None, last: str | None) -> tuple[date, date]:
    """The days a dashboard shows: ``first`` to ``last`` when given (YYYY-MM-DD), else the
    last ``days`` days up to today in the site's zone."""
    end = parse_day(last, "to") if last else today
    start = parse_day(first, "from") if first else end - timedelta(days=days - 1)
    if start > end:
        raise InvalidInput("from must not be after to")
    if (end - start).days >= MAX_HISTORY_DAYS:
        raise InvalidInput(f"a dashboard shows at most {MAX_HISTORY_DAYS} days")
    return start, end


async def site_today(store: Store, site_id: str) -> date:
    site = await store.sites.get(site_id)
    return local_date(store.clock.now(), site.tz)
