"""The aggregator's own metrics, on its own registry (it runs in its own process)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


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
            "Aggregation passes, by result.",
            ["result"],
            registry=r,
        )
        self.last_success = Gauge(
            "visitor_stats_aggregation_last_success_timestamp_seconds",
            "When the last aggregation pass succeeded (Unix time).",
            registry=r,
        )
        self.days_closed = Counter(
            "visitor_stats_days_closed_total", "Local days closed into the history.", registry=r
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
        )
        self.site_figure = Gauge(
            "visitor_stats_site_visitors",
            "The figures each site's box shows, by site and period.",
            ["site", "period"],
            registry=r,
        )
