"""Carrying history in: an old counter's daily rows, from a CSV file."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from counter.errors import InvalidInput
from counter.figures.history import parse_day
from counter.periods import local_date
from counter.storage.store import Store

CSV_FIELDS = ("date", "pageviews", "visits", "visitors")
MAX_COUNT = 10**12


@dataclass(frozen=True, slots=True)
class DayRow:
    day: date
    pageviews: int
    visits: int
    visitors: int


def parse_csv(lines: Iterable[str]) -> Iterator[DayRow]:
    """Rows of ``date,pageviews,visits,visitors`` (a header line is optional)."""
    for number, record in enumerate(csv.reader(lines), start=1):
        if not record or (number == 1 and record[0].strip().lower() == "date"):
            continue
        if len(record) != len(CSV_FIELDS):
            raise InvalidInput(
                f"line {number}: expected {','.join(CSV_FIELDS)}, got {len(record)} fields"
            )
        day = parse_day(record[0].strip(), f"line {number}: date")
        counts = []
        for name, value in zip(CSV_FIELDS[1:], record[1:], strict=True):
            try:
                count = int(value.strip())
            except ValueError:
                raise InvalidInput(f"line {number}: {name} must be a whole number") from None
            if not 0 <= count <= MAX_COUNT:
                raise InvalidInput(f"line {number}: {name} must be between 0 and {MAX_COUNT}")
            counts.append(count)
        yield DayRow(day, *counts)


async def import_rows(
    store: Store,
    site_id: str,
    rows: Iterable[DayRow],
    batch: int = 500,
    *,
    source: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Set each day's history row (days before today only). Returns how many rows changed.

    With ``source`` (an old counter's import, counter/figures/carryover.py) each row set is
    marked as that source's in ``SiteKeys.imported_days``, so a later run knows it may set it
    again; ``progress`` hears how many rows each batch sent."""
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    today = local_date(store.clock.now(), site.tz)
    changed = 0
    pending: list[DayRow] = []

    async def flush() -> None:
        nonlocal changed
        async with store.redis.pipeline(transaction=False) as pipe:
            for row in pending:
                await store.scripts.import_day(
                    keys=keys.import_day_keys(),
                    args=[row.day.isoformat(), row.pageviews, row.visits, row.visitors],
                    client=pipe,
                )
            if source is not None:
                pipe.hset(keys.imported_days, mapping={r.day.isoformat(): source for r in pending})
            results = await pipe.execute()
            changed += sum(int(r) for r in results[: len(pending)])
        if progress is not None:
            progress(len(pending))
        pending.clear()

    for row in rows:
        if row.day >= today:
            raise InvalidInput(f"{row.day.isoformat()} is not over yet; import only finished days")
        pending.append(row)
        if len(pending) >= batch:
            await flush()
    if pending:
        await flush()
    return changed
