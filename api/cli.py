"""The ``visitor-stats`` command: the composition root that wires the processes together.

``serve`` starts the embedded store (unless ``VISITOR_STATS_REDIS_URL`` is set), ONE
aggregator process, and the API workers beside it; never a scheduler inside each worker.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
import uvicorn
from prometheus_client import multiprocess
from pydantic import ValidationError

from aggregator.rollup import run_pass
from aggregator.service import serve_aggregator
from api.display import LABELS, ROWS, grouped
from api.metrics import enable_multiprocess
from counter.adjustments import adjust_total, list_adjustments
from counter.clock import Clock, FakeClock, SystemClock
from counter.embedded import EmbeddedRedis
from counter.errors import UnknownSite, VisitorStatsError
from counter.history import CSV_FIELDS, import_rows, parse_csv
from counter.periods import local_date
from counter.settings import Settings
from counter.sites import Measure, make_site
from counter.stats import parse_day, read_history, read_stats
from counter.store import Store, open_store

app = typer.Typer(help="Visitor counter for the 'Thống kê truy cập' box.", no_args_is_help=True)
sites_app = typer.Typer(help="Manage tracked sites.", no_args_is_help=True)
app.add_typer(sites_app, name="sites")

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        typer.echo(f"error: invalid settings: {exc}", err=True)
        raise typer.Exit(2) from None


def _clock(now: str | None) -> Clock:
    if now is None:
        return SystemClock()
    try:
        instant = datetime.fromisoformat(now)
    except ValueError:
        raise typer.BadParameter(
            f"--now must be ISO-8601, e.g. 2026-11-26T00:00:30+07:00, not {now!r}"
        ) from None
    if instant.tzinfo is None:
        raise typer.BadParameter("--now needs a UTC offset, e.g. 2026-11-26T00:00:30+07:00")
    return FakeClock(instant)


def _with_store(work: Callable[[Store], Awaitable[T]], clock: Clock | None = None) -> T:
    """Run ``work`` against the store ``serve`` uses; domain errors exit 1 with their message."""
    settings = _settings()

    async def main() -> T:
        async with open_store(
            settings, clock or SystemClock(), settings.redis_batch_timeout_s
        ) as store:
            return await work(store)

    try:
        return asyncio.run(main())
    except VisitorStatsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None


def _print_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())


def _die_with_parent() -> None:
    """In the child: receive SIGTERM if `serve` dies, even by SIGKILL (Linux prctl)."""
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_pdeathsig = 1
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


def _exit_on_signal(_signum: int, _frame: object) -> None:
    """After uvicorn's graceful shutdown: leave through `finally` (stop the aggregator and the
    store), and exit 0, since stopping on request is a success."""
    raise SystemExit(0)


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="API worker processes")] = 1,
    with_aggregator: Annotated[
        bool,
        typer.Option(
            "--aggregator/--no-aggregator",
            help="start the one aggregator beside the API (--no-aggregator when it runs apart)",
        ),
    ] = True,
) -> None:
    """Run the API, one aggregator beside it, and the embedded store if no REDIS_URL is set."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings()
    # Every worker and the aggregator write their metrics here; /metrics on any worker sums
    # them. Set before any of them starts (they read it at import), emptied of an old run.
    enable_multiprocess(
        Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or settings.data_dir / "metrics")
    )
    embedded = None
    if settings.redis_url is None:
        embedded = EmbeddedRedis(settings.data_dir).start()
        os.environ["VISITOR_STATS_REDIS_URL"] = embedded.url
        typer.echo(f"embedded store: {embedded.url}", err=True)
    aggregator = None
    if with_aggregator:
        aggregator = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "aggregator"], preexec_fn=_die_with_parent
        )
    # uvicorn re-raises SIGTERM after its graceful shutdown; turn it into SystemExit so the
    # aggregator and the embedded store below are stopped in order.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    signal.signal(signal.SIGINT, _exit_on_signal)
    try:
        # No access log: it would write client addresses, which visitor-stats never keeps.
        uvicorn.run(
            "api.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            proxy_headers=False,  # X-Forwarded-For is judged per hit against trusted proxies
            server_header=False,
        )
    finally:
        if aggregator is not None:
            aggregator.terminate()
            try:
                aggregator.wait(timeout=10)
            except subprocess.TimeoutExpired:
                aggregator.kill()
                aggregator.wait()
            multiprocess.mark_process_dead(aggregator.pid)  # type: ignore[no-untyped-call]
        if embedded is not None:
            embedded.stop()


