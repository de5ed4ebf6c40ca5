"""What every visitor-stats process shares about metrics: the store's reachability and errors,
the build, and Prometheus's multiprocess plumbing. Each process adds its own metrics beside
these (api/metrics.py, aggregator/metrics.py).

Several processes (``serve --workers N`` and its aggregator): ``serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any of them starts; each then writes
its values into files there, and a scrape of any one sums them (:func:`exposition`). A process
that ends takes its live gauges out with it (:func:`mark_dead`); one killed outright is
reaped at the next scrape.
"""

from __future__ import annotations

import glob
import os
import platform
import re
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
    multiprocess,
    values,
)

from counter.errors import package_version
from counter.processes import pid_alive

STORE_ERROR_KINDS = ("timeout", "connection", "response", "other")  # of store_error_kind()
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
LIVE_GAUGE_FILE = re.compile(r"gauge_live\w+?_(\d+)\.db$")


@dataclass(frozen=True, slots=True)
class ProcessMetrics:
    redis_up: Gauge
    redis_errors: Counter
    build_info: Gauge


def process_metrics(registry: CollectorRegistry) -> ProcessMetrics:
    redis_up = Gauge(
        "visitor_stats_redis_up",
        "1 if this process's last call to the store reached it, 0 if it could not connect.",
        registry=registry,
        multiprocess_mode="livemostrecent",
    )
    redis_errors = Counter(
        "visitor_stats_redis_errors_total",
        "Failed attempts to talk to the store, by kind (timeout, connection, response, other).",
        ["error"],
        registry=registry,
    )
    build_info = Gauge(
        "visitor_stats_build_info",
        "Always 1; the labels say which build runs.",
        ["version", "python"],
        registry=registry,
        multiprocess_mode="max",
    )
    build_info.labels(package_version(), platform.python_version()).set(1)
    # Closed label sets start at 0, so rate() and increase() see the first error too.
    for kind in STORE_ERROR_KINDS:
        redis_errors.labels(kind)
    return ProcessMetrics(redis_up, redis_errors, build_info)


def multiprocess_dir() -> Path | None:
    raw = os.environ.get(MULTIPROC_ENV)
    return Path(raw) if raw else None


def enable_multiprocess(directory: Path) -> None:
    """Make ``directory`` this process's (and its children's) multiprocess metrics directory.

    Called by ``serve`` before any worker or the aggregator starts. The directory is emptied
    first: files left by an earlier run would add old counts to the new ones.
    """
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[MULTIPROC_ENV] = str(directory)
    # prometheus_client picks its value class once, at import, from the environment; `serve`
    # has imported it already (and runs a single worker in this very process), so pick again.
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def exposition_registry(own: CollectorRegistry) -> CollectorRegistry:
    """What a scrape of this process reads: its own registry, or every process's files."""
    if multiprocess_dir() is None:
        return own
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(registry: CollectorRegistry) -> tuple[bytes, str]:
    """The text of a scrape of ``registry`` (from :func:`exposition_registry`)."""
    directory = multiprocess_dir()
    if directory is not None:
        reap_dead_processes(directory)
    return generate_latest(registry), CONTENT_TYPE_LATEST


def reap_dead_processes(directory: Path) -> list[int]:
    """:func:`mark_dead` for every pid with live-gauge files that no longer runs.

    uvicorn restarts a worker that died (even by SIGKILL, which runs no shutdown code), so
    the files of the dead one are cleaned here, at scrape time. Counters and histograms of
    dead processes are kept on purpose: their counts happened, and totals must not go down.
    """
    reaped = []
    for name in glob.glob(os.path.join(directory, "gauge_live*_*.db")):
        match = LIVE_GAUGE_FILE.search(name)
        if match is None:
            continue
        pid = int(match.group(1))
        if pid != os.getpid() and not pid_alive(pid):
            mark_dead(pid)
            reaped.append(pid)
    return reaped


def mark_dead(pid: int | None = None) -> None:
    """Take a process's live gauges (this one's by default) out of the shared files."""
    directory = multiprocess_dir()
    if directory is not None:
        multiprocess.mark_process_dead(pid or os.getpid(), str(directory))  # type: ignore[no-untyped-call]
