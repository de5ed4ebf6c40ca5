"""Calendar periods in a site's own timezone: local days, weeks and months, never UTC days.

Every period the numbers show is named here, once. A :class:`Span` (day, week, month) gives
two periods, its current one and the one before it (today and yesterday, week and
last_week, month and last_month); ``total`` is all time. The summary, the hit's answer, the
metrics, the widget's labels, the command line and the scripts' key lists all take their
periods from :data:`SPANS`: adding a span is one entry here (and its test).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from enum import IntEnum
from zoneinfo import ZoneInfo

DAY_S = 86400


class WeekStart(IntEnum):
    monday = 0
    tuesday = 1
    wednesday = 2
    thursday = 3
    friday = 4
    saturday = 5
    sunday = 6


def local_date(instant: datetime, tz: tzinfo) -> date:
    return instant.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """The instant local midnight begins ``day`` (DST-safe: 23- and 25-hour days)."""
    return datetime.combine(day, time.min, tzinfo=tz)


def seconds_until_end_of_day(instant: datetime, tz: ZoneInfo) -> int:
    day = local_date(instant, tz)
    end = start_of_day(day + timedelta(days=1), tz)
    return max(1, int((end - instant).total_seconds()) + 1)


def week_start(day: date, first: WeekStart) -> date:
    return day - timedelta(days=(day.weekday() - first) % 7)


def month_start(day: date, _first: WeekStart = WeekStart.monday) -> date:
    return day.replace(day=1)


def year_start(day: date, _first: WeekStart = WeekStart.monday) -> date:
    return day.replace(month=1, day=1)


def days_between(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive (empty when first > last)."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class Span:
    """A kind of calendar period; its current and its previous period are figures."""

    name: str
    current: str  # the period holding today: "today", "week", "month"
    previous: str  # the one before it: "yesterday", "last_week", "last_month"
    start: Callable[[date, WeekStart], date]  # the first day of the period holding a day
    # Its visitors HyperLogLog key: ``visitors:<key>:<start formatted so>``
    # (counter/keys.py), and how long that key lives after its first hit (0: until the
    # day is closed, which sets its expiry): through the next period too, for "last week"
    # and "last month", plus a day's grace.
    key: str
    bucket_format: str
    hll_ttl_s: int
    labels: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # locale -> both


SPANS: tuple[Span, ...] = (
    Span(
        "day",
        "today",
        "yesterday",
        lambda day, _first: day,
        key="hll",
        bucket_format="%Y-%m-%d",
        hll_ttl_s=0,
        labels={"vi": ("Hôm nay", "Hôm qua"), "en": ("Today", "Yesterday")},
    ),
    Span(
        "week",
        "week",
        "last_week",
        week_start,
        key="week",
        bucket_format="%Y-%m-%d",
        hll_ttl_s=15 * DAY_S,
        labels={"vi": ("Trong tuần", "Tuần trước"), "en": ("This week", "Last week")},
    ),
    Span(
        "month",
        "month",
        "last_month",
        month_start,
        key="month",
        bucket_format="%Y-%m",
        hll_ttl_s=63 * DAY_S,
        labels={"vi": ("Trong tháng", "Tháng trước"), "en": ("This month", "Last month")},
    ),
    Span(
        "year",
        "year",
        "last_year",
        year_start,
        key="year",
        bucket_format="%Y",
        hll_ttl_s=733 * DAY_S,  # two leap years and a day
        labels={"vi": ("Trong năm", "Năm trước"), "en": ("This year", "Last year")},
    ),
)
DAY = SPANS[0]  # the span whose periods are closed into the daily history
SPAN_NAMED: Mapping[str, Span] = {span.name: span for span in SPANS}
TOTAL = "total"
TOTAL_LABELS = {"vi": "Tất cả", "en": "All time"}

# Every period, current then previous, span by span: the order of the summary's figures
# and of read_site.lua's HyperLogLog keys.
PERIODS: tuple[str, ...] = tuple(p for span in SPANS for p in (span.current, span.previous))
FIGURES: tuple[str, ...] = (*PERIODS, TOTAL)
# What the box shows, and what a live pageview moves at once: each span's current period.
CURRENT: tuple[str, ...] = (*(span.current for span in SPANS), TOTAL)
# Unique visitors of these are HyperLogLog estimates (a day's are closed into exact rows).
ESTIMATED: tuple[str, ...] = tuple(
    p for span in SPANS if span is not DAY for p in (span.current, span.previous)
)


def period_labels(locale: str) -> dict[str, str]:
    """Each period's name in ``locale`` (vi or en), as the box prints it."""
    labels = {}
    for span in SPANS:
        labels[span.current], labels[span.previous] = span.labels[locale]
    return {**labels, TOTAL: TOTAL_LABELS[locale]}


@dataclass(frozen=True, slots=True)
class Periods:
    """The calendar periods the box shows, as of one local day."""

    today: date
    starts: dict[str, date]  # period -> its first day
    ranges: dict[str, tuple[date, date]]  # period -> (first day, last day), inclusive

    @classmethod
    def of(cls, instant: datetime, tz: ZoneInfo, first: WeekStart) -> Periods:
        return cls.of_day(local_date(instant, tz), first)

    @classmethod
    def of_day(cls, today: date, first: WeekStart) -> Periods:
        starts, ranges = {}, {}
        for span in SPANS:
            current = span.start(today, first)
            previous = span.start(current - timedelta(days=1), first)
            starts[span.current], starts[span.previous] = current, previous
            ranges[span.current] = (current, today)
            ranges[span.previous] = (previous, current - timedelta(days=1))
        return cls(today, starts, ranges)

    @property
    def yesterday(self) -> date:
        return self.starts[DAY.previous]

    def days_needed(self) -> list[date]:
        """Every day any period covers, oldest first."""
        return days_between(min(self.starts.values()), self.today)
