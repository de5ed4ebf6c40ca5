"""Vinaora Visitors Counter for Joomla (vinaora/vinaora-visitors-counter and its 1.x/2.0).

- 2.5: ``#__vvisit_counter`` (``time``, ``visits``, ``guests``, ``bots``, ``members``;
  plg_vvisit_counter/sql/install.mysql.noutf8.sql): one row per slot, ``time`` its end, and
  the module sums ``time > start AND time <= stop``, so a row belongs to the local day of the
  second before ``time``.
- 2.0: ``#__vvcounter_logs``, the same columns and the same reading.
- 1.x: ``#__vvisitcounter`` (``id``, ``tm``, ``ip``): one row per visit; its box showed
  MAX(id) as all time (old rows may have been deleted). Its ``ip`` column is never read.

The module's ``initialvalue`` (added to the box's all time) is ``--initial-value``. The box
counts visits (bots included, as it showed them).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from counter.figures.carryover import Carry
from counter.figures.oldcounters.options import Options, day_row, fill
from counter.figures.oldcounters.source import (
    Database,
    SourceUnreadable,
    mysql,
    sql_identity,
    table_prefix,
)
from counter.sites import Measure

DEFAULT_PREFIX = "jos_"
SHOWN = Measure.visits
TABLES = {"2.5": "vvisit_counter", "2.0": "vvcounter_logs", "1.x": "vvisitcounter"}
VERSIONS = tuple(TABLES)


def _version(db: Database, prefix: str, asked: str | None) -> str:
    if asked is not None:
        if asked not in TABLES:
            raise SourceUnreadable(f"--version must be one of {', '.join(VERSIONS)}")
        db.require(prefix + TABLES[asked], f"Vinaora {asked}; is --table-prefix {prefix!r} right?")
        return asked
    tables = db.tables()
    for version, table in TABLES.items():
        if prefix + table in tables:
            return version
    raise SourceUnreadable(
        f"no Vinaora table ({', '.join(prefix + t for t in TABLES.values())}) in "
        f"{db.location.label}; is --table-prefix {prefix!r} right?"
    )


def read(options: Options) -> Carry:
    prefix = table_prefix(options.table_prefix, DEFAULT_PREFIX)
    if not 0 <= options.initial_value <= 10**12:
        raise SourceUnreadable("--initial-value must be between 0 and 10^12")
    tz = options.site.tz
    per_day: dict[date, int] = {}
    with mysql(options.source, options.progress) as db:
        version = _version(db, prefix, options.version)
        table = prefix + TABLES[version]
        if version == "1.x":
            (top,) = db.rows(f"SELECT COALESCE(MAX(id), 0) FROM `{table}`")[0]  # noqa: S608
            total = int(top)
            for (tm,) in db.stream(f"SELECT tm FROM `{table}`"):  # noqa: S608
                day = datetime.fromtimestamp(int(tm), UTC).astimezone(tz).date()
                per_day[day] = per_day.get(day, 0) + 1
        else:
            total = 0
            second = timedelta(seconds=1)
            for end, visits in db.stream(f"SELECT `time`, visits FROM `{table}`"):  # noqa: S608
                day = (datetime.fromtimestamp(int(end), UTC) - second).astimezone(tz).date()
                per_day[day] = per_day.get(day, 0) + int(visits)
                total += int(visits)
        # The table names the version, so the prefix and the version make the identity.
        source = sql_identity(f"vinaora {version}", db.location, prefix)
        read_from = db.location.label
    total += options.initial_value
    notes = [
        f"Vinaora Visitors Counter {version} ({table}): all time {total:,} visits"
        + (f", initial value {options.initial_value:,} included" if options.initial_value else "")
    ]
    days = [day_row(day, {SHOWN: n}, SHOWN) for day, n in sorted(per_day.items()) if n > 0]
    return Carry(
        source=source,
        read_from=read_from,
        format=f"vinaora {version}",
        days=days,
        totals=fill({SHOWN: total}, SHOWN),
        notes=notes,
    )
