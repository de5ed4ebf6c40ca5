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
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from aggregator.metrics import AggregatorMetrics
from aggregator.rollup import PassReport, run_pass
from aggregator.snapshot import Snapshots
from counter.clock import Clock
from counter.errors import store_error_kind
from counter.storage.connection import rewrite_append_only_file
from counter.storage.store import Store
from counter.telemetry import exposition_registry, mark_dead

log = logging.getLogger("visitor_stats.aggregator")


class Aggregator:
    def __init__(
        self, store: Store, metrics: AggregatorMetrics | None = None, token: str | None = None
    ) -> None:
        self.store = store
        self.metrics = metrics or AggregatorMetrics()
        # The lease holder's id. `serve` hands the same one to each aggregator it restarts,
        # so a replacement renews its dead predecessor's lease at once instead of idling
        # until it expires (3 intervals, at least 10 s) with the summaries going stale.
        self.token = token or secrets.token_hex(16)
        self.snapshots = Snapshots(store, store.settings.data_dir / "snapshot")
        self.last_success: datetime | None = None

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
            report = await run_pass(
                self.store, now or self.store.clock.now(), snapshots=self.snapshots
            )
            finished = self.store.clock.now()
            # What /readyz reads to tell fresh summaries from frozen ones: one GET on any
            # worker. The clock's instant, not `now`: it says when, not as of when.
            await self.store.redis.set(self.store.keys.last_pass, finished.isoformat())
        except Exception:
            self.metrics.passes.labels("error").inc()
            raise
        finally:
            self.metrics.pass_duration.observe(time.perf_counter() - started)
        self.metrics.passes.labels("ok").inc()
        if self.last_success is not None:
            self.metrics.lag.set((finished - self.last_success).total_seconds())
        self.last_success = finished
        self.metrics.last_success.set(finished.timestamp())
        self.metrics.days_closed.inc(report.days_closed)
        for measure, count in report.mismatches.items():
            self.metrics.reconciliation_mismatches.labels(measure).inc(count)
        for site_id, summary in report.summaries.items():
            self.metrics.record_summary(site_id, summary)
        return report

    async def rewrite_store_log(self) -> None:
        if await self.hold_lease():
            started = await rewrite_append_only_file(self.store.redis)
            log.info("append-only file rewrite %s", "started" if started else "already running")

    async def tick(self) -> None:
        """Hold the lease, then pass; the store's reachability is recorded either way, so
        ``visitor_stats_redis_up`` follows the store even when no hits arrive."""
        try:
            if await self.hold_lease():
                await self.run_once()
        except (RedisConnectionError, RedisTimeoutError) as exc:
            self.metrics.redis_errors.labels(store_error_kind(exc)).inc()
            self.metrics.redis_up.set(0)
            raise
        except RedisError as exc:
            self.metrics.redis_errors.labels(store_error_kind(exc)).inc()
            self.metrics.redis_up.set(1)
            raise
        self.metrics.redis_up.set(1)


def _guarded(job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
    """A failed tick is logged (run_once has counted it); the next tick tries again."""

    async def run() -> None:
        try:
            await job()
        except Exception:
            log.exception("aggregation tick failed; retrying at the next interval")

    return run


async def serve_aggregator(
    store: Store,
    clock: Clock,
    metrics_port: int | None,
    metrics_host: str = "127.0.0.1",
    lease_token: str | None = None,
) -> None:
    """Run until SIGTERM or SIGINT; serve /metrics on metrics_host:metrics_port if given."""
    aggregator = Aggregator(store, token=lease_token)
    if metrics_port is not None:
        start_http_server(
            metrics_port,
            addr=metrics_host,
            registry=exposition_registry(aggregator.metrics.registry),
        )
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
    # Privacy: an expired salt leaves memory at once but stays in the AOF until a rewrite.
    # Salts live at most 26 h; a rewrite every 6 h takes them off disk within 32 h.
    scheduler.add_job(
        _guarded(aggregator.rewrite_store_log),
        "interval",
        hours=6,
        id="aof-rewrite",
        name="rewrite the store's append-only file (drops expired salts from disk)",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3600,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    # APScheduler logs two INFO lines per run (every 5 s): noise beside our own wrapper, which
    # times, counts and logs each job's failures. Its warnings (missed runs) still show.
    logging.getLogger("apscheduler.executors").setLevel(logging.WARNING)
    scheduler.start()
    log.info("aggregator running every %ss", interval)
    try:
        await stop.wait()
    finally:
        scheduler.shutdown(wait=False)
        await store.aclose()
        mark_dead()  # its live gauges (leader, site figures) leave the shared files with it
