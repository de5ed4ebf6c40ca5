"""Running the service: ``serve`` (the composition root that wires the processes together),
``aggregator`` alone, and one ``rollup`` pass.

``serve`` starts the embedded store (unless ``VISITOR_STATS_REDIS_URL`` is set), ONE
aggregator process, and the API workers beside it; never a scheduler inside each worker.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import os
import secrets
import signal
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from prometheus_client import CollectorRegistry

from aggregator.metrics import restarts_counter
from aggregator.rollup import run_pass
from aggregator.service import serve_aggregator
from api.cli.common import app, clock_at, settings, with_store
from api.cli.supervise import Supervisor
from api.display import ROWS
from api.limits import uvicorn_options
from counter.clock import SystemClock
from counter.keys import validate_site_id
from counter.storage.connection import open_store
from counter.storage.embedded import EmbeddedRedis
from counter.storage.store import Store
from counter.telemetry import enable_multiprocess, mark_dead

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"
# A --now further ahead than this is refused without --force (see `rollup`).
FORWARD_LIMIT = timedelta(minutes=1)


def _die_with_starter() -> Callable[[], None]:
    """A ``preexec_fn``: the child receives SIGTERM when the thread that started it ends
    (Linux ``PR_SET_PDEATHSIG``), so the aggregator ends with `serve`, even a SIGKILLed one.

    libc is looked up here, before the fork: the child of a process with threads (uvicorn's,
    the supervisor's) may only do what cannot wait on a lock another thread held at the fork,
    and ``dlopen`` can; the bare ``prctl`` call cannot.
    """
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGTERM)

    return preexec


def _exit_on_signal(_signum: int, _frame: object) -> None:
    """After uvicorn's graceful shutdown: leave through `finally` (stop the aggregator and the
    store), and exit 0, since stopping on request is a success."""
    raise SystemExit(0)


def _supervised_aggregator() -> Supervisor:
    """serve's one aggregator, started again whenever it dies (see api/cli/supervise.py).

    Every one gets the same lease token: a replacement renews the lease its dead predecessor
    held instead of waiting it out. Safe, since a replacement starts only once the previous
    aggregator has been reaped. The restart counter lives in this process, written into the
    multiprocess files, so a scrape of any worker shows it.
    """
    token = secrets.token_hex(16)
    restarts = restarts_counter(CollectorRegistry())
    preexec = _die_with_starter()

    def spawn() -> subprocess.Popen[bytes]:
        # Our own interpreter and a token made above: no outside input reaches the command.
        # Its own process group: a Ctrl-C in the terminal reaches serve alone, which stops
        # the aggregator in order, rather than ending it too, mid-shutdown, for the supervisor
        # to start again.
        return subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "api.cli", "aggregator", "--lease-token", token],
            preexec_fn=preexec,
            process_group=0,
        )

    return Supervisor("aggregator", spawn, on_exit=mark_dead, on_restart=restarts.inc)


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
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    current = settings()
    # Every worker and the aggregator write their metrics here; /metrics on any worker sums
    # them. Set before any of them starts (they read it at import), emptied of an old run.
    enable_multiprocess(
        Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or current.data_dir / "metrics")
    )
    embedded = None
    if current.redis_url is None:
        embedded = EmbeddedRedis(current.data_dir).start()
        os.environ["VISITOR_STATS_REDIS_URL"] = embedded.url
        typer.echo(f"embedded store: {embedded.url}", err=True)
    aggregator = None
    if with_aggregator:
        aggregator = _supervised_aggregator().start()
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
            **uvicorn_options(current),  # header, body and connection limits (api/limits.py)
        )
    finally:
        if aggregator is not None:
            aggregator.stop()
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
    lease_token: Annotated[
        str | None,
        typer.Option(hidden=True, help="the leader lease's holder id (serve passes its own)"),
    ] = None,
) -> None:
    """Run the scheduler alone (for deployments with several API replicas)."""
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    current = settings()
    clock = SystemClock()

    async def main() -> None:
        async with open_store(current, clock, current.redis_batch_timeout_s) as store:
            await serve_aggregator(store, clock, metrics_port, metrics_host, lease_token)

    asyncio.run(main())


@app.command()
def rollup(
    site: Annotated[str | None, typer.Option(help="only this site")] = None,
    now: Annotated[
        str | None, typer.Option(help="as of this instant (ISO-8601 with offset)")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="allow a --now more than a minute ahead of the clock")
    ] = False,
) -> None:
    """Run one aggregation pass as of an instant (default: now). Safe to repeat.

    A --now ahead of the clock closes the days up to it as if they were over and writes
    summaries as of then: until the live aggregator's next pass replaces them, every hit
    answers from those (a week of 301 for a true 151). So more than a minute ahead is refused
    unless --force says it is meant.
    """
    clock = clock_at(now)
    ahead = clock.now() - SystemClock().now()
    if ahead > FORWARD_LIMIT:
        shown = timedelta(seconds=int(ahead.total_seconds()))
        if not force:
            typer.echo(
                f"error: --now is {shown} ahead of the clock: it would close days that are not "
                "over and show future figures until the next live pass; add --force if meant",
                err=True,
            )
            raise typer.Exit(2)
        typer.echo(
            f"warning: --now is {shown} ahead of the clock: days up to it are closed as if "
            "over, and a running aggregator writes the present summaries back on its next pass",
            err=True,
        )

    async def work(store: Store) -> None:
        if site is not None:
            await store.sites.get(site)
        only = [validate_site_id(site)] if site else None
        report = await run_pass(store, clock.now(), only=only)
        typer.echo(f"{report.sites} site(s), {report.days_closed} day(s) closed", err=True)
        for site_id, summary in report.summaries.items():
            typer.echo(f"{site_id}: " + " ".join(f"{k}={summary[k]}" for k in ROWS))
        if report.mismatches:
            typer.echo(f"reconciliation mismatches: {report.mismatches}", err=True)
            raise typer.Exit(3)

    with_store(work, clock)
