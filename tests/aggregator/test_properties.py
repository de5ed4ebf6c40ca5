"""Property tests: random hit sequences and clock moves never break the box's invariants."""

from __future__ import annotations

import asyncio
import secrets
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.record.recorder import Recorder
from counter.settings import Settings
from counter.sites import make_site
from counter.storage.connection import connect
from counter.storage.store import Store
from tests.conftest import START, _delete_prefix
from tests.helpers import hit

actions = st.lists(
    st.one_of(
        st.tuples(st.just("hit"), st.integers(0, 5)),
        st.tuples(st.just("advance"), st.integers(1, 3 * 24 * 60)),
        st.tuples(st.just("pass"), st.just(0)),
    ),
    min_size=1,
    max_size=40,
)


def check(summary: dict[str, object]) -> None:
    for measure in ("visits", "pageviews", "visitors"):
        s = summary[measure]
        assert isinstance(s, dict)
        assert s["today"] <= s["week"] <= s["total"], (measure, s)
        # A month lies inside its year; a week may not (29 December to 4 January).
        assert s["today"] <= s["month"] <= s["year"] <= s["total"], (measure, s)
        assert s["yesterday"] <= s["total"] and s["last_year"] <= s["total"]


async def scenario(redis_url: str, steps: list[tuple[str, int]], week_start: str, tz: str) -> None:
    config = Settings(redis_url=redis_url, key_prefix=f"t{secrets.token_hex(6)}")
    clock = FakeClock(START)
    store = Store(connect(config, redis_url), config, clock)
    recorder = Recorder(store)
    try:
        await store.registry.put(
            make_site(id="demo.local", domains=["demo.local"], week_start=week_start, timezone=tz)
        )
        last_total = {"visits": 0, "pageviews": 0, "visitors": 0}
        for action, value in [*steps, ("pass", 0)]:
            if action == "hit":
                await hit(recorder, f"/p{value % 3}", ip=f"198.51.100.{value}")
            elif action == "advance":
                clock.advance(timedelta(minutes=value))
            else:
                report = await run_pass(store, clock.now())
                assert report.mismatches == {}  # history + open days = all time
                first = report.summaries["demo.local"]
                second = (await run_pass(store, clock.now())).summaries["demo.local"]
                assert first == second  # closing twice = closing once
                check(first)
                for measure, before in last_total.items():
                    assert first[measure]["total"] >= before  # all time never decreases
                    last_total[measure] = first[measure]["total"]
    finally:
        await store.aclose()
        await _delete_prefix(redis_url, config.key_prefix)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    steps=actions,
    week_start=st.sampled_from(["monday", "sunday", "saturday"]),
    tz=st.sampled_from(
        ["Asia/Ho_Chi_Minh", "Europe/Berlin", "America/New_York", "Pacific/Kiritimati"]
    ),
)
def test_random_hits_and_clock_moves_keep_the_invariants(
    redis_url: str, steps: list[tuple[str, int]], week_start: str, tz: str
) -> None:
    asyncio.run(scenario(redis_url, steps, week_start, tz))
