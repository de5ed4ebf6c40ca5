"""Reading what the box shows: one read of the precomputed summary (and a page's views)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from redis.exceptions import RedisError

from counter.errors import InvalidInput, StoreUnavailable
from counter.periods import Periods, days_between
from counter.store import Store
from counter.summary import decode_summary, empty_summary, is_stale, summary_max_age
from counter.urls import normalize_path

MAX_HISTORY_DAYS = 3660


LAST_ANSWERS = 10_000


async def read_stats(store: Store, site_id: str, url: str | None = None) -> dict[str, Any]:
    """What ``GET /api/stats`` answers: the summary, its staleness, and a page's views.

    An answer read less than ``stats_cache_s`` ago (and never longer than one aggregation
    interval, so no pass is skipped over) is given again without asking the store.
    While the store does not answer, the last answer this process gave is served again,
    marked ``"stale": true``; with none at hand, StoreUnavailable.
    """
    now = store.clock.now()
    key = (site_id.strip().lower(), url)
    last = store.last_answers.get(key)
    settings = store.settings
    fresh_for = timedelta(seconds=min(settings.stats_cache_s, settings.aggregate_interval_s))
    if last is not None and timedelta(0) <= now - last[0] < fresh_for:
        return last[1]
    try:
        answer = await _read_stats(store, site_id, url, now)
    except RedisError:
        if last is None:
            raise StoreUnavailable(
                "the store is unavailable and no earlier answer is at hand"
            ) from None
        return {**last[1], "stale": True}
    store.last_answers[key] = (now, answer)
    store.last_answers.move_to_end(key)
    while len(store.last_answers) > LAST_ANSWERS:
        store.last_answers.popitem(last=False)
    return answer


async def _read_stats(store: Store, site_id: str, url: str | None, now: datetime) -> dict[str, Any]:
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    path = normalize_path(url, site.keep_query) if url is not None else None
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.get(keys.summary)
        if path is not None:
            pipe.hget(keys.page_views, path)
        results = await pipe.execute()
    summary = decode_summary(results[0])
    if summary is None:
        summary = empty_summary(site, Periods.of(now, site.tz, site.first_weekday), now)
    summary.pop("date", None)
    summary["stale"] = is_stale(summary, now, summary_max_age(store.settings.aggregate_interval_s))
    if path is not None:
        summary["page_views"] = int(results[1] or 0)
    return summary


def parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date as YYYY-MM-DD, not {value[:40]!r}") from None


async def read_history(store: Store, site_id: str, first: date, last: date) -> list[dict[str, Any]]:
    """Daily rows from ``first`` to ``last`` inclusive; open days show their live figures."""
    if first > last:
        raise InvalidInput("from must not be after to")
    if (last - first).days >= MAX_HISTORY_DAYS:
        raise InvalidInput(f"a history request covers at most {MAX_HISTORY_DAYS} days")
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    days = days_between(first, last)
    fields = [d.isoformat() for d in days]
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.hmget(keys.pageviews_by_day, fields)
        pipe.hmget(keys.visits_by_day, fields)
        pipe.hmget(keys.visitors_by_day, fields)
        pipe.smembers(keys.open_days)
        pageviews, visits, visitors, open_raw = await pipe.execute()
    open_days = {m.decode() if isinstance(m, bytes) else str(m) for m in open_raw}
    live = [
        d for d, v in zip(days, visitors, strict=True) if v is None and d.isoformat() in open_days
    ]
    live_counts: dict[date, int] = {}
    if live:
        async with store.redis.pipeline(transaction=False) as pipe:
            for day in live:
                pipe.pfcount(keys.visitors_hll(day))
            live_counts = dict(zip(live, await pipe.execute(), strict=True))
    return [
        {
            "date": day.isoformat(),
            "pageviews": int(pv or 0),
            "visits": int(vi or 0),
            "visitors": int(vs) if vs is not None else int(live_counts.get(day, 0)),
        }
        for day, pv, vi, vs in zip(days, pageviews, visits, visitors, strict=True)
    ]
