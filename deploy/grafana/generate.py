"""Grafana dashboards as code: ``python -m deploy.grafana.generate`` writes dashboards/*.json.

Built with grafana-foundation-sdk (Grafana's own generated builders, typed, maintained with
Grafana's schema) rather than grafanalib (community-maintained, hand-written models). The
JSON is checked in; tests/ops/test_dashboards.py fails when it differs from what this script
writes, and tests/ops/test_prometheus.py runs every query against a real Prometheus.

Every query is PromQL over the metrics in docs/OPERATIONS.md; uids are fixed so links and
provisioning keep pointing at the same dashboards.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders.bargauge import Panel as BarGauge
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.builders.dashboard import Dashboard, QueryVariable, Row
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as Stat
from grafana_foundation_sdk.builders.table import Panel as Table
from grafana_foundation_sdk.builders.timeseries import Panel as Timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BigValueGraphMode
from grafana_foundation_sdk.models.dashboard import (
    DashboardCursorSync,
    DataSourceRef,
    VariableRefresh,
    VariableSort,
)

from counter.periods import CURRENT, period_labels

OUT = Path(__file__).parent / "dashboards"
# The datasource the provisioning file creates (provisioning/datasources/prometheus.yaml).
DATASOURCE = DataSourceRef(type_val="prometheus", uid="visitor-stats-prometheus")
SITE = 'site=~"$site"'
# Online now and each period of the box, side by side on the 24-column grid.
BOX_SPAN = 24 // (1 + len(CURRENT))
RATE = "[$__rate_interval]"
HTTP = "visitor_stats_http_request_duration_seconds"
EXCLUDED = f'visitor_stats_hits_total{{{SITE}, outcome!="counted"}}'


def query(expr: str, legend: str = "__auto", ref: str = "A") -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).ref_id(ref)


def stat(title: str, expr: str, unit: str = "short", description: str = "", span: int = 6) -> Stat:
    return (
        Stat()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .with_target(query(expr))
        .unit(unit)
        .graph_mode(BigValueGraphMode.AREA)
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .height(5)
        .span(span)
    )


def series(
    title: str,
    queries: list[Dataquery],
    unit: str = "short",
    description: str = "",
    span: int = 12,
) -> Timeseries:
    panel = (
        Timeseries()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(8)
        .span(span)
    )
    for q in queries:
        panel = panel.with_target(q)
    return panel


def quantiles(metric: str, by: str, legend: str) -> list[Dataquery]:
    out = []
    for ref, q in zip("ABC", ("0.5", "0.95", "0.99"), strict=True):
        group = f"le, {by}" if by else "le"
        expr = f"histogram_quantile({q}, sum by ({group}) (rate({metric}_bucket{RATE})))"
        out.append(query(expr, f"p{q[2:].ljust(2, '0')} {legend}", ref))
    return out


def ratio(count: str, status_class: str) -> str:
    # "or vector(0)": no 5xx series at all (none ever happened) reads as 0 %, not "No data".
    part = f'sum(rate({count}{{status_class="{status_class}"}}{RATE})) or vector(0)'
    return f"({part}) / sum(rate({count}{RATE}))"


def site_variable() -> QueryVariable:
    return (
        QueryVariable("site")
        .label("Site")
        .description("Configured sites (from the aggregator's per-site gauges)")
        .datasource(DATASOURCE)
        .query("label_values(visitor_stats_site_visits, site)")
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
        .multi(True)
        .include_all(True)
        .all_value(".*")
    )


def overview() -> Dashboard:
    visits = "visitor_stats_site_visits"
    hits = f"visitor_stats_hits_total{{{SITE}}}"
    board = (
        Dashboard("visitor-stats / Overview")
        .uid("visitor-stats-overview")
        .description("What the 'Thống kê truy cập' boxes show, and what was filtered out.")
        .tags(["visitor-stats"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_variable(site_variable())
        .with_row(Row("The box (selected sites, as of the last aggregation pass)"))
        .with_panel(
            stat(
                "Online now",
                f"sum(visitor_stats_site_online_visitors{{{SITE}}})",
                description="Distinct visitors seen within each site's online window.",
                span=BOX_SPAN,
            )
        )
    )
    # One stat per period the box shows (counter/periods.py CURRENT): a new span adds its own.
    for period in CURRENT:
        title = f"Visits: {period_labels('en')[period].lower()}"
        board = board.with_panel(
            stat(title, f'sum({visits}{{{SITE}, period="{period}"}})', span=BOX_SPAN)
        )
    return (
        board.with_row(Row("Per site"))
        .with_panel(
            series(
                "Online by site",
                [
                    query(
                        f"sum by (site) (visitor_stats_site_online_visitors{{{SITE}}})", "{{site}}"
                    )
                ],
                span=12,
            )
        )
        .with_panel(
            series(
                "Visits today by site",
                [query(f'sum by (site) ({visits}{{{SITE}, period="today"}})', "{{site}}")],
                span=12,
            )
        )
        .with_panel(
            Table()
            .title("Figures per site")
            .description("Visits and pageviews by calendar period, in each site's timezone.")
            .datasource(DATASOURCE)
            .with_target(
                query(
                    f'sum by (site, period) ({visits}{{{SITE}, period=~"{"|".join(CURRENT)}"}})',
                    "{{site}} {{period}}",
                ).instant()
            )
            .height(8)
            .span(12)
        )
        .with_panel(
            series(
                "Pageviews today by site",
                [
                    query(
                        f'sum by (site) (visitor_stats_site_pageviews{{{SITE}, period="today"}})',
                        "{{site}}",
                    )
                ],
                span=12,
            )
        )
        .with_row(Row("Traffic"))
        .with_panel(
            series(
                "Hits/s by outcome",
                [query(f"sum by (outcome) (rate({hits}{RATE}))", "{{outcome}}")],
                unit="reqps",
                description="counted, or why not: bot, prefetch, origin_rejected, invalid, "
                'unknown_site, rate_limited, spam, opt_out. site="" holds hits of no site.',
            )
        )
        .with_panel(
            series(
                "Excluded hits/s by reason",
                [
                    query(
                        f"sum by (outcome) (rate({EXCLUDED}{RATE}))",
                        "{{outcome}}",
                    )
                ],
                unit="reqps",
            )
        )
        .with_panel(
            BarGauge()
            .title("Excluded in the time range, by reason")
            .datasource(DATASOURCE)
            .with_target(
                query(
                    f"sum by (outcome) (increase({EXCLUDED}[$__range]))",
                    "{{outcome}}",
                ).instant()
            )
            .unit("short")
            .height(8)
            .span(24)
        )
    )


def service() -> Dashboard:
    count = f"{HTTP}_count"
    return (
        Dashboard("visitor-stats / Service")
        .uid("visitor-stats-service")
        .description("Rate, errors and latency of the API; the store; the aggregator's freshness.")
        .tags(["visitor-stats"])
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("browser")
        .tooltip(DashboardCursorSync.CROSSHAIR)
        .with_row(Row("API"))
        .with_panel(
            series(
                "Requests/s by route",
                [query(f"sum by (route) (rate({count}{RATE}))", "{{route}}")],
                unit="reqps",
            )
        )
        .with_panel(
            series(
                "Error ratio (5xx, and 4xx apart)",
                [
                    query(ratio(count, "5xx"), "5xx", "A"),
                    query(ratio(count, "4xx"), "4xx", "B"),
                ],
                unit="percentunit",
                description="4xx are mostly callers' mistakes (unknown site, foreign origin).",
            )
        )
        .with_panel(
            series(
                "Latency by route (p50, p95, p99)",
                quantiles(HTTP, "route", "{{route}}"),
                unit="s",
                span=24,
            )
        )
        .with_panel(
            series(
                "Requests in flight",
                [query("sum(visitor_stats_http_requests_in_flight)", "in flight")],
            )
        )
        .with_panel(
            series(
                "Spool and dropped hits",
                [
                    query("sum(visitor_stats_spool_hits)", "spooled", "A"),
                    query(f"sum(rate(visitor_stats_hits_dropped_total{RATE}))", "dropped/s", "B"),
                ],
                description="Hits held while the store is unreachable, and hits lost.",
            )
        )
        .with_row(Row("Store (Redis / Valkey)"))
        .with_panel(
            series(
                "Store reachable",
                [query("min(visitor_stats_redis_up)", "up (min over processes)")],
                description="0: some process could not reach the store at its last call.",
                span=8,
            )
        )
        .with_panel(
            series(
                "Store errors/s by kind",
                [
                    query(
                        f"sum by (error) (rate(visitor_stats_redis_errors_total{RATE}))",
                        "{{error}}",
                    )
                ],
                unit="reqps",
                span=8,
            )
        )
        .with_panel(
            series(
                "Store call latency (p50, p95, p99)",
                quantiles("visitor_stats_redis_call_duration_seconds", "", "store call"),
                unit="s",
                span=8,
            )
        )
        .with_row(Row("Aggregator"))
        .with_panel(
            stat(
                "Since last successful pass",
                "time() - max(visitor_stats_aggregation_last_success_timestamp_seconds)",
                unit="s",
                description="How stale the boxes' numbers can be; alerts after 2 minutes.",
            )
        )
        .with_panel(
            stat(
                "Summary lag",
                "max(visitor_stats_aggregation_lag_seconds)",
                unit="s",
                description="Age of the summaries each pass replaced.",
            )
        )
        .with_panel(stat("Leader", "max(visitor_stats_aggregator_leader)"))
        .with_panel(
            stat(
                "Reconciliation mismatches (range)",
                "sum(increase(visitor_stats_reconciliation_mismatches_total[$__range]))",
            )
        )
        .with_panel(
            series(
                "Pass duration (p50, p95, p99)",
                quantiles("visitor_stats_aggregation_pass_duration_seconds", "", "pass"),
                unit="s",
            )
        )
        .with_panel(
            series(
                "Passes/s by result; dates closed",
                [
                    query(
                        f"sum by (result) (rate(visitor_stats_aggregation_passes_total{RATE}))",
                        "{{result}}",
                        "A",
                    ),
                    query(
                        f"sum(increase(visitor_stats_aggregation_closed_dates_total{RATE}))",
                        "dates closed",
                        "B",
                    ),
                ],
            )
        )
        .with_panel(
            Table()
            .title("Builds running")
            .datasource(DATASOURCE)
            .with_target(query("count by (version, python) (visitor_stats_build_info)").instant())
            .height(6)
            .span(24)
        )
    )


DASHBOARDS = {"overview": overview, "service": service}


def render(name: str) -> str:
    model: Any = DASHBOARDS[name]().build()
    for number, panel in enumerate(model.panels, start=1):
        panel.id_val = number  # Grafana wants unique panel ids; the builders leave them 0
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    """Write every dashboard; with --check, only say which checked-in file differs."""
    check = "--check" in argv
    stale = []
    for name in DASHBOARDS:
        path = OUT / f"{name}.json"
        text = render(name)
        if check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path))
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    for path in stale:
        print(f"out of date: {path} (run python -m deploy.grafana.generate)", file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