@app.command("aggregator")
def aggregator_command(
    metrics_port: Annotated[
        int | None, typer.Option(help="serve the aggregator's /metrics on HOST:PORT")
    ] = None,
    metrics_host: Annotated[
        str, typer.Option(help="address for --metrics-port (0.0.0.0 in a container)")
    ] = "127.0.0.1",
) -> None:
    """Run the scheduler alone (for deployments with several API replicas)."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = _settings()
    clock = SystemClock()

    async def main() -> None:
        async with open_store(settings, clock, settings.redis_batch_timeout_s) as store:
            await serve_aggregator(store, clock, metrics_port, metrics_host)

    asyncio.run(main())


@app.command()
def rollup(
    site: Annotated[str | None, typer.Option(help="only this site")] = None,
    now: Annotated[
        str | None, typer.Option(help="as of this instant (ISO-8601 with offset)")
    ] = None,
) -> None:
    """Run one aggregation pass as of an instant (default: now). Safe to repeat."""
    clock = _clock(now)
    ahead = clock.now() - SystemClock().now()
    if ahead > timedelta(minutes=1):
        typer.echo(
            f"warning: --now is {timedelta(seconds=int(ahead.total_seconds()))} ahead of the "
            "clock: days up to it are closed as if over, and a running aggregator writes the "
            "present summaries back on its next pass",
            err=True,
        )

    async def work(store: Store) -> None:
        if site is not None:
            await store.sites.get(site)
        report = await run_pass(store, clock.now(), only=[site.strip().lower()] if site else None)
        typer.echo(f"{report.sites} site(s), {report.days_closed} day(s) closed", err=True)
        for site_id, summary in report.summaries.items():
            figures = " ".join(
                f"{k}={summary[k]}"
                for k in ("online", "today", "yesterday", "week", "month", "total")
            )
            typer.echo(f"{site_id}: {figures}")
        if report.mismatches:
            typer.echo(f"reconciliation mismatches: {report.mismatches}", err=True)
            raise typer.Exit(3)

    _with_store(work, clock)


@app.command()
def stats(
    site: str,
    as_json: Annotated[
        bool, typer.Option("--json", help="print the JSON /api/stats answers")
    ] = False,
    url: Annotated[str | None, typer.Option(help="a page, for its views")] = None,
) -> None:
    """Print what /api/stats would answer for SITE."""
    data = _with_store(lambda store: read_stats(store, site, url))
    if as_json:
        _print_json(data)
        return
    display = data.get("display") or {"locale": "vi", "grouping": "."}
    labels = LABELS[display["locale"]]
    typer.echo(labels["title"])
    for key in ROWS:
        typer.echo(f"  {labels[key]}: {grouped(int(data[key]), display['grouping'])}")


@sites_app.command("add")
def sites_add(
    site: str,
    domain: Annotated[
        list[str], typer.Option("--domain", help="a domain the site's pages are on (repeatable)")
    ],
    timezone: Annotated[str, typer.Option(help="IANA timezone")] = "Asia/Ho_Chi_Minh",
    week_start: Annotated[str, typer.Option(help="first day of the week")] = "monday",
    count: Annotated[Measure, typer.Option(help="what the box counts")] = Measure.visits,
    locale: Annotated[str, typer.Option(help="the widget's language: vi or en")] = "vi",
    grouping: Annotated[
        str, typer.Option(help="digit grouping: '.' (48.812.107) or ',' (48,812,107)")
    ] = ".",
    keep_query: Annotated[
        bool, typer.Option(help="count /a?id=1 and /a?id=2 as different pages")
    ] = False,
) -> None:
    """Add (or update) a site."""
    settings = _settings()
    try:
        new = make_site(
            id=site,
            domains=domain,
            timezone=timezone,
            week_start=week_start,
            measure=count,
            online_window_s=settings.online_window_s,
            session_timeout_s=settings.session_timeout_s,
            locale=locale,
            grouping=grouping,
            keep_query=keep_query,
        )
    except VisitorStatsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None

    async def work(store: Store) -> bool:
        try:
            await store.registry.get(new.id)
        except UnknownSite:
            existed = False
        else:
            existed = True
        await store.registry.put(new)
        return existed

    done = "updated" if _with_store(work) else "added"
    typer.echo(
        f"{done} {new.id} ({', '.join(new.domains)}; {new.timezone}; counts {new.measure.value})"
    )


@sites_app.command("list")
def sites_list() -> None:
    """List the tracked sites."""
    for site in _with_store(lambda store: store.registry.all()):
        typer.echo(
            f"{site.id}\t{','.join(site.domains)}\t{site.timezone}\t{site.week_start}\t{site.measure.value}"
        )


@sites_app.command("remove")
def sites_remove(site: str) -> None:
    """Stop tracking a site (its counts stay in the store; adding it again brings them back)."""
    _with_store(lambda store: store.registry.remove(site))
    typer.echo(f"removed {site}")


@sites_app.command("adjust")
def sites_adjust(
    site: str,
    total: Annotated[int, typer.Option(min=0, help="the all-time figure from now on")],
    reason: Annotated[str, typer.Option(help="why (kept in the ledger)")],
) -> None:
    """Set the all-time figure to N (audited), e.g. to carry an old counter's total over."""

    async def work(store: Store) -> dict[str, Any]:
        entry = await adjust_total(store, site, total, reason)
        await run_pass(store, store.clock.now(), only=[site.strip().lower()])
        return entry

    entry = _with_store(work)
    typer.echo(f"{site}: all time {entry['before']:,} -> {entry['after']:,} ({entry['reason']})")


