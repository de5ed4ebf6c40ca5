"""What a site owner's dashboard reads (issue 15): the range of days it shows, and which ranked
period its most viewed pages come from.

The most viewed pages are read from the ranked sets record_hit.lua keeps per period
(counter/figures/top.py, the same source as ``GET /api/stats/top``), never by scanning the
all-time page views. Those sets exist per calendar period (today, this week, this month, this
year, the ones before, all time), not per arbitrary range of days, so the dashboard shows the
smallest period that holds every day of the range, and says which one it is.
"""

from __future__ import annotations

from datetime import date, timedelta

from counter.errors import InvalidInput
from counter.figures.history import MAX_HISTORY_DAYS, parse_day
from counter.periods import PERIODS, TOTAL, Periods
from counter.storage.store import Store

# Exclusions are counted per local day and kept a few days (counter/record/minute.py), so the
# dashboard's exclusions are today's, whatever the range: the page says so.
EXCLUDED_PERIOD = "today"


def day_range(today: date, days: int, first: str | None, last: str | None) -> tuple[date, date]:
    """The days a dashboard shows: ``first`` to ``last`` when given (YYYY-MM-DD), else the
    last ``days`` days up to today in the site's zone."""
    end = parse_day(last, "to") if last else today
    start = parse_day(first, "from") if first else end - timedelta(days=days - 1)
    if start > end:
        raise InvalidInput("from must not be after to")
    if (end - start).days >= MAX_HISTORY_DAYS:
        raise InvalidInput(f"a dashboard shows at most {MAX_HISTORY_DAYS} days")
    return start, end


def top_period(periods: Periods, start: date, end: date) -> str:
    """The shortest ranked period whose days hold ``start`` to ``end``; all time if none does
    (a range reaching past last year, or one ending in the future)."""
    holding = [
        (last - first, period)
        for period in PERIODS
        for first, last in [periods.ranges[period]]
        if first <= start and end <= last
    ]
    # Ties (the first day of a week is also today) go to the first in PERIODS order.
    return min(holding, key=lambda entry: entry[0])[1] if holding else TOTAL


async def site_periods(store: Store, site_id: str) -> Periods:
    site = await store.sites.get(site_id)
    return Periods.of(store.clock.now(), site.tz, site.first_weekday)
