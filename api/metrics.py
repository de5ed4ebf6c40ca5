"""The API's Prometheus metrics: made by the app factory, kept on ``app.state``, no globals.

Conventions (prometheus/client_python): ``visitor_stats_<subsystem>_<name>_<unit>``, base
units, ``_total`` on counters, label values from closed sets only. ``site`` comes from the
registry of configured sites, never from a request: a hit for an unknown site, or one whose
body could not be read, is counted with ``site=""`` (Prometheus reads an empty label as no
label; it cannot collide with a real site id, which is never empty).

Several workers (``serve --workers N``): every process writes its values into the shared
multiprocess directory and ``/metrics`` on any worker sums them (counter/telemetry.py), so
every scrape sees the same numbers whichever worker answers. The metric objects stay per app
(not module globals): in multiprocess mode the values live in the files, keyed by pid and
metric name, not in the objects.

Per hit, nothing here touches prometheus_client: hits, request timings, requests in flight
and store-call timings are plain numbers in this process (counter/telemetry.py), published
into the metric objects every ``PUBLISH_INTERVAL_S`` (:meth:`ApiMetrics.publishing`, run by
the app's lifespan), at each scrape of this process and at shutdown.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from counter.errors import store_error_kind
from counter.telemetry import (
    LocalCounter,
    LocalHistogram,
    exposition,
    exposition_registry,
    mark_dead,
    process_metrics,
)

# HTTP durations: the hit route answers in ~1 ms; a stalled store shows up in the upper buckets.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
REDIS_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Paths left out of the request metrics: a scrape must not change what the next one reads.
UNTIMED_PATHS = frozenset({"/metrics"})
CONNECT_QUALNAME = "AbstractConnection.connect"
# How far behind this process's figures may be in a scrape another process answers.
PUBLISH_INTERVAL_S = 1.0

T = TypeVar("T")


class ApiMetrics:
    """Every metric an API process exports; one per app, on its own registry."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.hits = Counter(
            "visitor_stats_hits_total",
            "Hits received, by site and outcome (counted, or why not).",
            ["site", "outcome"],
            registry=r,
        )
        self.request_duration = Histogram(
            "visitor_stats_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template, method and status class.",
            ["route", "method", "status_class"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge(
            "visitor_stats_http_requests_in_flight",
            "HTTP requests being answered now.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.redis_duration = Histogram(
            "visitor_stats_redis_call_duration_seconds",
            "Time of one round trip to the store (a command or a pipeline), retries included; "
            "connecting is not timed (its failures are counted as errors).",
            buckets=REDIS_BUCKETS,
            registry=r,
        )
        self.spool_hits = Gauge(
            "visitor_stats_spool_hits",
            "Hits held in the local spool while the store is unreachable, waiting for replay.",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.hits_dropped = Counter(
            "visitor_stats_hits_dropped_total",
            "Hits refused (503): the store was unreachable and the spool was full.",
            registry=r,
        )
        self.spool_replayed = Counter(
            "visitor_stats_spool_replayed_total",
            "Spooled hits handed to the store once it answered again (each once).",
            registry=r,
        )
        common = process_metrics(r)
        self.redis_up, self.redis_errors = common.redis_up, common.redis_errors
        self.build_info = common.build_info
        self._exposition = exposition_registry(self.registry)
        # Counted here per hit, published by publish() (see the module's docstring).
        self._hits = LocalCounter()
        self._dropped = LocalCounter()
        self._replayed = LocalCounter()
        self._in_flight = 0
        self._durations: dict[tuple[str, str, str], LocalHistogram] = {}
        self._redis_durations = LocalHistogram(REDIS_BUCKETS)
        self._redis_up: int | None = None
        self._publishing = threading.Lock()  # the tick (event loop) and a scrape (thread pool)
        self._closed = False

    def observe_hit(self, site: str | None, outcome: str) -> None:
        """The store's ``on_outcome`` hook: every hit's fate, once (a spooled hit's replay is
        counted apart, its fate then under its outcome)."""
        if outcome == "replayed":
            self._replayed.inc()
            return
        self._hits.inc(site or "", outcome)
        if outcome == "dropped":
            self._dropped.inc()

    def store_reached(self, reached: bool) -> None:
        """Whether this process's last call to the store reached it (``redis_up``)."""
        self._redis_up = 1 if reached else 0

    def store_call_took(self, seconds: float) -> None:
        """Time one round trip to the store (``redis_call_duration_seconds``)."""
        self._redis_durations.observe(seconds)

    def publish(self) -> None:
        """Hand what this process counted since the last call to the metric objects (in
        multiprocess mode, to its files). Cheap when nothing changed."""
        with self._publishing:
            if self._closed:
                return
            self._hits.publish_to(self.hits)
            self._dropped.publish_to(self.hits_dropped)
            self._replayed.publish_to(self.spool_replayed)
            self.in_flight.set(self._in_flight)
            for labels, local in list(self._durations.items()):
                local.publish_to(self.request_duration.labels(*labels))
            self._redis_durations.publish_to(self.redis_duration)
            if self._redis_up is not None:
                self.redis_up.set(self._redis_up)

    @asynccontextmanager
    async def publishing(self, interval_s: float = PUBLISH_INTERVAL_S) -> AsyncIterator[None]:
        """Publish every ``interval_s`` while the app runs, and once more at its end."""

        async def tick() -> None:
            while True:
                await asyncio.sleep(interval_s)
                self.publish()

        task = asyncio.create_task(tick(), name="metrics-publisher")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            self.publish()

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape reads: this process's registry, or all processes' files."""
        self.publish()
        return exposition(self._exposition)

    def request_started(self) -> float:
        """Count a request in flight; returns its start, for :meth:`request_finished`."""
        self._in_flight += 1
        return time.perf_counter()

    def request_finished(self, route: str, method: str, status: int, started: float) -> None:
        """Time one answered request by route template, method and status class."""
        elapsed = time.perf_counter() - started
        self._in_flight -= 1
        labels = (route, method if method in METHODS else "other", f"{status // 100}xx")
        local = self._durations.get(labels)
        if local is None:
            local = self._durations[labels] = LocalHistogram(HTTP_BUCKETS)
        local.observe(elapsed)

    def instrument(self, client: object) -> bool:
        """Time and count every call of ``client`` (a plain or Sentinel-master client).

        Redis Cluster clients retry in their own loop and are left as they are (False).
        """
        if not isinstance(client, Redis):
            return False
        client.set_retry(InstrumentedRetry(self, client.get_retry()))
        return True

    def mark_dead(self) -> None:
        """On a clean shutdown: publish the last counts, then drop this process's live gauges
        from the shared files (nothing is published after, which would bring them back)."""
        self.publish()
        with self._publishing:
            self._closed = True
        mark_dead()


class InstrumentedRetry(Retry):
    """redis-py's Retry, timing and counting every call it wraps.

    Every command, pipeline and connection attempt of redis-py's asyncio client runs through
    its connection's ``retry.call_with_retry``; installing this one with the public
    ``Redis.set_retry`` measures real store traffic without touching ``counter``. It keeps the
    policy (backoff, retries, retried errors) the store was built with. Not seen: Redis
    Cluster's own redirection loop, which retries outside this hook.
    """

    def __init__(self, metrics: ApiMetrics, original: Retry | None) -> None:
        if original is None:
            from redis.backoff import NoBackoff

            super().__init__(NoBackoff(), 0)
        else:
            super().__init__(
                original._backoff,
                original.get_retries(),
                tuple(original._supported_errors),
            )
        self._metrics = metrics

    def __deepcopy__(self, memo: dict[int, Any]) -> InstrumentedRetry:
        # Each connection deep-copies its retry; the copy must share the metrics, not copy them.
        clone = InstrumentedRetry(self._metrics, None)
        clone._backoff = copy.deepcopy(self._backoff, memo)
        clone._retries = self._retries
        clone._supported_errors = self._supported_errors
        return clone

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        metrics = self._metrics

        async def counted_fail(error: Exception, *count: int) -> Any:
            metrics.redis_errors.labels(store_error_kind(error)).inc()
            return await fail(error, *count)

        # redis-py runs Connection.connect through this hook before every command, a no-op
        # when the connection is up: timing it would count each round trip twice, once at ~0 s.
        # Its errors still count, and it still tells whether the store is up.
        connecting = getattr(do, "__qualname__", "").startswith(CONNECT_QUALNAME)
        started = time.perf_counter()
        try:
            result = await super().call_with_retry(
                do, counted_fail, is_retryable, with_failure_count
            )
        except (RedisConnectionError, RedisTimeoutError):
            # Counted by counted_fail for each attempt; the store did not answer.
            metrics.store_reached(False)
            raise
        except RedisError as exc:
            # A reply that is an error (e.g. OOM under noeviction): the store is up.
            metrics.redis_errors.labels(store_error_kind(exc)).inc()
            metrics.store_reached(True)
            raise
        finally:
            if not connecting:
                metrics.store_call_took(time.perf_counter() - started)
        metrics.store_reached(True)
        return result


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/widget/{site}``), never the raw path.

    A closed set: the app's route templates, ``preflight`` for a CORS preflight (answered by
    the CORS middleware before routing) and ``unmatched`` for any path no route knows.
    """
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    return "preflight" if scope.get("method") == "OPTIONS" else "unmatched"


class HttpMetricsMiddleware:
    """Times each HTTP request by route template, method and status class (pure ASGI)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNTIMED_PATHS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_and_see(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        started = self.metrics.request_started()
        try:
            await self.app(scope, receive, send_and_see)
        finally:
            self.metrics.request_finished(route_template(scope), scope["method"], status, started)
