"""Carrying an old counter over: what it holds (:class:`Carry`, read by
``counter.figures.oldcounters``), what that would write here (:func:`plan`), and writing it
(:func:`apply`).

Through the machinery that already exists: its days are history rows (``import_rows``,
import_day.lua), its all time beyond those days moves the offsets with a ledger entry
(``carry_totals``, the ledger `sites adjust` writes), its pages' views are carried into the
hash every hit bumps (``carry_pages``). Each part remembers what this source brought, so a
second run changes nothing, and nothing counted here meanwhile is lost or doubled:

- a day the store counted itself (or another source set) is kept as it is, and the old
  counter's figure for it leaves its all time too, so the day is not counted twice;
- today and later are never history (not over yet); the old counter's count of them stays in
  its all time, which the offset carries;
- the all time never drops (issue 14: only through the ledger, as `sites adjust` lowers it):
  an old counter that now shows less than it did when last carried (a database restored from
  an older backup), or days set lower, leave the all time where it was; the offset it carries
  is raised by what would be lost, never below zero (:attr:`Plan.held`), and the plan says so.

An old counter that keeps whole periods (NukeViet's year/2026, month/Nov) carries each one's
figure beyond the days it brought into that period's field of the offsets hash
(``counter.keys.period_offset``), which the summary adds to the period: "this year" shows
the old counter's year, not just the days of this month it kept.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from counter.figures.adjustments import carry_totals
from counter.figures.imports import DayRow, import_rows
from counter.figures.pages import carry_pages
from counter.keys import period_offset
from counter.periods import Span, local_date
from counter.sites import Measure, Site
from counter.storage.store import Store

MEASURES = tuple(Measure)


@dataclass(frozen=True, slots=True)
class PeriodTotal:
    """An old counter's figure for one whole period of ``span`` (the one that begins
    ``start``), its days included: NukeViet's year/2026 or month/Nov."""

    span: Span
    start: date
    counts: dict[Measure, int]