@sites_app.command("adjustments")
def sites_adjustments(site: str) -> None:
    """List the ledger of adjustments."""
    _print_json(_with_store(lambda store: list_adjustments(store, site)))


@app.command("import")
def import_command(
    site: str, file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]
) -> None:
    """Import daily history from a CSV of date,pageviews,visits,visitors. Safe to repeat."""

    async def work(store: Store) -> int:
        with file.open(encoding="utf-8") as lines:
            changed = await import_rows(store, site, parse_csv(lines))
        await run_pass(store, store.clock.now(), only=[site.strip().lower()])
        return changed

    typer.echo(f"{_with_store(work)} day(s) changed")


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
        s = await store.sites.get(site)
        today = local_date(store.clock.now(), s.tz)
        end = parse_day(last, "--to") if last else today
        start = parse_day(first, "--from") if first else end - timedelta(days=30)
        rows: list[dict[str, Any]] = []
        chunk = 366
        step = timedelta(days=chunk)
        spans = []
        cursor = start
        while cursor <= end:
            spans.append((cursor, min(end, cursor + step - timedelta(days=1))))
            cursor += step
        with typer.progressbar(
            spans, label="exporting", file=sys.stderr, hidden=len(spans) < 3
        ) as bar:
            for a, b in bar:
                rows += await read_history(store, site, a, b)
        return rows

    rows = _with_store(work)
    if fmt == "json":
        _print_json(rows)
        return
    typer.echo(",".join(CSV_FIELDS))
    for row in rows:
        typer.echo(",".join(str(row[f]) for f in CSV_FIELDS))


def main() -> None:
    app()


if __name__ == "__main__":
    main()
