"""Recording one hit: the checks, the visitor id, then one round trip to the store."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from counter.bots import is_bot
from counter.errors import InvalidInput, OriginRejected, StoreUnavailable, UnknownSite
from counter.periods import Periods, local_date, seconds_until_end_of_day
from counter.sites import Site
from counter.spam import is_spam_referrer
from counter.spool import SpooledHit
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
    box: dict[str, int]  # page_views, online, today, week, month, total
    spooled: bool = False  # acknowledged, waiting in the spool for the store
    duplicate: bool = False  # a replay of a hit the store had already counted


def box_numbers(
    summary: dict[str, Any] | None,
    measure: str,
    today: str,
    page_views: int,
    online: int,
    live_today: dict[str, int] | None = None,
) -> dict[str, int]:
    """The box's numbers: the last summary, with today's live figures folded in."""
    box = {
        "page_views": page_views,
        "online": online,
        "today": 0,
        "week": 0,
        "month": 0,
        "total": 0,
    }
    same_day = summary is not None and summary.get("date") == today
    if summary is not None:
        box.update(
            today=summary["today"] if same_day else 0,
            week=summary["week"],
            month=summary["month"],
            total=summary["total"],
        )
    if live_today is not None and measure in live_today:
        delta = live_today[measure] - box["today"]
        if delta > 0:
            box["today"] = live_today[measure]
            for period in ("week", "month", "total"):
                box[period] += delta
    return box


async def _record_exclusion(
    store: Store, site: Site, reason: Exclusion, path: str | None = None, *, at: datetime
) -> HitResult:
    """Count an excluded hit by reason, and answer with the box as it stands: one round trip."""
    now = at
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


# The store did not answer (refused, reset, timed out): the hit goes to the spool.
STORE_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, TimeoutError)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A hit with every verdict that needs no store taken, and its id and time fixed."""

    id: str
    at: datetime
    site: str
    url: str
    event: Event
    origin_host: str | None
    bot: bool
    prefetch: bool
    opt_out: bool
    spam: bool


Identify = Callable[[bytes], tuple[str, str]]  # salt -> (visitor id, address id)


def prepare(store: Store, hit: Hit) -> Prepared:
    return Prepared(
        id=secrets.token_hex(8),
        at=store.clock.now(),
        site=hit.site,
        url=hit.url,
        event=hit.event,
        origin_host=host_of(hit.origin or ""),
        bot=is_bot(hit.user_agent),
        prefetch=_is_prefetch(hit.purpose),
        opt_out=hit.opt_out,
        spam=is_spam_referrer(hit.referrer, store.settings.referrer_spam_file),
    )


async def record_hit(store: Store, hit: Hit) -> HitResult:
    """Record one hit of a known site, or count why it was excluded.

    While the store does not answer, the hit is spooled (``HitResult.spooled``) and counted
    when it is back. Raises UnknownSite, InvalidInput (bad url) or OriginRejected (after
    counting it), and StoreUnavailable when the store is down and the spool full or absent.
    """
    prepared = prepare(store, hit)

    def identify(salt: bytes) -> tuple[str, str]:
        return (
            visitor_id(salt, prepared.site, hit.client_ip, hit.user_agent),
            address_id(salt, prepared.site, hit.client_ip),
        )

    if store.spool is None:
        return await _process(store, prepared, identify)
    if store.outage.open:
        return _spool(store, prepared, identify)
    try:
        # One budget for the whole hit: a frozen store would otherwise cost a timeout per
        # call (a site config refresh, the salt, the script). Cut short, a hit is spooled; if
        # its script did run after all, its id makes the replay change nothing.
        async with asyncio.timeout(store.settings.hit_budget_s):
            result = await _process(store, prepared, identify)
    except STORE_DOWN as exc:
        store.outage.failed(exc)
        return _spool(store, prepared, identify)
    store.outage.succeeded()
    return result


async def replay_hit(store: Store, spooled: SpooledHit) -> HitResult:
    """Count a spooled hit at its own time; its id makes a second replay change nothing."""
    prepared = Prepared(
        id=spooled.id,
        at=datetime.fromtimestamp(spooled.at_ms / 1000, tz=UTC),
        site=spooled.site,
        url=spooled.url,
        event=Event(spooled.event),
        origin_host=spooled.origin_host,
        bot=spooled.bot,
        prefetch=spooled.prefetch,
        opt_out=spooled.opt_out,
        spam=spooled.spam,
    )
    return await _process(store, prepared, (spooled.visitor, spooled.address))


def _spool(store: Store, prepared: Prepared, identify: Identify) -> HitResult:
    assert store.spool is not None
    site = store.sites.peek(prepared.site)
    day = local_date(prepared.at, site.tz if site else UTC)
    # With the day's salt at hand the ids are the ones the store would have seen; without it
    # (a new day, a new process) a per-process salt of the day: the visitor may count twice.
    salt = store.salts.cached(prepared.site, day) or store.salts.local(day)
    visitor, address = identify(salt)
    spooled = SpooledHit(
        id=prepared.id,
        at_ms=int(prepared.at.timestamp() * 1000),
        site=prepared.site,
        url=prepared.url,
        event=prepared.event.value,
        origin_host=prepared.origin_host,
        bot=prepared.bot,
        prefetch=prepared.prefetch,
        opt_out=prepared.opt_out,
        spam=prepared.spam,
        visitor=visitor,
        address=address,
    )
    site_label = site.id if site else None
    if not store.spool.append(spooled):
        store.observe(site_label, "dropped")
        raise StoreUnavailable("the store is unavailable and the spool is full; try again later")
    store.observe(site_label, "spooled")
    if store.on_spool is not None:
        store.on_spool(store.spool.pending)
    return HitResult(False, None, {}, spooled=True)


