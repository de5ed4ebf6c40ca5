"""Recording one hit: the checks, the visitor id, then one round trip to the store."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import Any

from counter.bots import is_bot
from counter.errors import InvalidInput, OriginRejected, UnknownSite
from counter.periods import Periods, local_date, month_start, seconds_until_end_of_day, week_start
from counter.sites import Site
from counter.spam import is_spam_referrer
from counter.store import Store
from counter.summary import decode_summary
from counter.urls import host_of, normalize_path
from counter.visitor import address_id, visitor_id

# How long the week and month HLLs live after their first hit: through the next period too
# (for "last week" and "last month"), plus a day's grace.
WEEK_HLL_TTL_S = 15 * 86400
MONTH_HLL_TTL_S = 63 * 86400
EXCLUDED_TTL_S = 3 * 86400
PREFETCH_VALUES = ("prefetch", "prerender")
# A rate key covers one fixed minute; it outlives the minute a little, then expires.
RATE_WINDOW_S = 60
RATE_TTL_S = 2 * RATE_WINDOW_S


class Event(StrEnum):
    pageview = "pageview"
    heartbeat = "heartbeat"


class Exclusion(StrEnum):
    bot = "bot"
    prefetch = "prefetch"
    rate_limited = "rate_limited"
    origin_rejected = "origin_rejected"
    invalid = "invalid"
    spam = "spam"
    opt_out = "opt_out"


@dataclass(frozen=True, slots=True)
class Hit:
    site: str
    url: str
    client_ip: str
    user_agent: str
    origin: str | None = None  # the Origin header, else the Referer header
    event: Event = Event.pageview
    referrer: str | None = None
    purpose: str | None = None  # Sec-Purpose / Purpose: prefetch and prerender are not views
    opt_out: bool = False  # Sec-GPC: 1 or DNT: 1: acknowledged, never counted


@dataclass(frozen=True, slots=True)
class HitResult:
    counted: bool
    excluded: Exclusion | None
    box: dict[str, int]  # page_views, online, today, week, total


def box_numbers(
    summary: dict[str, Any] | None,
    measure: str,
    today: str,
    page_views: int,
    online: int,
    live_today: dict[str, int] | None = None,
) -> dict[str, int]:
    """The box's numbers: the last summary, with today's live figures folded in."""
    box = {"page_views": page_views, "online": online, "today": 0, "week": 0, "total": 0}
    same_day = summary is not None and summary.get("date") == today
    if summary is not None:
        box.update(
            today=summary["today"] if same_day else 0, week=summary["week"], total=summary["total"]
        )
    if live_today is not None and measure in live_today:
        delta = live_today[measure] - box["today"]
        if delta > 0:
            box["today"] = live_today[measure]
            box["week"] += delta
            box["total"] += delta
    return box


async def _record_exclusion(
    store: Store, site: Site, reason: Exclusion, path: str | None = None
) -> HitResult:
    """Count an excluded hit by reason, and answer with the box as it stands: one round trip."""
    now = store.clock.now()
    day = local_date(now, site.tz)
    keys = store.keys.site(site.id)
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.hincrby(keys.excluded(day), reason.value, 1)
        pipe.expire(
            keys.excluded(day), EXCLUDED_TTL_S + seconds_until_end_of_day(now, site.tz), nx=True
        )
        pipe.get(keys.summary)
        if path is not None:
            pipe.hget(keys.page_views, path)
        _, _, raw, *views = await pipe.execute()
    store.observe(site.id, reason.value)
    summary = decode_summary(raw)
    online = int(summary["online"]) if summary else 0
    page_views = int(views[0] or 0) if views else 0
    box = box_numbers(summary, site.measure.value, day.isoformat(), page_views, online)
    return HitResult(False, reason, box)


def _is_prefetch(purpose: str | None) -> bool:
    return purpose is not None and any(p in purpose.lower() for p in PREFETCH_VALUES)


async def record_hit(store: Store, hit: Hit) -> HitResult:
    """Record one hit of a known site, or count why it was excluded.

    Raises UnknownSite, InvalidInput (bad url) or OriginRejected (after counting it).
    """
    try:
        site = await store.sites.get(hit.site)
    except (UnknownSite, InvalidInput):
        store.observe(None, "unknown_site")
        raise
    origin_host = host_of(hit.origin or "")
    if origin_host is None or not site.allows_host(origin_host):
        await _record_exclusion(store, site, Exclusion.origin_rejected)
        shown = origin_host or "none"
        raise OriginRejected(f"origin {shown!r} is not one of the domains of site {site.id!r}")
    try:
        path = normalize_path(hit.url, site.keep_query)
    except InvalidInput:
        await _record_exclusion(store, site, Exclusion.invalid)
        raise
    if is_bot(hit.user_agent):
        return await _record_exclusion(store, site, Exclusion.bot, path)
    if _is_prefetch(hit.purpose):
        return await _record_exclusion(store, site, Exclusion.prefetch, path)
    if hit.opt_out:
        return await _record_exclusion(store, site, Exclusion.opt_out, path)
    if is_spam_referrer(hit.referrer, store.settings.referrer_spam_file):
        return await _record_exclusion(store, site, Exclusion.spam, path)
    result = await _count(store, site, hit, path)
    store.observe(site.id, result.excluded.value if result.excluded else "counted")
    return result


async def _count(store: Store, site: Site, hit: Hit, path: str) -> HitResult:
    now = store.clock.now()
    periods = Periods.of(now, site.tz, site.first_weekday)
    keys = store.keys.site(site.id)
    salt = await store.salts.salt(store.redis, keys, site, periods.today, now)
    visitor = visitor_id(salt, site.id, hit.client_ip, hit.user_agent)
    now_ms = int(now.timestamp() * 1000)
    limits = store.settings
    raw = await store.scripts.record_hit(
        keys=[
            keys.last_seen,
            keys.pageviews_by_day,
            keys.visits_by_day,
            keys.totals,
            keys.page_views,
            keys.open_days,
            keys.visitors_hll(periods.today),
            keys.visitors_week_hll(week_start(periods.today, site.first_weekday)),
            keys.visitors_month_hll(month_start(periods.today)),
            keys.visitors_by_day,
            keys.summary,
            keys.rate(now_ms // (RATE_WINDOW_S * 1000)),
            keys.excluded(periods.today),
        ],
        args=[
            periods.today.isoformat(),
            visitor,
            now_ms,
            site.session_timeout_s * 1000,
            site.online_window_s * 1000,
            hit.event.value,
            path,
            WEEK_HLL_TTL_S,
            MONTH_HLL_TTL_S,
            limits.rate_per_visitor_per_min,
            address_id(salt, site.id, hit.client_ip),
            limits.rate_per_address_per_min,
            limits.rate_per_site_per_min,
            RATE_TTL_S,
            EXCLUDED_TTL_S + seconds_until_end_of_day(now, site.tz),
        ],
    )
    page_views, _new_visit, online, pageviews_today, visits_today, raw_summary, reason = raw
    summary = decode_summary(raw_summary)
    if reason:
        today = periods.today.isoformat()
        box = box_numbers(summary, site.measure.value, today, int(page_views), int(online))
        return HitResult(False, Exclusion(_text(reason)), box)
    live = None
    if hit.event is Event.pageview:
        live = {"pageviews": int(pageviews_today), "visits": int(visits_today)}
    box = box_numbers(
        summary, site.measure.value, periods.today.isoformat(), int(page_views), int(online), live
    )
    return HitResult(True, None, box)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def summary_max_age(interval_s: float) -> timedelta:
    """A summary older than this is marked stale: three missed passes, at least 15 s."""
    return timedelta(seconds=max(15.0, 3 * interval_s))
