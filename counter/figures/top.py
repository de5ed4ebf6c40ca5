"""The most viewed pages ("Tin xem nhiều") of a period: ``GET /api/stats/top``.

record_hit.lua keeps one sorted set per period bucket (page path -> pageviews in it) and one
for all time (page path -> the page's all-time views, which carry_pages.lua also sets for a
page carried over from an old counter), so a read is one ZREVRANGE and one
HMGET of the titles, never a scan. The aggregator trims each set to :data:`TOP_KEEP` pages
(aggregator/rollup.py), so a list of at most :data:`MAX_LIMIT` is always exact for the
pages it shows, as long as a period has fewer distinct pages than the bound. Reading never
counts and never writes.
"""

from __future__ import annotations

from typing import Any, cast

from counter.errors import InvalidInput
from counter.periods import FIGURES, Periods
from counter.replies import text
from counter.storage.store import Store

# Pages each top set keeps after a pass: a site-day with 10,000 distinct pages costs one
# set of 1,000 (about 100 kB), and a page ranked below the 1,000th is far off any list.
TOP_KEEP = 1000
MAX_LIMIT = 50
DEFAULT_LIMIT = 10
# The period names come from counter/periods.py: a new span brings its two at once.
TOP_PERIODS: tuple[str, ...] = FIGURES


def check_period(period: str) -> str:
    if period not in TOP_PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(TOP_PERIODS)}")
    return period


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1 to {MAX_LIMIT}, not {limit}")
    return limit


async def read_top(store: Store, site_id: str, period: str, limit: int) -> dict[str, Any]:
    """``{"site", "period", "pages": [{"url", "title", "page_views"}]}``, most viewed first
    (ties: the later path first, as the sorted set orders them); title None when unknown."""
    check_period(period)
    check_limit(limit)
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    periods = Periods.of(store.clock.now(), site.tz, site.first_weekday)
    pages = await _ranked(store, keys.top_key(periods, period), keys.page_titles, limit)
    return {"site": site.id, "period": period, "pages": pages_with(pages, "page_views")}


async def read_live(store: Store, site_id: str, limit: int) -> dict[str, Any]:
    """``{"site", "pages": [{"url", "title", "online"}]}``: the pages with the most readers
    now (visitors online whose last pageview or heartbeat was on the page): the hit script
    moves a visitor to its new page, and each aggregation pass lets go of those gone quiet
    for the online window (SiteKeys.online_pages)."""
    check_limit(limit)
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    pages = await _ranked(store, keys.online_pages, keys.page_titles, limit)
    return {"site": site.id, "pages": pages_with(pages, "online")}


async def _ranked(
    store: Store, ranking: str, titles_key: str, limit: int
) -> list[tuple[str, str | None, int]]:
    """The ``limit`` highest of a sorted set of pages, with their titles: two reads."""
    # (path, score) pairs, highest first; redis-py types the reply loosely.
    ranked = cast(
        "list[tuple[bytes | str, float]]",
        await store.redis.zrevrange(ranking, 0, limit - 1, withscores=True),
    )
    titles = await store.redis.hmget(titles_key, [path for path, _ in ranked]) if ranked else []
    return [
        (text(path), text(title) if title is not None else None, int(score))
        for (path, score), title in zip(ranked, titles, strict=True)
    ]


def pages_with(pages: list[tuple[str, str | None, int]], figure: str) -> list[dict[str, Any]]:
    return [{"url": url, "title": title, figure: n} for url, title, n in pages]
