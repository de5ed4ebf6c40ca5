"""Recording one hit: the checks, the visitor id, then one round trip to the store."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import (
    ClusterDownError,
    ReadOnlyError,
    SlotNotCoveredError,
    TryAgainError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from counter.errors import (
    InvalidInput,
    OriginRejected,
    StoreRestoring,
    StoreUnavailable,
    UnknownSite,
)
from counter.periods import local_date
from counter.record.answer import Shown, box_numbers, decode
from counter.record.breaker import Outage
from counter.record.hit import Event, Hit
from counter.record.journal import Journal
from counter.record.minute import HLL_TTLS_S, RATE_TTL_S, HitMinute, Minutes
from counter.record.spool import Identity, Prepared, Spool
from counter.record.verdicts import Exclusion, intake_verdict
from counter.record.visitor import SaltBook, address_id, visitor_id
from counter.replies import text
from counter.sites import Site
from counter.storage.coalesce import SLOT, Coalescer, Template
from counter.storage.store import Store
from counter.urls import host_of, normalize_path

# The store did not answer (refused, reset, timed out), or cannot take writes for a moment (a
# Cluster slot whose master is gone, during the failover; a master just demoted to replica):
# the hit goes to the spool. redis-py's SlotNotCoveredError is not even a RedisError.
STORE_DOWN = (
    RedisConnectionError,
    RedisTimeoutError,
    ConnectionError,
    TimeoutError,
    ClusterDownError,
    TryAgainError,
    SlotNotCoveredError,
    ReadOnlyError,
)

# Given the site and the hit, the visitor's ids: hashed now under the day's salt, or as spooled.
Resolve = Callable[[Site, Prepared], Awaitable[Identity]]


def page_path(site: Site, url: str) -> str:
    """The path whose views a hit of ``url`` counts; InvalidInput for a malformed url or one on
    a host outside the site's domains (it would inflate another page's views)."""
    path = normalize_path(url, site.keep_query)
    url_host = host_of(url)  # None for a bare path
    if url_host is not None and not site.allows_host(url_host):
        raise InvalidInput(
            f"url host {url_host[:100]!r} is not one of the domains of site {site.id!r}"
        )
    return path


@dataclass(frozen=True, slots=True)
class HitResult:
    counted: bool
    excluded: Exclusion | None
    box: dict[str, int]  # page_views, online, and each current period (counter/periods.py)
    spooled: bool = False  # acknowledged, waiting in the spool for the store
    duplicate: bool = False  # a replay of a hit the store had already counted


class Recorder:
    """The write path of one process: what its hits share, kept here and nowhere else.

    It owns the ``record_hit.lua`` calls of one event-loop turn sent as one pipeline, each
    site's keys of the current minute, the day's salts, and, in the API, the outage spool
    and its breaker. ``on_outcome`` hears every hit's fate as (site id or None, outcome);
    ``on_spool`` how many hits wait in the spool whenever that changes.
    """

    def __init__(
        self,
        store: Store,
        spool: Spool | None = None,
        on_outcome: Callable[[str | None, str], None] | None = None,
        on_spool: Callable[[int], None] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.store = store
        self.spool = spool  # without one, a store error reaches the caller
        # Counted pageviews no durable snapshot holds yet, kept against a loss of the store.
        self.journal = journal
        self.outage = Outage()
        self.salts = SaltBook()
        self._minutes = Minutes(store.keys)
        self._hit_script = Coalescer(store.redis, store.scripts.record_hit)
        # Each site's packed hit call of the current minute, with the caps it was made with.
        self._hit_calls: dict[str, tuple[HitMinute, tuple[int, ...], Template]] = {}
        self._on_outcome = on_outcome
        self._on_spool = on_spool
        # Each site's last summary a hit saw: its box while the store has none (lost, not yet
        # restored), so the figures a page shows never drop to the few hits since the loss.
        self._summaries: dict[str, dict[str, Any]] = {}
        self._shown = Shown()  # and no answer below the one before it, under one summary

    def observe(self, site: str | None, outcome: str) -> None:
        if self._on_outcome is not None:
            self._on_outcome(site, outcome)

    def spool_changed(self) -> None:
        if self._on_spool is not None and self.spool is not None:
            self._on_spool(self.spool.pending)

    async def record(self, hit: Hit) -> HitResult:
        """Record one hit of a known site, or count why it was excluded.

        While the store does not answer, the hit is spooled (``HitResult.spooled``) and counted
        when it is back. Raises UnknownSite, InvalidInput (bad url) or OriginRejected (after
        counting it), and StoreUnavailable when the store is down and the spool full or absent.
        """
        store = self.store
        prepared = Prepared(
            id=secrets.token_hex(8),
            at=store.clock.now(),
            site=hit.site,
            url=hit.url,
            event=hit.event,
            origin_host=host_of(hit.origin or ""),
            excluded=intake_verdict(hit, store.settings.referrer_spam_file),
        )

        def identify(salt: bytes) -> Identity:
            return (
                visitor_id(salt, prepared.site, hit.client_ip, hit.user_agent),
                address_id(salt, prepared.site, hit.client_ip),
            )

        async def salted(site: Site, p: Prepared) -> Identity:
            day = local_date(p.at, site.tz)
            keys = store.keys.site(site.id)
            return identify(await self.salts.salt(store.redis, keys, site, day, p.at))

        # The title is not spooled (the spool's line format holds what counts): a page whose
        # hits waited out an outage gets its title again from its next pageview.
        title = hit.title or ""
        # A crawler is told apart from others by its user agent alone (never its address),
        # for "crawlers online": a short hash, so no agent string is kept.
        crawler = ""
        if prepared.excluded is Exclusion.bot:
            crawler = hashlib.blake2b(hit.user_agent.encode(), digest_size=6).hexdigest()
        if self.spool is None:
            return await self._process(prepared, salted, live=True, title=title, crawler=crawler)
        if self.outage.open:
            return self._spool(prepared, identify)
        try:
            # One budget for the whole hit: a frozen store would otherwise cost a timeout per
            # call (a site config refresh, the salt, the script). Cut short, a hit is spooled;
            # if its script did run after all, its id makes the replay change nothing.
            async with asyncio.timeout(store.settings.hit_budget_s):
                result = await self._process(
                    prepared, salted, live=True, title=title, crawler=crawler
                )
        except StoreRestoring:
            # The store lost its data and the site is not restored yet: the hit waits in the
            # spool for the registry (one aggregation pass). The store answers: no breaker,
            # or one hit for a bogus site would spool every site's hits.
            return self._spool(prepared, identify)
        except STORE_DOWN as exc:
            self.outage.failed(exc)
            return self._spool(prepared, identify)
        self.outage.succeeded()
        return result

    async def replay(self, prepared: Prepared, identity: Identity) -> HitResult:
        """Count a spooled hit at its own time; its id makes a second replay change nothing."""

        async def as_spooled(_site: Site, _p: Prepared) -> Identity:
            return identity

        return await self._process(prepared, as_spooled, live=False)

    def _spool(self, prepared: Prepared, identify: Callable[[bytes], Identity]) -> HitResult:
        assert self.spool is not None
        site = self.store.sites.peek(prepared.site)
        site_label = site.id if site else None
        # Only what would be stored goes to disk: the page's path, as the site counts it (no
        # query unless the site keeps it, never a fragment). Without the site's config at hand
        # the query goes, and the url's host cannot be checked.
        try:
            path = page_path(site, prepared.url) if site else normalize_path(prepared.url)
        except InvalidInput:
            self.observe(site_label, "invalid")
            raise
        day = local_date(prepared.at, site.tz if site else UTC)
        # With the day's salt at hand the ids are the ones the store would have seen; without
        # it (a new day, a new process) a per-process salt of the day: the visitor may count
        # twice.
        salt = self.salts.cached(prepared.site, day) or self.salts.local(day)
        line = replace(prepared, url=path).to_line(identify(salt))
        if not self.spool.append(line):
            self.observe(site_label, "dropped")
            raise StoreUnavailable(
                "the store is unavailable and the spool cannot take the hit (full, or the "
                "disk refused it); try again later"
            )
        self.observe(site_label, "spooled")
        self.spool_changed()
        return HitResult(False, None, {}, spooled=True)

    async def _process(
        self, p: Prepared, resolve: Resolve, live: bool, title: str = "", crawler: str = ""
    ) -> HitResult:
        try:
            site = await self.store.sites.get(p.site)
        except (UnknownSite, InvalidInput):
            self.observe(None, "unknown_site")
            raise
        if p.origin_host is None or not site.allows_host(p.origin_host):
            await self._exclude(site, Exclusion.origin_rejected, p.at)
            shown = p.origin_host or "none"
            raise OriginRejected(f"origin {shown!r} is not one of the domains of site {site.id!r}")
        try:
            path = page_path(site, p.url)
        except InvalidInput:
            await self._exclude(site, Exclusion.invalid, p.at)
            raise
        if p.excluded is not None:
            return await self._exclude(site, p.excluded, p.at, path, crawler)
        result = await self._count(site, p, path, await resolve(site, p), title)
        # A live hit's id is new, so if the store has seen it, it was this very call's own
        # first attempt (a pipeline redis-py sent again after a dropped connection): it counted.
        if live or not result.duplicate:
            self.observe(site.id, result.excluded.value if result.excluded else "counted")
        return result

    async def _exclude(
        self,
        site: Site,
        reason: Exclusion,
        at: datetime,
        path: str | None = None,
        crawler: str = "",
    ) -> HitResult:
        """Count an excluded hit by reason, and answer with the box as it stands: one round
        trip."""
        minute = self._minutes.of(site, at)
        keys = self.store.keys.site(site.id)
        excluded = keys.excluded(local_date(at, site.tz))
        async with self.store.redis.pipeline(transaction=False) as pipe:
            pipe.hincrby(excluded, reason.value, 1)
            pipe.expire(excluded, minute.excluded_ttl_s, nx=True)
            pipe.get(keys.summary)
            if path is not None:
                pipe.hget(keys.page_views, path)
            if crawler:
                # Pruned by each pass (prune_presence.lua); the expiry bounds it without passes.
                pipe.zadd(keys.bots_seen, {crawler: int(at.timestamp() * 1000)})
                pipe.expire(keys.bots_seen, 2 * site.online_window_s)
            _, _, raw, *rest = await pipe.execute()
            views = rest[:1] if path is not None else []
        self.observe(site.id, reason.value)
        summary = self._summary(site, raw)
        online = int(summary["online"]) if summary else 0
        page_views = int(views[0] or 0) if views else 0
        box = self._shown.floor(
            site.id,
            summary,
            minute.today,
            box_numbers(summary, site.measure.value, minute.today, page_views, online),
        )
        return HitResult(False, reason, box)

    def _summary(self, site: Site, raw: bytes | str | None) -> dict[str, Any] | None:
        summary = decode(raw)
        if summary is None:
            return self._summaries.get(site.id)
        self._summaries[site.id] = summary
        return summary

    def _hit_call(self, shared: HitMinute) -> Template:
        """The site's ``record_hit.lua`` call of this minute, packed once (what changes per
        hit is a slot); made again when the minute, the site's config or a cap changes."""
        limits = self.store.settings
        caps = (
            limits.rate_per_visitor_per_min,
            limits.rate_per_address_per_min,
            limits.rate_per_site_per_min,
            limits.hit_id_ttl_s,
            limits.rate_visitors_per_address_per_min,
            limits.rate_per_page_per_address_per_min,
            limits.rate_new_pages_per_address_per_min,
            limits.rate_shed_above_per_address_per_min,
        )
        known = self._hit_calls.get(shared.site.id)
        if known is not None and known[0] is shared and known[1] == caps:
            return known[2]
        site = shared.site
        call = self._hit_script.template(
            shared.keys,
            [
                shared.today,
                SLOT,  # visitor
                SLOT,  # now, ms
                site.session_timeout_s * 1000,
                site.online_window_s * 1000,
                SLOT,  # event
                SLOT,  # path
                caps[0],
                SLOT,  # address
                caps[1],
                caps[2],
                RATE_TTL_S,
                shared.excluded_ttl_s,
                SLOT,  # hit id
                caps[3],
                *caps[4:],
                SLOT,  # title
                # A top set lives as its span's visitors HLL does; the day's HLL expires when
                # the day is closed, so the day's ranking takes the exclusion counts' expiry
                # (three days past the day's end): "yesterday" reads all through tomorrow.
                *(ttl or shared.excluded_ttl_s for ttl in HLL_TTLS_S),
                *HLL_TTLS_S,
            ],
        )
        self._hit_calls[site.id] = (shared, caps, call)
        return call

    async def _count(
        self, site: Site, p: Prepared, path: str, identity: Identity, title: str
    ) -> HitResult:
        visitor, address = identity
        shared = self._minutes.of(site, p.at)
        raw = await self._hit_script(
            self._hit_call(shared),
            (visitor, int(p.at.timestamp() * 1000), p.event.value, path, address, p.id, title),
        )
        page_views, _new_visit, online, pageviews_today, visits_today, raw_summary, reason = raw[:7]
        summary = self._summary(site, raw_summary)
        measure = site.measure.value
        if reason:
            box = self._shown.floor(
                site.id,
                summary,
                shared.today,
                box_numbers(summary, measure, shared.today, int(page_views), int(online)),
            )
            if text(reason) == "duplicate":
                # Counted before: by the first attempt of this very request, or a replay repeated.
                return HitResult(True, None, box, duplicate=True)
            return HitResult(False, Exclusion(text(reason)), box)
        live = None
        if p.event is Event.pageview:
            live = {"pageviews": int(pageviews_today), "visits": int(visits_today)}
            if self.journal is not None:  # before the answer: what is acknowledged is kept
                self.journal.keep(site.id, raw[7], replace(p, url=path).to_line(identity))
        box = self._shown.floor(
            site.id,
            summary,
            shared.today,
            box_numbers(summary, measure, shared.today, int(page_views), int(online), live),
        )
        return HitResult(True, None, box)
