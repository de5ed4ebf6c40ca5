"""NukeViet 4 (nukeviet/nukeviet): its counter table and its news articles' views.

``<prefix>_counter`` (``c_type``, ``c_val``, ``c_count``; install/action_mysql.php), which
includes/core/stat.php bumps once per visit (a 30-minute cookie): ``total/hits`` is all time,
``year/YYYY`` each year, ``month/Jan…Dec`` the months of the year of ``c_time/last`` (reset
when a year begins), ``day/01…31`` the days of the month of ``c_time/last`` (reset when a
month begins; older days are not kept, so they stay in the all time, its year and its month
only). The years and months are carried as whole periods, so "this year", "last year" and
"this month" show NukeViet's figures, not only the days it kept. Articles:
``<prefix>_<lang>_<module>_rows.hitstotal``, their URL built from the category's and the
article's alias (modules/news/functions.php) by ``--url-pattern``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from counter.figures.carryover import Carry, PeriodTotal
from counter.figures.oldcounters.options import Options, day_row, fill
from counter.figures.oldcounters.source import (
    SourceUnreadable,
    mysql,
    sql_identity,
    table_prefix,
)
from counter.periods import SPAN_NAMED
from counter.sites import Measure

DEFAULT_PREFIX = "nv4"
# Its month rows' c_val (month/Jan…Dec), January first.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
DEFAULT_URL_PATTERN = "/{lang}/{module}/{cat}/{alias}-{id}.html"
SHOWN = Measure.visits


def article_url(pattern: str, **fields: str | int) -> str:
    try:
        return pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise SourceUnreadable(
            f"--url-pattern {pattern!r}: {exc}; use {{lang}} {{module}} {{cat}} {{alias}} {{id}}"
        ) from None


def read(options: Options) -> Carry:
    prefix = table_prefix(options.table_prefix, DEFAULT_PREFIX)
    if not options.lang.isalnum() or not options.module.replace("_", "").isalnum():
        raise SourceUnreadable("--lang and --module may hold only letters, digits and '_'")
    counter = f"{prefix}_counter"
    rows_table = f"{prefix}_{options.lang}_{options.module}_rows"
    cat_table = f"{prefix}_{options.lang}_{options.module}_cat"
    pattern = options.url_pattern or DEFAULT_URL_PATTERN
    article_url(pattern, lang="vi", module="news", cat="c", alias="a", id=1)
    tz = options.site.tz
    with mysql(options.source, options.progress) as db:
        db.require(counter, f"NukeViet's counter; is --table-prefix {prefix!r} right?")
        found = {
            (str(t), str(v)): int(c)
            for t, v, c in db.rows(
                f"SELECT c_type, c_val, c_count FROM `{counter}` "  # noqa: S608 (checked prefix)
                "WHERE c_type IN ('total', 'year', 'month', 'day', 'c_time')"
            )
        }
        if ("total", "hits") not in found:
            raise SourceUnreadable(f"{counter} has no total/hits row: is it NukeViet's counter?")
        total = found[("total", "hits")]
        last = found.get(("c_time", "last"), 0)
        days = []
        periods = [
            PeriodTotal(SPAN_NAMED["year"], date(int(value), 1, 1), fill({SHOWN: count}, SHOWN))
            for (kind, value), count in found.items()
            if kind == "year" and value.isdigit() and len(value) == 4 and int(value) >= 1970
        ]
        notes = [f"NukeViet counter {counter}: all time {total:,} visits"]
        if last > 0:
            month = datetime.fromtimestamp(last, UTC).astimezone(tz).date()
            for (kind, value), count in found.items():
                if kind != "day" or not value.isdigit() or count <= 0:
                    continue
                number = int(value)
                if 1 <= number <= month.day:
                    day = date(month.year, month.month, number)
                    days.append(day_row(day, {SHOWN: count}, SHOWN))
            # The months of last's year, up to its own (a later one is last year's, or zero).
            for number, name in enumerate(MONTHS[: month.month], start=1):
                if ("month", name) in found:
                    start = date(month.year, number, 1)
                    counts = fill({SHOWN: found[("month", name)]}, SHOWN)
                    periods.append(PeriodTotal(SPAN_NAMED["month"], start, counts))
            notes.append(f"days of {month:%Y-%m} (NukeViet keeps no older days)")
        pages: dict[str, int] = {}
        tables = db.tables()
        if rows_table in tables:
            cats = {}
            if cat_table in tables:
                query = f"SELECT catid, alias FROM `{cat_table}`"  # noqa: S608
                cats = {int(i): str(a) for i, a in db.rows(query)}
            for article, catid, alias, hits in db.stream(
                f"SELECT id, catid, alias, hitstotal FROM `{rows_table}` WHERE hitstotal > 0"  # noqa: S608
            ):
                url = article_url(
                    pattern,
                    lang=options.lang,
                    module=options.module,
                    cat=cats.get(int(catid), ""),
                    alias=str(alias),
                    id=int(article),
                )
                pages[url] = pages.get(url, 0) + int(hits)
            notes.append(f"articles of {rows_table}, URLs as {pattern}")
        else:
            notes.append(f"no {rows_table}: no article views")
    return Carry(
        source=sql_identity("nukeviet", db.location, prefix),
        read_from=db.location.label,
        format="nukeviet",
        days=days,
        totals=fill({SHOWN: total}, SHOWN),
        pages=pages,
        periods=periods,
        notes=notes,
    )
