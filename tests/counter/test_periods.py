"""The periods are named once (counter/periods.py) and every figure list derives from them."""

from __future__ import annotations

from datetime import date

from aggregator.metrics import AggregatorMetrics
from api.display import LABELS, OPTIONAL_ROWS, PREVIOUS_PERIODS, ROWS
from api.openapi import OPENAPI_PATHS
from counter.clock import FakeClock
from counter.figures.summary import empty_summary
from counter.periods import CURRENT, ESTIMATED, FIGURES, PERIODS, SPANS, TOTAL, Periods, WeekStart
from counter.record.answer import box_numbers
from counter.sites import make_site
from tests.conftest import START


def test_each_span_gives_its_current_and_previous_period_and_total_closes_the_list() -> None:
    assert PERIODS == (
        "today",
        "yesterday",
        "week",
        "last_week",
        "month",
        "last_month",
        "year",
        "last_year",
    )
    assert (*PERIODS, TOTAL) == FIGURES
    assert CURRENT == ("today", "week", "month", "year", "total")
    assert ESTIMATED == ("week", "last_week", "month", "last_month", "year", "last_year")


def test_the_summary_the_box_and_the_metrics_show_the_periods_of_counter_periods() -> None:
    site = make_site(id="demo.local", domains=["demo.local"])
    now = FakeClock(START).now()
    summary = empty_summary(site, Periods.of(now, site.tz, site.first_weekday), now)
    for measure in ("visits", "pageviews", "visitors"):
        assert tuple(summary[measure]) == FIGURES
    assert all(summary[period] == 0 for period in FIGURES)
    assert summary["definitions"]["estimated"] == [f"visitors.{p}" for p in ESTIMATED]
    box = box_numbers(summary, "visits", START.date().isoformat(), 0, 0)
    assert tuple(box) == ("page_views", "online", *CURRENT)
    box_schema = OPENAPI_PATHS["/api/hit"]["post"]["responses"]["200"]["content"]
    assert tuple(box_schema["application/json"]["schema"]["properties"]) == tuple(box)
    metrics = AggregatorMetrics()
    metrics.record_summary(site.id, summary)
    written = {
        s.labels["period"]
        for metric in metrics.registry.collect()
        if metric.name == "visitor_stats_site_visits"
        for s in metric.samples
    }
    assert written == set(CURRENT)


def test_every_row_the_box_can_show_has_a_label_in_each_language() -> None:
    for labels in LABELS.values():
        assert set(FIGURES) | {"title", "online"} <= set(labels)
        assert all(labels[row] for row in ROWS)
    assert LABELS["vi"]["week"] == "Trong tuần" and LABELS["en"]["total"] == "All time"
    assert ROWS == (
        "online",
        "online_bots",
        "today",
        "yesterday",
        "week",
        "month",
        "year",
        "total",
    )
    assert {"online_bots", "yesterday", "month", "year"} == OPTIONAL_ROWS
    assert tuple(span.previous for span in SPANS) == PREVIOUS_PERIODS


def test_ranges_follow_the_sites_week_start_and_the_calendar_month() -> None:
    # Sunday 1 March 2026, with weeks starting on Sunday and on Monday.
    sunday = Periods.of_day(date(2026, 3, 1), WeekStart.sunday)
    assert sunday.ranges["week"] == (date(2026, 3, 1), date(2026, 3, 1))
    assert sunday.ranges["last_week"] == (date(2026, 2, 22), date(2026, 2, 28))
    monday = Periods.of_day(date(2026, 3, 1), WeekStart.monday)
    assert monday.ranges["week"] == (date(2026, 2, 23), date(2026, 3, 1))
    assert monday.ranges["month"] == (date(2026, 3, 1), date(2026, 3, 1))
    assert monday.ranges["last_month"] == (date(2026, 2, 1), date(2026, 2, 28))
    assert monday.ranges["yesterday"] == (date(2026, 2, 28), date(2026, 2, 28))
    assert monday.ranges["year"] == (date(2026, 1, 1), date(2026, 3, 1))
    assert monday.ranges["last_year"] == (date(2025, 1, 1), date(2025, 12, 31))
    assert monday.days_needed()[0] == date(2025, 1, 1)
