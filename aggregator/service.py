"""The aggregator process: APScheduler runs the rollup pass; one aggregator leads at a time.

The scheduler lives in its own process (APScheduler's FAQ: several schedulers do not
coordinate), started once by ``visitor-stats serve`` or alone by ``visitor-stats aggregator``.
The Redis lease only saves work: closing a day claims that day once, so two aggregators
running at the same time still leave the same figures.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from prometheus_client import start_http_server

from aggregator.metrics import AggregatorMetrics
from aggregator.rollup import PassReport, run_pass
from counter.clock import Clock
from counter.store import Store

log = logging.getLogger("visitor_stats.aggregator")


class Aggregator:
    def __init__(self, store: Store, metrics: AggregatorMetrics | None = None) -> None:
        self.store = store
        self.metrics = metrics or AggregatorMetrics()
        self.token = secrets.token_hex(16)

    async def hold_lease(self) -> bool:
        lease_ms = int(max(3 * self.store.settings.aggregate_interval_s, 10) * 1000)
        held = bool(
            await self.store.scripts.lease(
                keys=[self.store.keys.leader], args=[self.token, lease_ms]
            )
        )
        self.metrics.leader.set(1 if held else 0)
        return held

    async def run_once(self, now: datetime | None = None) -> PassReport:
        """One pass, timed, counted and logged; failures are re-raised after counting."""
        started = time.perf_counter()
        try:
            report = await run_pass(self.store, now or self.store.clock.now())
        except Exception:
            self.metrics.passes.labels("error").inc()
            raise
        finally:
            self.metrics.pass_duration.observe(time.perf_counter() - started)
        self.metrics.passes.labels("ok").inc()
        self.metrics.last_success.set(self.store.clock.now().timestamp())
        self.metrics.days_closed.inc(report.days_closed)
        for measure, count in report.mismatches.items():
            self.metrics.reconciliation_mismatches.labels(measure).inc(count)
        for site_id, summary in report.summaries.items():
            for period in ("online", "today", "week", "month", "total"):
                self.metrics.site_figure.labels(site_id, period).set(summary[period])
        return report

    async def tick(self) -> None:
        if await self.hold_lease():
            await self.run_once()


def _guarded(job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A failed tick is logged (run_once has counted it); the next tick tries again."""

    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("aggregation tick failed; retrying at the next interval")

    return run


async def serve_aggregator(store: Store, clock: Clock, metrics_port: int | None) -> None:
    """Run until SIGTERM or SIGINT."""
    aggregator = Aggregator(store)
    if metrics_port is not None:
        start_http_server(metrics_port, addr="127.0.0.1", registry=aggregator.metrics.registry)
    interval = store.settings.aggregate_interval_s
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        _guarded(aggregator.tick),
        "interval",
        seconds=interval,
        id="rollup",
        name="close days and write summaries",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(interval * 2)),
        next_run_time=clock.now(),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    scheduler.start()
    log.info("aggregator running every %ss", interval)
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        await store.aclose()
