"""The metrics every visitor-stats process exports alike (the API's workers, the aggregator):
the store's reachability and errors, and the build. Each process adds its own beside these."""

from __future__ import annotations

import platform
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge

from counter.errors import package_version

STORE_ERROR_KINDS = ("timeout", "connection", "response", "other")  # of store_error_kind()


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
