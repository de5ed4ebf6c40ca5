"""The numbers Busuanzi's callers expect (``api/routes/busuanzi.py``): ``site_pv`` the site's
pageviews all time, ``site_uv`` its visitors all time, ``page_pv`` the page's views."""

from __future__ import annotations

from redis.exceptions import RedisError

from counter.figures.stats import StatsReader

# What the original's answers say; themes never read it, some scripts log it.
VERSION = 2.4


async def busuanzi_numbers(
    reader: StatsReader, site_id: str, url: str | None, page_views: int | None = None
) -> dict[str, int | float]:
    """``page_views``: the page's views as the hit just counted answered them; None reads them.

    site_pv is read live (the totals and their offset, one round trip): the summary is of the
    last pass, and a reader whose own pageview is missing from the figure beside it would see
    the count stand still. Visitors are an estimate of the pass anyway; the summary's stays."""
    stats = await reader.read(site_id, url if page_views is None else None)
    site_pv = int(stats["pageviews"]["total"])
    store = reader.store
    keys = store.keys.site((await store.sites.get(site_id)).id)
    try:
        async with store.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.totals, "pageviews")
            pipe.hget(keys.offsets, "pageviews")
            counted, offset = await pipe.execute()
        site_pv = max(site_pv, int(counted or 0) + int(offset or 0))
    except RedisError:
        pass  # the store is away: the last summary (marked stale by the reader) stands
    return {
        "site_pv": site_pv,
        "site_uv": int(stats["visitors"]["total"]),
        "page_pv": int(stats.get("page_views", 0)) if page_views is None else page_views,
        "version": VERSION,
    }
