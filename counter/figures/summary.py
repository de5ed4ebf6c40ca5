"""The numbers people see: built from a site's raw figures, stored as one JSON summary.

The aggregator builds and writes summaries; ``/api/stats`` reads one (a single GET), so a read
never recomputes or writes anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import orjson

from counter.keys import SiteKeys, period_offset
from counter.periods import DAY, ESTIMATED, FIGURES, PERIODS, SPANS, TOTAL, Periods
from counter.record.verdicts import Exclusion
from counter.replies import counts
from counter.sites import Measure, Site

MEASURES = tuple(m.value for m in Measure)
HISTORY_ORDER = ("pageviews", "visits", "visitors")  # as read_site.lua returns the sums


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


@dataclass(slots=True)
class RawFigures:
    """What read_site.lua returns, decoded."""

    days: list[date]
    by_day: dict[str, list[int | None]]
    totals: dict[str, int] = field(default_factory=dict)
    offsets: dict[str, int] = field(default_factory=dict)
    online: int = 0
    online_bots: int = 0  # crawlers seen within the online window, never in ``online``
    excluded: dict[str, int] = field(default_factory=dict)
    hll: dict[str, int] = field(default_factory=dict)
    today_closed: bool = False
    yesterday_closed: bool = False
    history_sums: dict[str, int] = field(default_factory=dict)
    prefix_sums: dict[str, list[int]] = field(default_factory=dict)


def read_site_call(
    keys: SiteKeys, periods: Periods, online_since_ms: int
) -> tuple[list[str], list[str]]:
    """KEYS and ARGV for read_site.lua."""
    args = [str(online_since_ms), periods.today.isoformat(), periods.yesterday.isoformat()]
    args += [d.isoformat() for d in periods.days_needed()]
    return keys.read_site_keys(periods), args


def parse_read_site(raw: list[Any], periods: Periods) -> RawFigures:
    pageviews, visits, visitors, totals, offsets, online, excluded, hll, tc, yc, sums = raw
    return RawFigures(
        days=periods.days_needed(),
        by_day={
            "pageviews": [None if v is None else int(v) for v in pageviews],
            "visits": [None if v is None else int(v) for v in visits],
            "visitors": [None if v is None else int(v) for v in visitors],
        },
        totals=counts(totals),
        offsets=counts(offsets),
        online=int(online),
        excluded=counts(excluded),
        hll=dict(zip(PERIODS, (int(v) for v in hll), strict=True)),
        today_closed=bool(tc),
        yesterday_closed=bool(yc),
        history_sums=dict(zip(HISTORY_ORDER, (int(v) for v in sums), strict=True)),
    )


def _period_sum(figures: RawFigures, measure: str, first: date, last: date) -> int:
    """Sum of the daily rows from ``first`` to ``last``: a difference of prefix sums, since
    ``figures.days`` are consecutive (the pass does this 18 times per site)."""
    sums = figures.prefix_sums.get(measure)
    if sums is None:
        sums = [0]
        for value in figures.by_day[measure]:
            sums.append(sums[-1] + (value or 0))
        figures.prefix_sums[measure] = sums
    origin = figures.days[0]
    start = max(0, (first - origin).days)
    stop = min(len(figures.days), (last - origin).days + 1)
    return sums[stop] - sums[start] if stop > start else 0


def _carried(figures: RawFigures, periods: Periods, measure: str) -> dict[str, int]:
    """What an old counter carried into each period beyond its days (NukeViet's year/2026
    less the days it brought; counter/figures/carryover.py), from the offsets hash."""
    out = {}
    for span in SPANS:
        for name in (span.current, span.previous):
            field_name = period_offset(measure, span, periods.starts[name])
            out[name] = figures.offsets.get(field_name, 0)
    return out


def _visitors(figures: RawFigures, periods: Periods) -> dict[str, int]:
    """Unique visitors: a day's closed row, else the live HLL; longer periods by their HLL."""
    rows = dict(zip(figures.days, figures.by_day["visitors"], strict=True))
    closed = {DAY.current: figures.today_closed, DAY.previous: figures.yesterday_closed}
    carried = _carried(figures, periods, "visitors")
    out = {}
    for name, (first, last) in periods.ranges.items():
        if name in closed:
            out[name] = _int(rows.get(first)) if closed[name] else figures.hll[name]
        else:
            # Imported history has rows but no HLL: fall back to the sum of daily uniques.
            out[name] = figures.hll[name] or _period_sum(figures, "visitors", first, last)
        out[name] += carried[name]
    open_today = 0 if figures.today_closed else figures.hll[DAY.current]
    out[TOTAL] = figures.totals.get("visitors", 0) + open_today + figures.offsets.get("visitors", 0)
    return out


