from __future__ import annotations

import asyncio
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.errors import InvalidInput
from counter.figures.adjustments import adjust_total, list_adjustments
from counter.figures.history import read_history
from counter.figures.imports import import_rows, parse_csv
from counter.figures.stats import read_stats
from counter.periods import SPANS
from counter.record.recorder import Recorder
from counter.sites import Site, make_site
from counter.storage.store import Store
from tests.conftest import VN
from tests.helpers import BROWSER_A, BROWSER_B, GOOGLEBOT, hit


async def summary(store: Store, clock: FakeClock, site: str = "demo.local") -> dict[str, Any]:
    report = await run_pass(store, clock.now())
    return report.summaries[site]


async def three_visits(recorder: Recorder) -> None:
    for n in range(3):
        await hit(recorder, "/a", ip=f"198.51.100.{n}")


async def test_the_box_after_one_pass(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    for _ in range(3):
        await hit(recorder, "/a", ua=BROWSER_A)
    await hit(recorder, "/b", ua=BROWSER_B)
    await hit(recorder, "/b", ua=GOOGLEBOT)
    s = await summary(store, clock)
    assert (s["today"], s["week"], s["month"], s["total"], s["online"]) == (2, 2, 2, 2, 2)
    assert s["pageviews"]["today"] == 4
    assert s["visitors"]["today"] == 2
    assert s["excluded"]["bot"] == 1
    assert s["definitions"]["timezone"] == "Asia/Ho_Chi_Minh"
    stats = await read_stats(store, "demo.local", "https://demo.local/a")
    assert stats["page_views"] == 3
    assert stats["stale"] is False


async def test_after_midnight_today_becomes_yesterday_and_repeating_changes_nothing(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    clock.set(datetime(2026, 11, 26, 0, 0, 30, tzinfo=VN))
    first = await run_pass(store, clock.now())
    s = first.summaries["demo.local"]
    assert (s["today"], s["yesterday"], s["total"]) == (0, 3, 3)
    assert s["visitors"]["yesterday"] == 3
    assert first.days_closed == 1
    second = await run_pass(store, clock.now())
    assert second.days_closed == 0
    assert second.summaries["demo.local"] == s


async def test_next_monday_starts_a_new_week(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    clock.set(datetime(2026, 11, 30, 0, 0, 30, tzinfo=VN))  # Monday
    s = await summary(store, clock)
    assert (s["week"], s["last_week"], s["total"]) == (0, 3, 3)
    assert s["month"] == 3  # still November


async def test_week_start_sunday(store: Store, recorder: Recorder, clock: FakeClock) -> None:
    await store.registry.put(
        make_site(id="demo.local", domains=["demo.local"], week_start="sunday")
    )
    await three_visits(recorder)
    clock.set(datetime(2026, 11, 29, 0, 0, 1, tzinfo=VN))  # Sunday
    s = await summary(store, clock)
    assert (s["week"], s["last_week"]) == (0, 3)


@pytest.mark.parametrize(
    ("before", "after", "period"),
    [
        (
            datetime(2026, 11, 25, 23, 59, 59, 900000, tzinfo=VN),
            timedelta(milliseconds=200),
            "today",
        ),
        (
            datetime(2026, 11, 29, 23, 59, 59, 900000, tzinfo=VN),
            timedelta(milliseconds=200),
            "week",
        ),
        (
            datetime(2026, 11, 30, 23, 59, 59, 900000, tzinfo=VN),
            timedelta(milliseconds=200),
            "month",
        ),
        (  # the calendar year in the site's timezone: 17:00 UTC on 31 December in Hanoi
            datetime(2026, 12, 31, 23, 59, 59, 900000, tzinfo=VN),
            timedelta(milliseconds=200),
            "year",
        ),
    ],
)
async def test_a_hit_on_each_side_of_a_boundary_lands_in_its_own_period(
    store: Store,
    recorder: Recorder,
    site: Site,
    clock: FakeClock,
    before: datetime,
    after: timedelta,
    period: str,
) -> None:
    clock.set(before)
    await hit(recorder, ip="198.51.100.1")
    clock.advance(after)
    await hit(recorder, ip="198.51.100.2")
    s = await summary(store, clock)
    last = {span.current: span.previous for span in SPANS}[period]
    assert (s[period], s[last], s["total"]) == (1, 1, 2)
    assert s["pageviews"][period] == 1


async def test_dst_days_of_23_and_25_hours(
    store: Store, recorder: Recorder, clock: FakeClock
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    await store.registry.put(
        make_site(id="demo.local", domains=["demo.local"], timezone="Europe/Berlin")
    )
    # 25 October 2026 has 25 hours in Berlin: 00:30 and 23:30 local are the same day.
    clock.set(datetime(2026, 10, 25, 0, 30, tzinfo=berlin))
    await hit(recorder, ip="198.51.100.1")
    clock.set(datetime(2026, 10, 25, 23, 30, tzinfo=berlin))
    await hit(recorder, ip="198.51.100.2")
    assert (await summary(store, clock))["today"] == 2
    # 29 March 2026 has 23 hours: 00:30 and 23:30 local, again one day.
    clock.set(datetime(2026, 3, 29, 0, 30, tzinfo=berlin))
    await hit(recorder, ip="198.51.100.3")
    clock.set(datetime(2026, 3, 29, 23, 30, tzinfo=berlin))
    await hit(recorder, ip="198.51.100.4")
    clock.set(datetime(2026, 3, 30, 0, 0, 1, tzinfo=berlin))
    s = await summary(store, clock)
    assert (s["today"], s["yesterday"]) == (0, 2)
    rows = await read_history(store, "demo.local", date(2026, 3, 29), date(2026, 3, 30))
    assert [r["visits"] for r in rows] == [2, 0]


async def test_days_missed_while_down_are_all_closed_on_the_next_pass(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    for day in range(4):
        await hit(recorder, ip=f"198.51.100.{day}")
        clock.advance(timedelta(days=1))
    report = await run_pass(store, clock.now())
    assert report.days_closed == 4
    assert report.summaries["demo.local"]["visitors"]["total"] == 4
    rows = await read_history(store, "demo.local", date(2026, 11, 25), date(2026, 11, 28))
    assert [r["visitors"] for r in rows] == [1, 1, 1, 1]


async def test_two_aggregators_at_once_close_each_day_once(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    clock.advance(timedelta(days=1))
    reports = await asyncio.gather(*(run_pass(store, clock.now()) for _ in range(4)))
    assert sum(r.days_closed for r in reports) == 1
    assert {r.summaries["demo.local"]["visitors"]["total"] for r in reports} == {3}


async def test_closed_days_raw_keys_expire_and_presence_is_pruned(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    keys = store.keys.site(site.id)
    yesterday = clock.now().astimezone(VN).date()
    assert await store.redis.ttl(keys.visitors_hll(yesterday)) == -1  # open: no expiry yet
    clock.advance(timedelta(days=1))
    await run_pass(store, clock.now())
    ttl = await store.redis.ttl(keys.visitors_hll(yesterday))
    assert 0 < ttl <= store.settings.closed_day_grace_s
    assert await store.redis.zcard(keys.last_seen) == 0


async def test_late_hit_for_a_closed_day_still_adds_up(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    future = clock.now() + timedelta(days=1)
    await run_pass(store, future)  # `rollup --now tomorrow` closes today early
    await hit(recorder, ip="198.51.100.99")  # ...and the real day goes on
    report = await run_pass(store, future)
    assert report.mismatches == {}
    assert report.summaries["demo.local"]["visitors"]["yesterday"] == 4
    assert report.summaries["demo.local"]["total"] == 4


async def test_reconciliation_reports_a_total_that_does_not_add_up(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    assert (await run_pass(store, clock.now())).mismatches == {}
    await store.redis.hincrby(store.keys.site(site.id).totals, "pageviews", 5)  # corruption
    assert (await run_pass(store, clock.now())).mismatches == {"pageviews": 1}


async def test_adjustment_sets_all_time_and_is_kept_in_the_ledger(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    entry = await adjust_total(store, "demo.local", 48_812_107, "carried over from the old counter")
    assert (entry["before"], entry["after"]) == (3, 48_812_107)
    assert (await summary(store, clock))["total"] == 48_812_107
    await hit(recorder, ip="198.51.100.50")
    clock.advance(timedelta(days=1))
    assert (await summary(store, clock))["total"] == 48_812_108
    ledger = await list_adjustments(store, "demo.local")
    assert [e["reason"] for e in ledger] == ["carried over from the old counter"]
    with pytest.raises(InvalidInput):
        await adjust_total(store, "demo.local", 5, "   ")


async def test_import_sets_history_and_repeating_it_changes_nothing(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    csv_text = "date,pageviews,visits,visitors\n2026-11-01,100,40,30\n2026-11-02,50,20,15\n"
    assert await import_rows(store, "demo.local", parse_csv(csv_text.splitlines())) == 2
    await three_visits(recorder)
    first = await summary(store, clock)
    assert await import_rows(store, "demo.local", parse_csv(csv_text.splitlines())) == 0
    again = await summary(store, clock)
    assert first == again
    assert (again["total"], again["month"], again["pageviews"]["total"]) == (63, 63, 153)
    assert again["visitors"]["total"] == 48
    with pytest.raises(InvalidInput):
        await import_rows(store, "demo.local", parse_csv(["2026-11-25,1,1,1"]))  # today is not over
    with pytest.raises(InvalidInput):
        list(parse_csv(["2026-13-01,1,1,1"]))


async def test_a_pass_that_saw_the_day_open_before_another_closed_it_changes_nothing(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await three_visits(recorder)
    day = clock.now().astimezone(VN).date()
    clock.advance(timedelta(days=1))
    first = await run_pass(store, clock.now())
    # A second aggregator read the open days before the first one closed them:
    await store.redis.sadd(store.keys.site(site.id).open_days, day.isoformat())
    second = await run_pass(store, clock.now())
    assert (first.days_closed, second.days_closed) == (1, 0)
    assert second.summaries["demo.local"] == first.summaries["demo.local"]
    assert second.mismatches == {}
