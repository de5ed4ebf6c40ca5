"""The daily history: rows of pageviews, visits and visitors per local day."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

from counter.errors import InvalidInput
from counter.periods import days_between
from counter.replies import texts
from counter.storage.store import Store

MAX_HISTORY_DAYS = 3660
# An export reads its range in pieces of this many days (each one history read).
EXPORT_CHUNK_DAYS = 366


# Without a start, a history or an export covers the 30 days before its end (default: today).
DEFAULT_HISTORY_DAYS = 30


def history_span(today: date, first: date | None, last: date | None) -> tuple[date, date]:
    """The days a history read covers when ``from`` or ``to`` is left out, as export does."""
    end = last or today
    return first or end - timedelta(days=DEFAULT_HISTORY_DAYS), end


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
    open_days = set(texts(open_raw))
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


def export_spans(first: date, last: date) -> Iterator[tuple[date, date]]:
    """``first`` to ``last`` in consecutive pieces that one history read can cover."""
    step = timedelta(days=EXPORT_CHUNK_DAYS)
    cursor = first
    while cursor <= last:
        yield cursor, min(last, cursor + step - timedelta(days=1))
        cursor += step
