"""/readyz tells frozen summaries from fresh ones: the real aggregator's pass stamp, a fake
clock advanced past the bound instead of sleeping."""

from __future__ import annotations

from datetime import timedelta

import httpx

from aggregator.service import Aggregator
from counter.clock import FakeClock
from counter.figures.summary import summary_max_age
from counter.sites import Site
from counter.storage.store import Store


def bound(store: Store) -> timedelta:
    return summary_max_age(store.settings.aggregate_interval_s)


async def test_ready_after_a_pass_and_stale_once_it_is_older_than_the_bound(
    client: httpx.AsyncClient, store: Store, clock: FakeClock, site: Site
) -> None:
    await Aggregator(store).run_once()
    assert (await client.get("/readyz")).json() == {"status": "ready", "spooled": 0}
    clock.advance(bound(store))  # exactly at the bound: still fresh
    assert (await client.get("/readyz")).status_code == 200
    clock.advance(seconds=1)
    answer = await client.get("/readyz")
    assert answer.status_code == 200  # still takes hits (see readyz's docstring)
    body = answer.json()
    assert body["status"] == "stale"
    assert "16 s ago" in body["detail"] and "aggregator" in body["detail"]
    await Aggregator(store).run_once()  # the aggregator is back
    assert (await client.get("/readyz")).json() == {"status": "ready", "spooled": 0}


async def test_no_pass_yet_is_ready_for_one_bound_after_the_first_check_then_stale(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    assert await store.redis.get(store.keys.last_pass) is None
    assert (await client.get("/readyz")).status_code == 200  # a fresh deployment does not flap
    clock.advance(bound(store))
    assert (await client.get("/readyz")).status_code == 200
    clock.advance(seconds=1)
    answer = await client.get("/readyz")
    assert (answer.status_code, answer.json()["status"]) == (200, "stale")
    assert "no aggregation pass" in answer.json()["detail"]


async def test_a_forward_dated_stamp_is_fresh_and_a_garbled_one_is_told_stale(
    client: httpx.AsyncClient, store: Store, clock: FakeClock
) -> None:
    ahead = clock.now() + timedelta(seconds=3)  # an aggregator whose clock runs a little ahead
    await store.redis.set(store.keys.last_pass, ahead.isoformat())
    assert (await client.get("/readyz")).status_code == 200
    await store.redis.set(store.keys.last_pass, "yesterday-ish")
    answer = await client.get("/readyz")
    assert answer.status_code == 200
    assert answer.json()["status"] == "stale" and "not an instant" in answer.json()["detail"]
