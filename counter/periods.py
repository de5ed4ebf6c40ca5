"""Calendar periods in a site's own timezone: local days, weeks and months, never UTC days."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import IntEnum
from zoneinfo import ZoneInfo


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


def month_start(day: date) -> date:
    return day.replace(day=1)


def previous_month_start(day: date) -> date:
    return month_start(month_start(day) - timedelta(days=1))


def days_between(first: date, last: date) -> list[date]:
    """Every date from ``first`` to ``last`` inclusive (empty when first > last)."""
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True, slots=True)
class Periods:
    """The calendar periods the box shows, as of one local day."""

    today: date
    week_start: date
    month_start: date

    @classmethod
    def of(cls, instant: datetime, tz: ZoneInfo, first: WeekStart) -> Periods:
        today = local_date(instant, tz)
        return cls(today=today, week_start=week_start(today, first), month_start=month_start(today))

    @property
    def yesterday(self) -> date:
        return self.today - timedelta(days=1)

    @property
    def last_week_start(self) -> date:
        return self.week_start - timedelta(days=7)

    @property
    def last_month_start(self) -> date:
        return previous_month_start(self.today)

    def ranges(self) -> dict[str, tuple[date, date]]:
        """Period name -> (first day, last day), inclusive."""
        return {
            "today": (self.today, self.today),
            "yesterday": (self.yesterday, self.yesterday),
            "week": (self.week_start, self.today),
            "last_week": (self.last_week_start, self.week_start - timedelta(days=1)),
            "month": (self.month_start, self.today),
            "last_month": (self.last_month_start, self.month_start - timedelta(days=1)),
        }

    def days_needed(self) -> list[date]:
        """Every day any period covers, oldest first."""
        first = min(self.last_week_start, self.last_month_start)
        return days_between(first, self.today)
