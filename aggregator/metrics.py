"""The aggregator's own metrics, on its own registry (it runs in its own process).

Started by ``serve``, the aggregator inherits ``PROMETHEUS_MULTIPROC_DIR`` and writes its values
into the same directory as the API workers, so one scrape of the API covers both. Alone
(``visitor-stats aggregator --metrics-port P``) it serves this registry itself.

Gauges say how several processes combine (``multiprocess_mode``): figures a pass wrote are
the most recent write of a live process; the last success is the latest of any process.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from counter.periods import CURRENT
from counter.sites import Measure
from counter.telemetry import exposition, exposition_registry, process_metrics

PERIOD_LIST = ", ".join(CURRENT)  # the periods the box shows: the gauges' `period` values


@dataclass
class AggregatorMetrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        r = self.registry
        self.pass_duration = Histogram(
            "visitor_stats_aggregation_pass_duration_seconds",
            "Time one aggregation pass over all sites took.",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=r,
        )
        self.passes = Counter(
            "visitor_stats_aggregation_passes_total",
            "Aggregation passes, by result (ok, error).",
            ["result"],
            registry=r,
        )
        self.last_success = Gauge(
            "visitor_stats_aggregation_last_success_timestamp_seconds",
            "When the last aggregation pass succeeded (Unix time).",
            registry=r,
            multiprocess_mode="max",
        )
        self.lag = Gauge(
            "visitor_stats_aggregation_lag_seconds",
            "How old the summaries were when this pass replaced them: seconds since the "
            "previous successful pass.",
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.days_closed = Counter(
            "visitor_stats_aggregation_closed_dates_total",
            "Site-local dates closed into the daily history (each once).",
            registry=r,
        )
        self.reconciliation_mismatches = Counter(
            "visitor_stats_reconciliation_mismatches_total",
            "Passes in which a site's history did not add up to its all-time totals, by measure.",
            ["measure"],
            registry=r,
        )
        self.leader = Gauge(
            "visitor_stats_aggregator_leader",
            "1 while this aggregator holds the lease.",
            registry=r,
            multiprocess_mode="livemax",
        )
        self.site_online = Gauge(
            "visitor_stats_site_online_visitors",
            "Distinct visitors seen within each site's online window, as of the last pass.",
            ["site"],
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.site_visits = Gauge(
            "visitor_stats_site_visits",
            f"Visits per site and calendar period ({PERIOD_LIST} = all time), "
            "in the site's timezone, as of the last pass.",
            ["site", "period"],
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.site_pageviews = Gauge(
            "visitor_stats_site_pageviews",
            f"Pageviews per site and calendar period ({PERIOD_LIST} = all time), "
            "as of the last pass.",
            ["site", "period"],
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        self.site_visitors = Gauge(
            "visitor_stats_site_visitors",
            f"Unique visitors per site and calendar period ({PERIOD_LIST}; those longer than a "
            "day are HyperLogLog estimates, total a sum of days), as of the last pass.",
            ["site", "period"],
            registry=r,
            multiprocess_mode="livemostrecent",
        )
        common = process_metrics(r)
        self.redis_up, self.redis_errors = common.redis_up, common.redis_errors
        self.build_info = common.build_info
        # Every series of a closed label set exists from the start at 0, so rate() and
        # increase() see the first event too (a series born at 1 hides it).
        for result in ("ok", "error"):
            self.passes.labels(result)
        for measure in Measure:
            self.reconciliation_mismatches.labels(measure.value)

    def record_summary(self, site_id: str, summary: Mapping[str, Any]) -> None:
        """The figures one site's box and stats show, from the summary a pass just wrote."""
        self.site_online.labels(site_id).set(summary["online"])
        for period in CURRENT:
            self.site_visits.labels(site_id, period).set(summary["visits"][period])
            self.site_pageviews.labels(site_id, period).set(summary["pageviews"][period])
            self.site_visitors.labels(site_id, period).set(summary["visitors"][period])

    def exposition(self) -> tuple[bytes, str]:
        return exposition(exposition_registry(self.registry))


def restarts_counter(registry: CollectorRegistry) -> Counter:
    """Aggregators that died and were started again. Written by the process that supervises
    the aggregator (``serve``), not by the aggregator: a dead one counts nothing."""
    return Counter(
        "visitor_stats_aggregator_restarts_total",
        "Times serve started its aggregator again after it died.",
        registry=registry,
    )
