"""``visitor-stats import`` (an old counter's figures, from its own data) and
``visitor-stats pages …`` (each page's views, carried over by hand)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from aggregator.rollup import run_pass
from api.cli.common import app, print_json, with_store
from counter.errors import InvalidInput
from counter.figures import carryover
from counter.figures.oldcounters import FORMATS, Options, SourceUnreadable, read_carry
from counter.figures.pages import list_page_adjustments, parse_pages_csv, parse_views, set_pages
from counter.keys import validate_site_id
from counter.storage.store import Store

BAR_FROM = 2000  # rows and pages to write before a progress bar is worth showing
SOURCE_FAILED = 2

pages_app = typer.Typer(help="Each page's views, carried over by hand.", no_args_is_help=True)
app.add_typer(pages_app, name="pages")


def _unreadable(exc: SourceUnreadable) -> typer.Exit:
    typer.echo(f"error: {exc}\nnothing was written", err=True)
    return typer.Exit(SOURCE_FAILED)


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None]]:
    with typer.progressbar(
        length=max(total, 1), label=label, file=sys.stderr, hidden=total < BAR_FROM
    ) as bar:
        yield bar.update


@contextmanager
def _reading(label: str) -> Iterator[Callable[[int], None]]:
    """Rows or keys read from the source so far, on stderr and on a terminal only, as the
    bars are (stdout keeps the plan, JSON stays clean)."""
    seen = 0

    def heard(count: int) -> None:
        nonlocal seen
        seen += count
        typer.echo(f"\r{label}: {seen:,}", err=True, nl=False)

    if not sys.stderr.isatty():
        yield lambda _count: None
        return
    try:
        yield heard
    finally:
        if seen:
            typer.echo(err=True)


def _confirm(yes: bool, question: str) -> None:
    if not yes and not typer.confirm(question, default=False, err=True):
        typer.echo("nothing was written", err=True)
        raise typer.Exit(1)


@app.command("import")
def import_command(
    format: Annotated[str, typer.Argument(help=f"one of: {', '.join(FORMATS)}")],
    site: Annotated[str, typer.Argument(help="the site to carry the figures into")],
    source: Annotated[
        str | None,
        typer.Argument(help="mysql://user:pass@host:port/db, redis://host:port/db, or a file"),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="write without asking")] = False,
    table_prefix: Annotated[
        str | None,
        typer.Option(help="the CMS's table prefix (nukeviet: nv4, vinaora: jos_, wp: wp_)"),
    ] = None,
    url_pattern: Annotated[
        str | None,
        typer.Option(help="nukeviet: article URLs, e.g. /{lang}/{module}/{cat}/{alias}-{id}.html"),
    ] = None,
    lang: Annotated[str, typer.Option(help="nukeviet: the news module's language")] = "vi",
    module: Annotated[str, typer.Option(help="nukeviet: the news module's name")] = "news",
    version: Annotated[
        str | None, typer.Option(help="vinaora: 2.5, 2.0 or 1.x (default: as its tables say)")
    ] = None,
    initial_value: Annotated[
        int, typer.Option(min=0, help="vinaora: the module's initial value")
    ] = 0,
    sitemap: Annotated[
        Path | None,
        typer.Option(dir_okay=False, help="busuanzi-redis: the site's sitemap, for its pages"),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="busuanzi-redis, vercount: the host it counted (default: the domains)"),
    ] = None,
    key_prefix: Annotated[str, typer.Option(help="busuanzi-redis: its Redis.Prefix")] = "bsz",
    hash_kind: Annotated[
        str, typer.Option("--hash", help="busuanzi-redis: md516 (its default) or md532")
    ] = "md516",
    path_style: Annotated[
        bool,
        typer.Option(help="busuanzi-redis: its Bsz.PathStyle (--no-path-style: host&path)"),
    ] = True,
) -> None:
    """Carry an old counter over: its all time, its days, each page's views. Shows what it
    will write and asks first; repeating it changes nothing. The old form `import SITE
    FILE.csv` (date,pageviews,visits,visitors) still works."""
    legacy = source is None
    if source is None:  # `import SITE FILE.csv`, as before: it never asked
        format, site, source, yes = "csv", format, site, True
    if format not in FORMATS:
        raise typer.BadParameter(f"{format!r}: one of {', '.join(FORMATS)}", param_hint="FORMAT")

    async def work(store: Store) -> carryover.Outcome | None:
        config = await store.sites.get(site)
        options = Options(
            source=source,
            site=config,
            now=store.clock.now(),
            table_prefix=table_prefix,
            url_pattern=url_pattern,
            lang=lang,
            module=module,
            version=version,
            initial_value=initial_value,
            sitemap=str(sitemap) if sitemap else None,
            host=host,
            key_prefix=key_prefix,
            hash=hash_kind,
            path_style=path_style,
        )
        try:
            with _reading("reading rows and keys") as progress:
                carry = read_carry(format, dataclasses.replace(options, progress=progress))
        except SourceUnreadable as exc:
            raise _unreadable(exc) from None
        planned = await carryover.plan(store, config.id, carry)
        for line in planned.describe():
            typer.echo(line)
        _confirm(yes, "write this?")
        with _progress(len(planned.days) + len(carry.pages), "importing") as progress:
            outcome = await carryover.apply(store, planned, progress)
        await run_pass(store, store.clock.now(), only=[validate_site_id(site)])
        return outcome

    outcome = with_store(work)
    if outcome is None:
        return
    if legacy:
        typer.echo(f"{outcome.days_changed} day(s) changed")
    entry = outcome.entry
    if entry is None:
        typer.echo(f"{site}: nothing changed (already imported)")
        return
    typer.echo(
        f"{site}: {outcome.days_changed} day(s), {outcome.pages_changed} page(s); "
        f"all time {entry['before']:,} -> {entry['after']:,} ({entry['measure']})"
    )


@pages_app.command("set")
def pages_set(
    site: str,
    url: Annotated[str, typer.Argument(help="the page's URL or path")],
    views: Annotated[int, typer.Option(min=0, help="its views from now on")],
    reason: Annotated[str, typer.Option(help="why (kept in the pages ledger)")],
) -> None:
    """Set one page's views to N (audited), e.g. an article's count from the old counter."""

    async def work(store: Store) -> tuple[int, int]:
        return await set_pages(store, site, [(url, parse_views(views))], reason)

    changed, added = with_store(work)
    typer.echo(f"{site}: {changed} page(s) changed ({added:+,} views)")


@pages_app.command("import")
def pages_import(
    site: str,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="url,views rows")],
    reason: Annotated[str, typer.Option(help="why (kept in the pages ledger)")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="write without asking")] = False,
) -> None:
    """Set many pages' views from a CSV of url,views (audited). Safe to repeat."""

    async def work(store: Store) -> tuple[int, int]:
        try:
            with file.open(encoding="utf-8") as lines:
                rows = list(parse_pages_csv(lines))
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"{file}: {exc}") from None
        typer.echo(f"set {len(rows):,} page(s) of {site} ({sum(v for _, v in rows):,} views)")
        _confirm(yes, "write this?")
        with _progress(len(rows), "setting pages") as progress:
            return await set_pages(store, site, rows, reason, f"pages import {file.name}", progress)

    changed, added = with_store(work)
    typer.echo(f"{site}: {changed} page(s) changed ({added:+,} views)")


@pages_app.command("adjustments")
def pages_adjustments(site: str) -> None:
    """List the pages ledger (each page set by hand)."""
    entries: list[dict[str, Any]] = with_store(lambda store: list_page_adjustments(store, site))
    print_json(entries)
