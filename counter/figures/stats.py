"""Reading what the box shows: one read of the precomputed summary (and a page's views)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from redis.exceptions import RedisError

from counter.errors import StoreUnavailable
from counter.figures.summary import decode_summary, empty_summary, is_stale, summary_max_age
from counter.lru import Recent
from counter.periods import Periods
from counter.storage.store import Store
from counter.urls import normalize_path

LAST_ANSWERS = 10_000


async def read_stats(store: Store, site_id: str, url: str | None = None) -> dict[str, Any]:
    """What ``GET /api/stats`` answers, read now: the summary, its staleness, a page's views."""
    now = store.clock.now()
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    path = normalize_path(url, site.keep_query) if url is not None else None
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.summary)
        if path is not None:
            pipe.hget(keys.page_views, path)
            pipe.zscore(keys.online_pages, path)
        results = await pipe.execute()
    summary = decode_summary(results[0])
    if summary is None:
        summary = empty_summary(site, Periods.of(now, site.tz, site.first_weekday), now)
    summary.pop("date", None)
    summary["stale"] = is_stale(summary, now, summary_max_age(store.settings.aggregate_interval_s))
    if path is not None:
        summary["page_views"] = int(results[1] or 0)
        # Visitors online whose last pageview or heartbeat was on this page, as of the pass.
        summary["page_online"] = int(results[2] or 0)
    return summary


class StatsReader:
    """A worker's stats reads: each answer is given again for a moment without asking the
    store, and served, marked stale, while the store does not answer."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # The last answer per (site, page) and when it was read.
        self._answers: Recent[tuple[str, str | None], dict[str, Any]] = Recent(LAST_ANSWERS)

    async def read(self, site_id: str, url: str | None = None) -> dict[str, Any]:
        """:func:`read_stats`, or the answer read less than ``stats_cache_s`` ago (never
        longer than one aggregation interval, so no pass is skipped over). While the store does
        not answer, the last answer this process gave, marked ``"stale": true``; with none at
        hand, StoreUnavailable."""
        store = self.store
        now: datetime = store.clock.now()
        # As given: "Demo.Local" and "demo.local" keep two copies of one answer, and an id
        # that is not valid is never kept (read_stats refuses it).
        key = (site_id, url)
        last = self._answers.get(key)
        settings = store.settings
        fresh_for = timedelta(seconds=min(settings.stats_cache_s, settings.aggregate_interval_s))
        if last is not None and timedelta(0) <= now - last[0] < fresh_for:
            return last[1]
        try:
            answer = await read_stats(store, site_id, url)
        except RedisError:
            if last is None:
                raise StoreUnavailable(
                    "the store is unavailable and no earlier answer is at hand"
                ) from None
            return {**last[1], "stale": True}
        if answer["updated_at"] is None and last is not None and last[1]["updated_at"]:
            # The store holds no summary, yet this worker has shown one: the store lost its
            # data and the aggregator is restoring it. The figures shown must not drop to 0.
            return {**last[1], "stale": True}
        self._answers.put(key, now, answer)
        return answer
