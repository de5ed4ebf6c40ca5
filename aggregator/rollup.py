"""One aggregation pass: close finished days, prune presence, write every site's summary.

With snapshots, a pass publishes its summaries only once the snapshot that covers them is on
disk (issue 12): a loss right after can then take back nothing the boxes showed, beyond the
hits the workers' journals bring back.

Cost grows with the number of sites, not with hits: each phase is one pipelined round trip
per chunk of sites. Every step is idempotent, so a second pass (or a second aggregator)
changes nothing.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from redis.commands.core import AsyncScript

from aggregator.snapshot import Fingerprint, RestoreReport, Snapshots, StoreLost
from counter.figures.summary import (
    HISTORY_ORDER,
    build_summary,
    parse_read_site,
    read_site_call,
    reconciliation_gap,
)
from counter.figures.top import TOP_KEEP
from counter.periods import Periods
from counter.replies import text
from counter.sites import Site
from counter.storage.store import Store

log = logging.getLogger("visitor_stats.aggregator")

CHUNK = 250
PRESENCE_CHUNK = 1_000  # visitors a presence call takes at most: a ms or two of the store
COUNTING_TTL_S = 300  # a count afresh that stopped midway is let go, and begun anew
CURSOR_TTL_S = 3600  # (and up to 10 min more) then each site's readers are counted afresh
DURABLE_READS = 5  # per site, for its fingerprint: see _pass_over


@dataclass
class PassReport:
    sites: int = 0
    days_closed: int = 0
    mismatches: dict[str, int] = field(default_factory=dict)
    summaries: dict[str, dict[str, Any]] = field(default_factory=dict)
    # What a snapshot must keep up with, per site (aggregator/snapshot.py).
    fingerprints: dict[str, Fingerprint] = field(default_factory=dict)
    restored: RestoreReport | None = None
    snapshots_written: int = 0
    pages_pruned: int = 0
    titles_pruned: int = 0


def _chunks(items: Sequence[Site], size: int) -> Iterable[Sequence[Site]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _decode_days(members: Iterable[Any]) -> list[date]:
    days = []
    for member in members:
        day = text(member)
        try:
            days.append(date.fromisoformat(day))
        except ValueError:
            log.warning("ignoring malformed open day %r", day)
    return days


async def run_pass(
    store: Store,
    now: datetime,
    only: Iterable[str] | None = None,
    snapshots: Snapshots | None = None,
) -> PassReport:
    """One pass; with ``snapshots``, restore lost data first and snapshot changes after."""
    restored = await snapshots.restore_if_needed() if snapshots is not None else None
    sites = await store.registry.all()
    if only is not None:
        wanted = set(only)
        sites = [s for s in sites if s.id in wanted]
    report = PassReport(sites=len(sites), restored=restored)
    # A site restored from its snapshot just now publishes no summary in this pass: what the
    # workers acknowledged after that snapshot comes back from their journals within a tick
    # (counter/record/journal.py), and until the next pass the box keeps the last summary it
    # showed, which a summary of the snapshot alone would undercut.
    held = set(restored.sites_added) if restored is not None else set()
    for chunk in _chunks(sites, CHUNK):
        await _pass_over(store, now, chunk, report, held)
    if snapshots is not None:
        # Before publishing: a summary never shows what a loss could take back (a write that
        # fails fails the pass, and the boxes keep what they showed).
        try:
            report.snapshots_written = await snapshots.write(sites, report.fingerprints)
        except StoreLost as lost:
            log.warning("%s: nothing published, the next pass restores", lost)
            report.summaries = {}
            return report
    summaries = list(report.summaries.items())
    for start in range(0, len(summaries), CHUNK):
        batch = store.batch()
        for site_id, summary in summaries[start : start + CHUNK]:
            batch.command("set", store.keys.site(site_id).summary, orjson.dumps(summary))
        await batch.execute()
    return report


async def live_pages(store: Store, sites: Sequence[Site], now_ms: int) -> dict[str, int]:
    """Who reads which page now, and the presence no longer needed let go; crawlers online,
    by site. The hit script keeps each page's readers as visitors move; a pass moves the
    online cursor to the window's start, and the visitors it passes leave their pages
    (online_expire.lua), so it costs what left the window, not all who are in it. A site
    without a cursor is counted afresh (live_pages.lua). Each step takes a chunk of visitors
    a call, so no call holds the store for long."""
    since = {site.id: now_ms - site.online_window_s * 1000 for site in sites}
    keys = {site.id: store.keys.site(site.id) for site in sites}
    afresh: dict[str, int] = {}

    def moved(site_id: str, reply: Any) -> bool:
        if int(reply) < 0:  # no cursor, or one ahead of the window
            afresh[site_id] = since[site_id]
        return int(reply) != 0

    await _in_rounds(
        store,
        store.scripts.online_expire,
        {s: (keys[s].online_expire_keys(), [since[s], PRESENCE_CHUNK]) for s in since},
        moved,
    )
    # The cursors of many sites, set in one pass, do not all end in the same one.
    await _in_rounds(
        store,
        store.scripts.live_pages,
        {
            s: (
                keys[s].live_pages_keys(),
                [at, PRESENCE_CHUNK, COUNTING_TTL_S, CURSOR_TTL_S + random.randrange(600)],
            )
            for s, at in afresh.items()
        },
        lambda _, done: bool(int(done)),
    )
    # Presence older than both the online window and a session is no longer needed.
    bots: dict[str, int] = {}

    def pruned(site_id: str, reply: Any) -> bool:
        gone, bots[site_id] = int(reply[0]), int(reply[1])
        return gone < PRESENCE_CHUNK

    idle_ms = {site.id: max(site.online_window_s, site.session_timeout_s) * 1000 for site in sites}
    await _in_rounds(
        store,
        store.scripts.prune_presence,
        {
            s: (keys[s].prune_presence_keys(), [since[s], now_ms - idle_ms[s], PRESENCE_CHUNK])
            for s in since
        },
        pruned,
    )
    return bots


async def _in_rounds(
    store: Store,
    script: AsyncScript,
    calls: dict[str, tuple[list[str], list[Any]]],
    done: Callable[[str, Any], bool],
) -> None:
    """Each site's call of ``script`` (its keys, its args) made again until ``done`` (given
    the site and the reply) says so: the scripts keep where they are in the store. Each round
    is one round trip for all the sites left."""
    left = dict(calls)
    while left:
        batch = store.batch()
        for site_keys, args in left.values():
            batch.script(script, site_keys, args)
        for site_id, reply in zip(list(left), await batch.execute(), strict=True):
            if done(site_id, reply):
                del left[site_id]


async def _pass_over(
    store: Store, now: datetime, sites: Sequence[Site], report: PassReport, held: set[str]
) -> None:
    periods = {s.id: Periods.of(now, s.tz, s.first_weekday) for s in sites}
    now_ms = int(now.timestamp() * 1000)
    bots = await live_pages(store, sites, now_ms)

    batch = store.batch()
    for site in sites:
        batch.command("smembers", store.keys.site(site.id).open_days)
    open_days = await batch.execute()

    batch = store.batch()
    closing = []
    for site, members in zip(sites, open_days, strict=True):
        keys = store.keys.site(site.id)
        for day in sorted(_decode_days(members)):
            if day < periods[site.id].today:
                closing.append((site.id, day))
                batch.script(
                    store.scripts.close_day,
                    keys=keys.close_day_keys(day),
                    args=[day.isoformat(), store.settings.closed_day_grace_s],
                )
    for site in sites:
        key_list, args = read_site_call(
            store.keys.site(site.id), periods[site.id], now_ms - site.online_window_s * 1000
        )
        batch.script(store.scripts.read_site, keys=key_list, args=args)
    for site in sites:
        batch.command("hlen", store.keys.site(site.id).page_views)
    for site in sites:
        # What no journal replays, for the snapshot's fingerprint: the ledgers only grow, an
        # import's pages and days are new fields (a changed one writes a ledger entry), and
        # the site keys are few (a revocation rewrites one).
        keys = store.keys.site(site.id)
        batch.command("llen", keys.adjustments)
        batch.command("llen", keys.page_adjustments)
        batch.command("hlen", keys.page_imports)
        batch.command("hlen", keys.imported_days)
        batch.command("hvals", keys.access)
    top_sets = 0  # per site: each span's current and previous period, and all time
    for site in sites:
        # Most viewed: each top set keeps its TOP_KEEP highest pages (the hit script adds a
        # page to every current period), and the titles are counted to see if they outgrew
        # what those sets can name.
        keys = store.keys.site(site.id)
        top = keys.top_keys(periods[site.id])
        top_sets = len(top)
        for key in top:
            batch.command("zremrangebyrank", key, 0, -TOP_KEEP - 1)
        batch.command("hlen", keys.page_titles)
    results = await batch.execute()

    closes, rest = results[: len(closing)], results[len(closing) :]
    for (site_id, day), (closed, visitors) in zip(closing, closes, strict=True):
        if closed:
            report.days_closed += 1
            log.info("closed %s %s (%d visitors)", site_id, day.isoformat(), visitors)
    n = len(sites)
    reads = rest[:n]
    for site, pages in zip(sites, rest[n : 2 * n], strict=True):
        if int(pages) > store.settings.max_pages_per_site:
            report.pages_pruned += await prune_pages(store, site.id)
    durable = rest[2 * n : (2 + DURABLE_READS) * n]
    titles_counted = rest[(2 + DURABLE_READS) * n :][top_sets :: top_sets + 1]
    for site, titles in zip(sites, titles_counted, strict=True):
        if int(titles) > TOP_KEEP * top_sets:
            report.titles_pruned += await prune_titles(store, site.id, periods[site.id])

    for index, (site, raw) in enumerate(zip(sites, reads, strict=True)):
        figures = parse_read_site(raw, periods[site.id])
        figures.online_bots = bots[site.id]
        for measure, gap in reconciliation_gap(figures).items():
            if gap:
                report.mismatches[measure] = report.mismatches.get(measure, 0) + 1
                log.error(
                    "reconciliation: %s history and all-time %s differ by %d",
                    site.id,
                    measure,
                    gap,
                )
        ledgers, page_ledger, page_imports, imported_days, access = durable[
            DURABLE_READS * index : DURABLE_READS * (index + 1)
        ]
        today = figures.days.index(periods[site.id].today)
        report.fingerprints[site.id] = Fingerprint.of(
            figures.totals,
            [
                site.model_dump(mode="json"),
                figures.offsets,
                [int(ledgers), int(page_ledger), int(page_imports), int(imported_days)],
                sorted(text(record) for record in access),
            ],
            periods[site.id].today,
            {m: figures.history_sums[m] - (figures.by_day[m][today] or 0) for m in HISTORY_ORDER},
        )
        if site.id in held:
            continue
        # Published by run_pass, after the snapshot.
        report.summaries[site.id] = build_summary(site, periods[site.id], figures, now)


async def prune_pages(store: Store, site_id: str) -> int:
    """Keep the ``max_pages_per_site`` most viewed pages of a site; returns how many went.

    A site's page views are one field per page, kept for good: a flood of made-up paths would
    grow them without end. Their views stay in the site's totals and history; only the
    least viewed pages lose their own figure. Runs only for a site over the bound, so it
    costs one read of its page views when it does (ties go in path order, so a second run
    removes nothing more).
    """
    key = store.keys.site(site_id).page_views
    views = {text(path): int(n) for path, n in (await store.redis.hgetall(key)).items()}
    excess = len(views) - store.settings.max_pages_per_site
    if excess <= 0:
        return 0
    least = sorted(views, key=lambda path: (views[path], path))[:excess]
    for start in range(0, len(least), 1000):
        await store.redis.hdel(key, *least[start : start + 1000])
    log.warning(
        "%s: kept its %d most viewed pages, dropped %d", site_id, len(views) - excess, excess
    )
    return excess


async def prune_titles(store: Store, site_id: str, periods: Periods) -> int:
    """Drop the titles of pages that none of the site's top sets holds; returns how many went.

    A title is written by each titled pageview, so the hash would grow with every page ever
    seen. A pass calls this only once the titles outnumber what the top sets can name
    (TOP_KEEP each), so it costs one read of the sets when it runs, and afterwards the titles
    are at most that many. Pages still ranked keep their latest title.
    """
    keys = store.keys.site(site_id)
    batch = store.batch()
    for key in keys.top_keys(periods):
        batch.command("zrange", key, 0, -1)
    batch.command("hkeys", keys.page_titles)
    *ranked, titled = await batch.execute()
    kept = {text(path) for members in ranked for path in members}
    orphans = [path for path in titled if text(path) not in kept]
    for start in range(0, len(orphans), 1000):
        await store.redis.hdel(keys.page_titles, *orphans[start : start + 1000])
    return len(orphans)
