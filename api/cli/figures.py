"""The numbers from the command line: ``stats``, and history carried out (``export``); carried
in: :mod:`api.cli.imports`."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Annotated, Any

import typer

from api.cli.common import app, print_json, with_store
from api.display import LABELS, PAGE_LABELS, ROWS, grouped
from counter.figures.history import export_spans, parse_day, read_history
from counter.figures.imports import CSV_FIELDS
from counter.figures.stats import read_stats
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
    if url is not None:
        views = grouped(int(data["page_views"]), display["grouping"])
        typer.echo(f"  {PAGE_LABELS[display['locale']]} {url}: {views}")


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
