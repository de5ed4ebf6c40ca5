"""What every old-counter reader is given, and the rows it hands back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from counter.figures.imports import DayRow
from counter.sites import Measure, Site


@dataclass(frozen=True, slots=True)
class Options:
    """The command line's import options; each format reads the ones that concern it."""

    source: str  # mysql://…, redis://… or a file
    site: Site
    now: datetime
    table_prefix: str | None = None
    url_pattern: str | None = None  # nukeviet: its article URLs
    lang: str = "vi"  # nukeviet: the language of its news module
    module: str = "news"  # nukeviet: the news module's name (its tables' module_data)
    version: str | None = None  # vinaora: 2.5, 2.0 or 1.x (None: the tables say)
    initial_value: int = 0  # vinaora: the module's "initialvalue", added to its all time
    sitemap: str | None = None  # busuanzi-redis: the pages' URLs, for their hashed paths
    host: str | None = None  # busuanzi-redis, vercount: the host the old counter keyed
    key_prefix: str = "bsz"  # busuanzi-redis: its Redis.Prefix
    hash: str = "md516"  # busuanzi-redis: its Bsz.Encrypt (MD516 or MD532)
    path_style: bool = True  # busuanzi-redis: its Bsz.PathStyle (false: "host&path")
    # Hears how many rows (SQL, fetched in chunks) or keys (a SCAN batch) each read brought,
    # for the command line's progress on stderr.
    progress: Callable[[int], None] | None = None


def fill(known: dict[Measure, int], shown: Measure) -> dict[Measure, int]:
    """Every measure: those the old counter did not keep take the one its box showed (a day of
    V visits had at least V pageviews and about V visitors; better than showing zero)."""
    return {m: known.get(m, known.get(shown, 0)) for m in Measure}


def day_row(day: date, known: dict[Measure, int], shown: Measure) -> DayRow:
    counts = fill(known, shown)
    return DayRow(day, counts[Measure.pageviews], counts[Measure.visits], counts[Measure.visitors])


def hosts(options: Options) -> list[str]:
    """The hosts an old Redis counter keyed the site under: ``--host``, else its domains."""
    if options.host:
        return [options.host.strip().lower()]
    return [d for d in options.site.domains if not d.startswith("*.")]
