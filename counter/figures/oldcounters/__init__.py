"""Readers of the counters portals use today, each from the schema its own code uses; each
gives a :class:`~counter.figures.carryover.Carry`, which ``counter.figures.carryover`` plans
and writes. Reading never writes to the old counter."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from counter.errors import InvalidInput
from counter.figures.carryover import Carry
from counter.figures.imports import parse_csv
from counter.figures.oldcounters import (
    busuanzi,
    goatcounter,
    nukeviet,
    vercount,
    vinaora,
    wpstatistics,
)
from counter.figures.oldcounters.options import Options
from counter.figures.oldcounters.source import SourceUnreadable, content_identity
from counter.figures.pages import page_paths

__all__ = ["FORMATS", "Options", "SourceUnreadable", "read_carry"]


def _daily_csv(options: Options) -> Carry:
    """The daily CSV (``date,pageviews,visits,visitors``): a row sets its day, as ever."""
    try:
        with Path(options.source).open(encoding="utf-8") as lines:
            text = list(lines)
        days = list(parse_csv(text))
    except OSError as exc:
        raise SourceUnreadable(f"{options.source}: {exc.strerror or exc}") from None
    except InvalidInput as exc:
        raise SourceUnreadable(f"{options.source}: {exc}") from None
    return Carry(
        source=content_identity("csv", text),
        read_from=options.source,
        format="csv",
        days=days,
        notes=[f"daily CSV: {len(days)} row(s)"],
        overwrite_days=True,
    )


FORMATS: dict[str, Callable[[Options], Carry]] = {
    "nukeviet": nukeviet.read,
    "vinaora": vinaora.read,
    "wp-statistics": wpstatistics.read,
    "busuanzi-redis": busuanzi.read,
    "vercount": vercount.read,
    "goatcounter": goatcounter.read,
    "csv": _daily_csv,
}


def read_carry(format: str, options: Options) -> Carry:
    """Read the old counter ``format`` from ``options.source``; its pages as the page paths
    hits count under. Raises SourceUnreadable, with nothing written anywhere."""
    reader = FORMATS.get(format)
    if reader is None:
        raise SourceUnreadable(f"unknown format {format!r}: one of {', '.join(FORMATS)}")
    carry = reader(options)
    try:
        paths = page_paths(options.site, carry.pages.items())
    except InvalidInput as exc:
        raise SourceUnreadable(f"a page of the old counter: {exc}") from None
    return dataclasses.replace(carry, pages=paths)