def reconciliation_gap(figures: RawFigures) -> dict[str, int]:
    """History minus totals, per measure: all zeros unless something lost or doubled counts."""
    return {m: figures.history_sums[m] - figures.totals.get(m, 0) for m in MEASURES}


def build_summary(
    site: Site, periods: Periods, figures: RawFigures, now: datetime
) -> dict[str, Any]:
    by_measure: dict[str, dict[str, int]] = {}
    for measure in ("visits", "pageviews"):
        carried = _carried(figures, periods, measure)
        values = {
            name: _period_sum(figures, measure, first, last) + carried[name]
            for name, (first, last) in periods.ranges.items()
        }
        values[TOTAL] = figures.totals.get(measure, 0) + figures.offsets.get(measure, 0)
        by_measure[measure] = values
    by_measure["visitors"] = _visitors(figures, periods)
    chosen = by_measure[site.measure.value]
    summary: dict[str, Any] = {
        "site": site.id,
        "measure": site.measure.value,
        "online": figures.online,
        "online_bots": figures.online_bots,
        **{name: chosen[name] for name in FIGURES},
        "visits": by_measure["visits"],
        "pageviews": by_measure["pageviews"],
        "visitors": by_measure["visitors"],
        "excluded": {reason.value: figures.excluded.get(reason.value, 0) for reason in Exclusion}
        | figures.excluded,
        "definitions": definitions(site),
        # How the box prints numbers: the site's language and digit grouping (48.812.107).
        "display": {"locale": site.locale, "grouping": site.grouping},
        "date": periods.today.isoformat(),
        "updated_at": now.astimezone(site.tz).isoformat(timespec="seconds"),
    }
    return summary


def definitions(site: Site) -> dict[str, Any]:
    return {
        "timezone": site.timezone,
        "week_start": site.week_start,
        "online_window_s": site.online_window_s,
        "session_timeout_s": site.session_timeout_s,
        "measure": site.measure.value,
        "estimated": [f"visitors.{period}" for period in ESTIMATED],
    }


def empty_summary(site: Site, periods: Periods, now: datetime) -> dict[str, Any]:
    """What a site shows before its first aggregation pass: zeros, marked stale."""
    figures = RawFigures(
        days=periods.days_needed(),
        by_day={m: [None] * len(periods.days_needed()) for m in MEASURES},
        hll=dict.fromkeys(PERIODS, 0),
        history_sums=dict.fromkeys(MEASURES, 0),
    )
    summary = build_summary(site, periods, figures, now)
    summary["updated_at"] = None
    return summary


def decode_summary(raw: bytes | str | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    summary: dict[str, Any] = orjson.loads(raw)
    return summary


def is_stale(summary: dict[str, Any], now: datetime, max_age: timedelta) -> bool:
    updated = summary.get("updated_at")
    if not updated:
        return True
    return now - datetime.fromisoformat(updated) > max_age


def summary_max_age(interval_s: float) -> timedelta:
    """A summary older than this is marked stale: three missed passes, at least 15 s."""
    return timedelta(seconds=max(15.0, 3 * interval_s))
