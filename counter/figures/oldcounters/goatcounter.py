"""GoatCounter's CSV export (arp242/goatcounter, export.go; format 1 and 2, named by the
number its first header starts with): one row per pageview with its ``Path``, ``Event``,
``Bot``, ``Session`` and ``Date`` (RFC 3339). Events and bots are left out; a day's visits
and visitors are its distinct sessions; its all time is every pageview in the file.

The export is what its first lines are (:data:`IDENTITY_LINES`), not its file name: GoatCounter
writes the hits oldest first, so a copy of a file and a later full export of the same site
begin alike and are one source (a second import carries only what the later one adds), while
an export from a cursor (only newer hits) begins elsewhere and is a source of its own.
"""

from __future__ import annotations

import csv
import gzip
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

from counter.figures.carryover import Carry
from counter.figures.oldcounters.options import Options, day_row
from counter.figures.oldcounters.source import SourceUnreadable, content_identity
from counter.sites import Measure

NEEDED = ("Path", "Event", "Bot", "Session", "Date")
IDENTITY_LINES = 2  # the header and the oldest hit (its session id and instant are its own)


def _lines(path: str, opening: list[str]) -> Iterator[str]:
    """The file's lines; the first :data:`IDENTITY_LINES` of them also kept in ``opening``."""
    file = Path(path)
    try:
        with (
            gzip.open(file, "rt", encoding="utf-8", newline="")
            if path.endswith(".gz")
            else file.open(encoding="utf-8", newline="")
        ) as text:
            for line in text:
                if len(opening) < IDENTITY_LINES:
                    opening.append(line)
                yield line
    except OSError as exc:
        raise SourceUnreadable(f"{path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise SourceUnreadable(f"{path}: not UTF-8 text") from None


def read(options: Options) -> Carry:
    tz = options.site.tz
    opening: list[str] = []
    reader = csv.reader(_lines(options.source, opening))
    try:
        header = next(reader)
    except StopIteration:
        raise SourceUnreadable(f"{options.source}: empty file") from None
    except csv.Error as exc:
        raise SourceUnreadable(f"{options.source}: {exc}") from None
    first = header[0] if header else ""
    if first == "2":
        names = header[1:]  # "2,Path" written unquoted: the number is a field of its own
    elif first.startswith("2,"):
        names = [first[2:], *header[1:]]
    elif first.startswith("1"):
        names = [first[1:], *header[1:]]
    else:
        names = []
    version = first[:1]
    if not names or names[0] != "Path":
        raise SourceUnreadable(
            f"{options.source}: not a GoatCounter export (its header starts with "
            f"'2,Path' or '1Path', this one with {first[:20]!r})"
        )
    missing = [n for n in NEEDED if n not in names]
    if missing:
        raise SourceUnreadable(f"{options.source}: no column {', '.join(missing)}")
    index = {name: names.index(name) for name in NEEDED}
    views: dict[date, int] = {}
    sessions: dict[date, set[str]] = {}
    pages: dict[str, int] = {}
    total = 0
    try:
        for number, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < len(names):
                raise SourceUnreadable(f"{options.source}: line {number} has too few fields")
            event = row[index["Event"]].strip().lower() == "true"
            if event or row[index["Bot"]].strip() not in ("", "0"):
                continue
            try:
                day = datetime.fromisoformat(row[index["Date"]].strip()).astimezone(tz).date()
            except ValueError:
                raise SourceUnreadable(
                    f"{options.source}: line {number}: Date is not RFC 3339"
                ) from None
            path = row[index["Path"]].strip() or "/"
            views[day] = views.get(day, 0) + 1
            sessions.setdefault(day, set()).add(row[index["Session"]])
            if path.startswith("/"):
                pages[path] = pages.get(path, 0) + 1
            total += 1
    except csv.Error as exc:
        raise SourceUnreadable(f"{options.source}: {exc}") from None
    days = []
    for day in sorted(views):
        people = len(sessions[day])
        known = {Measure.pageviews: views[day], Measure.visits: people, Measure.visitors: people}
        days.append(day_row(day, known, Measure.pageviews))
    visits = sum(len(s) for s in sessions.values())
    totals = {Measure.pageviews: total, Measure.visits: visits, Measure.visitors: visits}
    notes = [f"GoatCounter export (format {version}): {total:,} pageviews, {len(days)} day(s)"]
    return Carry(
        source=content_identity("goatcounter", opening),
        read_from=options.source,
        format="goatcounter",
        days=days,
        totals=totals,
        pages=pages,
        notes=notes,
    )