async def _process(store: Store, p: Prepared, identity: Identify | tuple[str, str]) -> HitResult:
    try:
        site = await store.sites.get(p.site)
    except (UnknownSite, InvalidInput):
        store.observe(None, "unknown_site")
        raise
    if p.origin_host is None or not site.allows_host(p.origin_host):
        await _record_exclusion(store, site, Exclusion.origin_rejected, at=p.at)
        shown = p.origin_host or "none"
        raise OriginRejected(f"origin {shown!r} is not one of the domains of site {site.id!r}")
    try:
        path = normalize_path(p.url, site.keep_query)
        url_host = host_of(p.url)  # None for a bare path
        if url_host is not None and not site.allows_host(url_host):
            raise InvalidInput(
                f"url host {url_host[:100]!r} is not one of the domains of site {site.id!r}"
            )
    except InvalidInput:
        await _record_exclusion(store, site, Exclusion.invalid, at=p.at)
        raise
    for excluded, reason in (
        (p.bot, Exclusion.bot),
        (p.prefetch, Exclusion.prefetch),
        (p.opt_out, Exclusion.opt_out),
        (p.spam, Exclusion.spam),
    ):
        if excluded:
            return await _record_exclusion(store, site, reason, path, at=p.at)
    # A hit made now, not replayed from the spool: its id is new, so if the store has seen it,
    # it was this very call's own first attempt (a pipeline redis-py sent again after a
    # dropped connection), and it counted.
    live = callable(identity)
    if callable(identity):  # (spelled out again for the type checker)
        day = local_date(p.at, site.tz)
        keys = store.keys.site(site.id)
        identity = identity(await store.salts.salt(store.redis, keys, site, day, p.at))
    result = await _count(store, site, p, path, identity)
    if live or not result.duplicate:
        store.observe(site.id, result.excluded.value if result.excluded else "counted")
    return result


@dataclass(frozen=True, slots=True)
class HitMinute:
    """What every hit of one site in one minute shares: its local day, the keys of
    ``record_hit.lua`` and the exclusion counts' TTL. A minute never spans local midnight (zone
    offsets are whole minutes), so the day holds for all of it; the TTL, made at the minute's
    first hit, runs at most a minute long, on three days."""

    site: Site
    minute: int
    today: str  # the local date, ISO
    keys: tuple[str, ...]
    excluded_ttl_s: int


def _minute_of(store: Store, site: Site, now: datetime, minute: int) -> HitMinute:
    """The site's current :class:`HitMinute`, made once a minute (and when its config changes)."""
    known = store.hit_minutes.get(site.id)
    if known is not None and known.minute == minute and known.site is site:
        return known
    periods = Periods.of(now, site.tz, site.first_weekday)
    keys = store.keys.site(site.id)
    made = HitMinute(
        site=site,
        minute=minute,
        today=periods.today.isoformat(),
        keys=(
            keys.last_seen,
            keys.pageviews_by_day,
            keys.visits_by_day,
            keys.totals,
            keys.page_views,
            keys.open_days,
            keys.visitors_hll(periods.today),
            keys.visitors_week_hll(periods.week_start),
            keys.visitors_month_hll(periods.month_start),
            keys.visitors_by_day,
            keys.summary,
            keys.rate(minute),
            keys.excluded(periods.today),
            keys.hit_ids(minute),
        ),
        excluded_ttl_s=EXCLUDED_TTL_S + seconds_until_end_of_day(now, site.tz),
    )
    store.hit_minutes[site.id] = made
    return made


async def _count(
    store: Store, site: Site, p: Prepared, path: str, identity: tuple[str, str]
) -> HitResult:
    now = p.at
    visitor, address = identity
    now_ms = int(now.timestamp() * 1000)
    shared = _minute_of(store, site, now, now_ms // (RATE_WINDOW_S * 1000))
    limits = store.settings
    raw = await store.record_hit(
        keys=shared.keys,
        args=[
            shared.today,
            visitor,
            now_ms,
            site.session_timeout_s * 1000,
            site.online_window_s * 1000,
            p.event.value,
            path,
            WEEK_HLL_TTL_S,
            MONTH_HLL_TTL_S,
            limits.rate_per_visitor_per_min,
            address,
            limits.rate_per_address_per_min,
            limits.rate_per_site_per_min,
            RATE_TTL_S,
            shared.excluded_ttl_s,
            p.id,
            limits.hit_id_ttl_s,
        ],
    )
    page_views, _new_visit, online, pageviews_today, visits_today, raw_summary, reason = raw
    summary = decode_summary(raw_summary)
    if reason:
        box = box_numbers(summary, site.measure.value, shared.today, int(page_views), int(online))
        if _text(reason) == "duplicate":
            # Counted before: by the first attempt of this very request, or a replay repeated.
            return HitResult(True, None, box, duplicate=True)
        return HitResult(False, Exclusion(_text(reason)), box)
    live = None
    if p.event is Event.pageview:
        live = {"pageviews": int(pageviews_today), "visits": int(visits_today)}
    box = box_numbers(summary, site.measure.value, shared.today, int(page_views), int(online), live)
    return HitResult(True, None, box)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
