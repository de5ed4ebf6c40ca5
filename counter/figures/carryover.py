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
  its all time, which the offset carries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from counter.figures.adjustments import carry_totals
from counter.figures.imports import DayRow, import_rows
from counter.figures.pages import carry_pages
from counter.periods import local_date
from counter.sites import Measure, Site
from counter.storage.store import Store

MEASURES = tuple(Measure)


@dataclass(frozen=True, slots=True)
class Carry:
    """An old counter's figures, as read from its own data.

    ``source`` names it in the ledgers and must be the same on every run of the same import
    (format, host, database, prefix; never a password). ``totals`` is its all time per measure
    it keeps, days included; ``None`` means it keeps none beyond its days (a CSV)."""

    source: str
    format: str
    days: list[DayRow] = field(default_factory=list)
    totals: dict[Measure, int] | None = None
    pages: dict[str, int] = field(default_factory=dict)
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

    def describe(self) -> list[str]:
        c = self.carry
        lines = [f"import {c.format} into {self.site.id} from {c.source}"]
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
        counted_days, imported, totals, offsets = await pipe.execute()
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
    for row in sorted(carry.days, key=lambda r: r.day):
        if row.day >= today:
            later += 1
            continue
        iso = row.day.isoformat()
        if carry.overwrite_days or iso not in counted or ours.get(iso) == carry.source:
            days.append(row)
        else:
            kept.append(row.day)
        brought[Measure.pageviews] += row.pageviews
        brought[Measure.visits] += row.visits
        brought[Measure.visitors] += row.visitors
    carried = dict.fromkeys(MEASURES, 0)
    if carry.totals is not None:
        # An old counter whose days add up to more than its all time (a purged total): its
        # days stand, nothing more is carried.
        carried = {m: max(0, carry.totals.get(m, 0) - brought[m]) for m in MEASURES}
    return Plan(site, carry, days, kept, later, carried, before)


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

    The days move the totals first (import_day.lua), the offsets then carry the rest: every
    step only raises the all-time figure or leaves it, unless the old counter itself went down
    (which the ledger entry then shows)."""
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
        "totals_before": {m.value: planned.before[m] for m in MEASURES},
        "days": days_changed,
        "days_kept": len(planned.kept),
        "pages": pages_changed,
        "page_views_added": views_added,
    }
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
