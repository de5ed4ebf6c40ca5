"""WP Statistics (wp-statistics/wp-statistics): its days, its purged totals, its pages.

Tables (src/Service/Database/Schema/Manager.php; ``visit`` from includes/class-wp-statistics-
install.php before 14.12): ``<prefix>statistics_summary_totals`` (``date``, ``visitors``,
``views``) where it exists; otherwise, per day, ``visitor`` rows (one per visitor a day, its
``hits``) and the older ``visit`` table's views. ``historical`` holds what its purge removed:
``visits`` and ``visitors`` (added to all time) and ``uri`` rows (added to those pages).
``pages`` (``uri``, ``date``, ``count``) gives each page's views. Its "visits" are pageviews;
a visitor of a day counts here as one visit of that day.
"""

from __future__ import annotations

from datetime import date

from counter.figures.carryover import Carry
from counter.figures.oldcounters.options import Options, day_row
from counter.figures.oldcounters.source import (
    SourceUnreadable,
    mysql,
    sql_identity,
    table_prefix,
)
from counter.sites import Measure

DEFAULT_PREFIX = "wp_"
SHOWN = Measure.pageviews


def read(options: Options) -> Carry:
    prefix = table_prefix(options.table_prefix, DEFAULT_PREFIX) + "statistics_"
    views: dict[date, int] = {}
    visitors: dict[date, int] = {}
    notes = []
    with mysql(options.source, options.progress) as db:
        tables = db.tables()
        known = {t.removeprefix(prefix) for t in tables if t.startswith(prefix)}
        if not known & {"summary_totals", "visitor", "visit"}:
            db.require(
                prefix + "visitor", f"WP Statistics; is --table-prefix {prefix[:-11]!r} right?"
            )
        if "visitor" in known:
            for day, people, hits in db.rows(
                f"SELECT last_counter, COUNT(*), COALESCE(SUM(hits), 0) FROM `{prefix}visitor` "  # noqa: S608
                "GROUP BY last_counter"
            ):
                visitors[day] = int(people)
                views[day] = int(hits)
        if "visit" in known:
            for day, count in db.rows(f"SELECT last_counter, visit FROM `{prefix}visit`"):  # noqa: S608
                views[day] = int(count)
        if "summary_totals" in known:
            for day, people, seen in db.rows(
                f"SELECT `date`, visitors, views FROM `{prefix}summary_totals`"  # noqa: S608
            ):
                visitors[day], views[day] = int(people), int(seen)
            notes.append(f"days from {prefix}summary_totals, then visitor/visit")
        purged = {Measure.pageviews: 0, Measure.visitors: 0}
        pages: dict[str, int] = {}
        if "historical" in known:
            for category, uri, value in db.rows(
                f"SELECT category, uri, value FROM `{prefix}historical`"  # noqa: S608
            ):
                if category == "visits":
                    purged[Measure.pageviews] += int(value)
                elif category == "visitors":
                    purged[Measure.visitors] += int(value)
                elif category == "uri" and str(uri).startswith("/"):
                    pages[str(uri)] = pages.get(str(uri), 0) + int(value)
        if "pages" in known:
            for uri, count in db.rows(
                f"SELECT uri, COALESCE(SUM(`count`), 0) FROM `{prefix}pages` GROUP BY uri"  # noqa: S608
            ):
                if str(uri).startswith("/"):
                    pages[str(uri)] = pages.get(str(uri), 0) + int(count)
        label = db.location.label
        source = sql_identity("wp-statistics", db.location, prefix)
    if not (views or visitors or any(purged.values())):
        raise SourceUnreadable(f"{label}: WP Statistics' tables hold no figures")
    days = []
    for day in sorted(set(views) | set(visitors)):
        if not isinstance(day, date):
            continue
        known_counts = {Measure.pageviews: views.get(day, 0)}
        if day in visitors:
            # A day of ``visit`` views without visitor rows (they were purged, or its "record
            # visitors" option was off) keeps its visitors unknown, so it shows its views.
            known_counts[Measure.visitors] = known_counts[Measure.visits] = visitors[day]
        days.append(day_row(day, known_counts, SHOWN))
    # Its days as they are carried (a day without visitor rows included), plus what it purged.
    totals = {
        Measure.pageviews: sum(row.pageviews for row in days) + purged[Measure.pageviews],
        Measure.visitors: sum(row.visitors for row in days) + purged[Measure.visitors],
    }
    totals[Measure.visits] = totals[Measure.visitors]
    notes.insert(
        0,
        f"WP Statistics {prefix}*: all time {totals[Measure.pageviews]:,} views, "
        f"{totals[Measure.visitors]:,} visitors (purged: {purged[Measure.pageviews]:,} views, "
        f"{purged[Measure.visitors]:,} visitors)",
    )
    return Carry(
        source=source,
        read_from=label,
        format="wp-statistics",
        days=days,
        totals=totals,
        pages=pages,
        notes=notes,
    )
