"""What every visitor-stats process shares about metrics: the store's reachability and errors,
the build, and Prometheus's multiprocess plumbing. Each process adds its own metrics beside
these (api/metrics.py, aggregator/metrics.py).

Several processes (``serve --workers N`` and its aggregator): ``serve`` points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before any of them starts; each then writes
its values into files there, and a scrape of any one sums them (:func:`exposition`). A process
that ends takes its live gauges out with it (:func:`mark_dead`); one killed outright is
reaped at the next scrape.

Off the per-hit path: in multiprocess mode every ``inc`` or ``observe`` of prometheus_client
checks the pid and writes an mmapped file (9.5 % of a worker's time under load, issue 11). A
process's hot metrics are therefore counted in plain numbers (:class:`LocalCounter`,
:class:`LocalHistogram`) and published into the metric objects (and so the files) by its owner
on a short tick and at each scrape of the process: what a scrape reads is exact, at most one
tick behind for the other processes. They are counted from one thread (the event loop's); the
publisher may run in another, and only reads (whole-list snapshots, atomic under the GIL) and
publishes the difference since its last publication.
"""

from __future__ import annotations

import glob
import math
import os
import platform
import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
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


class LocalCounter:
    """A counter's increments by label values, counted in this process until published."""

    __slots__ = ("_published", "counts")

    def __init__(self) -> None:
        self.counts: dict[tuple[str, ...], int] = {}
        self._published: dict[tuple[str, ...], int] = {}

    def inc(self, *labels: str) -> None:
        counts = self.counts
        counts[labels] = counts.get(labels, 0) + 1

    def publish_to(self, counter: Counter) -> None:
        """Add what was counted since the last call to ``counter`` (one lock holder at a time)."""
        for labels, count in list(self.counts.items()):
            delta = count - self._published.get(labels, 0)
            if delta:
                (counter.labels(*labels) if labels else counter).inc(delta)
                self._published[labels] = count


class LocalHistogram:
    """A histogram's observations, counted in this process until published.

    ``bounds`` are the histogram's buckets; an observation falls in the first bucket whose
    bound is at least its value (Prometheus's ``le``), the last one being +Inf.
    """

    __slots__ = ("_published_counts", "_published_total", "bounds", "counts", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = (*bounds, math.inf)
        self.counts = [0] * len(self.bounds)
        self.total = 0.0
        self._published_counts = [0] * len(self.bounds)
        self._published_total = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def publish_to(self, histogram: Histogram) -> None:
        """Add the observations since the last call to ``histogram`` (a child with labels).

        prometheus_client has no public call that adds n observations to a bucket; its
        histogram keeps one value per bucket and one for the sum (``_buckets``, ``_sum``), which
        ``observe`` increments, and which this increments in the same way
        (tests/ops/test_metrics.py compares the two).
        """
        if tuple(histogram._upper_bounds) != self.bounds:
            raise ValueError(f"buckets differ: {histogram._upper_bounds} != {self.bounds}")
        counts, total = list(self.counts), self.total
        for n, (count, published) in enumerate(zip(counts, self._published_counts, strict=True)):
            if count != published:
                histogram._buckets[n].inc(count - published)
        if total != self._published_total:
            histogram._sum.inc(total - self._published_total)
        self._published_counts, self._published_total = counts, total