@dataclass(frozen=True, slots=True)
class Carry:
    """An old counter's figures, as read from its own data.

    ``source`` is what the data is, and so what decides that an import was already applied
    (the ledger entries, the pages carried, the days set are all keyed by it): the format with
    the database and table prefix, the Redis key prefix and hosts, or a file's content, never
    where it was reached. The same data read through another host name, port, user or a
    copied file is the same source, so it is not carried twice. ``read_from`` says where it
    was read this time (no password), for the plan and the ledger only. ``totals`` is its all
    time per measure it keeps, days included; ``None`` means it keeps none beyond its days (a
    CSV)."""

    source: str
    format: str
    read_from: str = ""
    days: list[DayRow] = field(default_factory=list)
    totals: dict[Measure, int] | None = None
    pages: dict[str, int] = field(default_factory=dict)
    periods: list[PeriodTotal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader saw (shown in the plan)
    overwrite_days: bool = False  # the daily CSV: a row sets its day, whoever counted it


@dataclass(frozen=True, slots=True)
class Plan:
    site: Site
    carry: Carry
    days: list[DayRow]  # rows to set
    kept: list[date]  # days the store counted itself: left as they are
    later: int  # rows of today or later: not history, in the all time only
    carried: dict[Measure, int]  # the all time beyond the days, per measure
    before: dict[Measure, int]  # all time now (counted + offset), per measure
    periods: dict[str, int] = field(default_factory=dict)  # period offset field -> beyond days
    held: dict[Measure, int] = field(default_factory=dict)  # added to carried: no drop, per measure

    def describe(self) -> list[str]:
        c = self.carry
        lines = [f"import {c.format} into {self.site.id} from {c.read_from or c.source}"]
        if c.read_from:
            lines.append(f"  source: {c.source} (what decides it was imported already)")
        lines += [f"  {note}" for note in c.notes]
        if self.days:
            lines.append(
                f"  history: {len(self.days)} day(s), "
                f"{self.days[0].day.isoformat()} to {self.days[-1].day.isoformat()}"
            )
        else:
            lines.append("  history: no days")
        if self.kept:
            lines.append(f"  kept as counted here: {len(self.kept)} day(s)")
        if self.later:
            lines.append(f"  not over yet (all time only): {self.later} day(s)")
        if c.totals is not None:
            for measure in MEASURES:
                lines.append(
                    f"  all time {measure.value}: old counter {c.totals.get(measure, 0):,}, "
                    f"now {self.before[measure]:,}"
                )
        if c.totals is not None or self.held:
            carried = ", ".join(f"{self.carried[m]:,} {m.value}" for m in MEASURES)
            lines.append(
                f"  carried beyond its days: {carried} (never negative: an import never lowers "
                "the all time)"
            )
        for measure, count in self.held.items():
            lines.append(
                f"  all time {measure.value}: would drop by {count:,} (the old counter shows less "
                f"than was carried from it, or its days are lower): kept at "
                f"{self.before[measure]:,}, as an import never lowers the all time; "
                "`sites adjust` lowers it, on the record"
            )
        for period in c.periods:
            shown = self.site.measure
            beyond = self.periods[period_offset(shown.value, period.span, period.start)]
            lines.append(
                f"  {period.span.name} {period.start.strftime(period.span.bucket_format)}: "
                f"old counter {period.counts.get(shown, 0):,} {shown.value}, "
                f"{beyond:,} beyond its days"
            )
        lines.append(f"  pages: {len(c.pages):,} ({sum(c.pages.values()):,} views)")
        return lines


async def plan(store: Store, site_id: str, carry: Carry) -> Plan:
    """What ``carry`` would write; reads the store, writes nothing."""
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    today = local_date(store.clock.now(), site.tz)
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.hkeys(keys.pageviews_by_day)
        pipe.hgetall(keys.imported_days)
        pipe.hgetall(keys.totals)
        pipe.hgetall(keys.offsets)
        pipe.lrange(keys.adjustments, 0, -1)
        counted_days, imported, totals, offsets, ledger = await pipe.execute()
    counted = {d.decode() for d in counted_days}
    ours = {k.decode(): v.decode() for k, v in imported.items()}
    before = {
        m: int(totals.get(m.value.encode(), 0)) + int(offsets.get(m.value.encode(), 0))
        for m in MEASURES
    }
    days: list[DayRow] = []
    kept: list[date] = []
    later = 0
    brought = dict.fromkeys(MEASURES, 0)  # the old counter's figures of the days it brought
    brought_in = {(p.span.name, p.start): dict.fromkeys(MEASURES, 0) for p in carry.periods}
    for row in sorted(carry.days, key=lambda r: r.day):
        if row.day >= today:
            later += 1
            continue
        iso = row.day.isoformat()
        if carry.overwrite_days or iso not in counted or ours.get(iso) == carry.source:
            days.append(row)
        else:
            kept.append(row.day)
        counts = {
            Measure.pageviews: row.pageviews,
            Measure.visits: row.visits,
            Measure.visitors: row.visitors,
        }
        # A day kept as counted here leaves the old counter's periods as it leaves its all
        # time: the day's own row is in the period's sum either way.
        for total in (
            brought,
            *(
                brought_in[(p.span.name, p.start)]
                for p in carry.periods
                if p.span.start(row.day, site.first_weekday) == p.start
            ),
        ):
            for measure, count in counts.items():
                total[measure] += count
    carried = dict.fromkeys(MEASURES, 0)
    if carry.totals is not None:
        # An old counter whose days add up to more than its all time (a purged total): its
        # days stand, nothing more is carried.
        carried = {m: max(0, carry.totals.get(m, 0) - brought[m]) for m in MEASURES}
    # Likewise each whole period the old counter keeps: what it held beyond the days it brought
    # (today's count stays in it, as in the all time), never below zero.
    periods = {
        period_offset(m.value, p.span, p.start): max(
            0, p.counts.get(m, 0) - brought_in[(p.span.name, p.start)][m]
        )
        for p in carry.periods
        for m in MEASURES
    }
    held = await _no_drop(store, site, carry.source, days, ledger, carried)
    return Plan(site, carry, days, kept, later, carried, before, periods, held)


async def _no_drop(
    store: Store,
    site: Site,
    source: str,
    days: list[DayRow],
    ledger: list[bytes],
    carried: dict[Measure, int],
) -> dict[Measure, int]:
    """Raise ``carried`` (in place) so that writing the plan leaves each measure's all time at
    least where it is; returns what was added. The all time moves by each day set (its new row
    minus the one it replaces, import_day.lua) and by ``carried`` minus what this source's last
    ledger entry carried (carry_totals.lua reads the same entry)."""
    previous: dict[str, Any] = {}
    for raw in reversed(ledger):
        entry = orjson.loads(raw)
        if entry.get("source") == source and isinstance(entry.get("carried"), dict):
            previous = entry["carried"]
            break
    moved = {m: carried[m] - int(previous.get(m.value, 0)) for m in MEASURES}
    if days:
        keys = store.keys.site(site.id)
        dates = [row.day.isoformat() for row in days]
        async with store.redis.pipeline(transaction=False) as pipe:
            for key in (keys.pageviews_by_day, keys.visits_by_day, keys.visitors_by_day):
                pipe.hmget(key, dates)
            old_pageviews, old_visits, old_visitors = await pipe.execute()
        for row, pv, vi, vr in zip(days, old_pageviews, old_visits, old_visitors, strict=True):
            moved[Measure.pageviews] += row.pageviews - int(pv or 0)
            moved[Measure.visits] += row.visits - int(vi or 0)
            moved[Measure.visitors] += row.visitors - int(vr or 0)
    held = {m: -moved[m] for m in MEASURES if moved[m] < 0}
    for measure, count in held.items():
        carried[measure] += count
    return held


@dataclass(frozen=True, slots=True)
class Outcome:
    days_changed: int
    pages_changed: int
    page_views_added: int
    entry: dict[str, Any] | None  # the adjustments ledger entry, None when nothing changed


async def apply(
    store: Store, planned: Plan, progress: Callable[[int], None] | None = None
) -> Outcome:
    """Write ``planned``: the days, the pages, then the offsets and the ledger entry.

    The days move the totals first (import_day.lua), the offsets then carry the rest, raised by
    the plan where the days or the old counter went down (:attr:`Plan.held`): once written,
    the all-time figure is where it was or higher."""
    site, carry = planned.site, planned.carry
    source = carry.source
    days_changed = await import_rows(
        store,
        site.id,
        planned.days,
        source=None if carry.overwrite_days else source,
        progress=progress,
    )
    pages_changed, views_added = await carry_pages(store, site.id, source, carry.pages, progress)
    details = {
        "format": carry.format,
        "read_from": carry.read_from,
        "totals_before": {m.value: planned.before[m] for m in MEASURES},
        "days": days_changed,
        "days_kept": len(planned.kept),
        "pages": pages_changed,
        "page_views_added": views_added,
    }
    if planned.periods:
        details["periods"] = planned.periods  # carried into the offsets hash by carry_totals.lua
    entry = await carry_totals(
        store,
        site.id,
        source,
        planned.carried,
        f"import {carry.format}",
        details,
        force_entry=bool(days_changed or pages_changed),
    )
    return Outcome(days_changed, pages_changed, views_added, entry)
