"""The numbers from the command line: ``stats``, and history carried in (``import``) and
out (``export``)."""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from aggregator.rollup import run_pass
from api.cli.common import app, print_json, with_store
from api.display import LABELS, ROWS, grouped
from counter.figures.history import export_spans, parse_day, read_history
from counter.figures.imports import CSV_FIELDS, import_rows, parse_csv
from counter.figures.stats import read_stats
from counter.keys import validate_site_id
from counter.periods import local_date
from counter.storage.store import Store


@app.command()
def stats(
    site: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the JSON /api/stats answers")
    ] = False,
    url: Annotated[str | None, typer.Option(help="a page, for its views")] = None,
) -> None:
    """Print what /api/stats would answer for SITE."""
    data = with_store(lambda store: read_stats(store, site, url))
    if as_json:
        print_json(data)
        return
    display = data.get("display") or {"locale": "vi", "grouping": "."}
    labels = LABELS[display["locale"]]
    typer.echo(labels["title"])
    for key in ROWS:
        typer.echo(f"  {labels[key]}: {grouped(int(data[key]), display['grouping'])}")


@app.command("import")
def import_command(
    site: str, file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]
) -> None:
    """Import daily history from a CSV of date,pageviews,visits,visitors. Safe to repeat."""

    async def work(store: Store) -> int:
        with file.open(encoding="utf-8") as lines:
            changed = await import_rows(store, site, parse_csv(lines))
        await run_pass(store, store.clock.now(), only=[validate_site_id(site)])
        return changed

    typer.echo(f"{with_store(work)} day(s) changed")


@app.command("export")
def export_command(
    site: str,
    first: Annotated[
        str | None, typer.Option("--from", help="YYYY-MM-DD (default: 30 days ago)")
    ] = None,
    last: Annotated[str | None, typer.Option("--to", help="YYYY-MM-DD (default: today)")] = None,
    fmt: Annotated[str, typer.Option("--format", help="csv or json")] = "csv",
) -> None:
    """Export daily history."""
    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format must be csv or json")

    async def work(store: Store) -> list[dict[str, Any]]:
        config = await store.sites.get(site)
        today = local_date(store.clock.now(), config.tz)
        end = parse_day(last, "--to") if last else today
        start = parse_day(first, "--from") if first else end - timedelta(days=30)
        spans = list(export_spans(start, end))
        rows: list[dict[str, Any]] = []
        with typer.progressbar(
            spans, label="exporting", file=sys.stderr, hidden=len(spans) < 3
        ) as bar:
            for a, b in bar:
                rows += await read_history(store, site, a, b)
        return rows

    rows = with_store(work)
    if fmt == "json":
        print_json(rows)
        return
    typer.echo(",".join(CSV_FIELDS))
    for row in rows:
        typer.echo(",".join(str(row[f]) for f in CSV_FIELDS))
