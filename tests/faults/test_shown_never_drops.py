"""Hits flow steadily through a loss of the store (FLUSHALL): no all-time figure the service
shows (a hit's answer or /api/stats) is lower than one it showed before, and at the end all
time holds every pageview it acknowledged (issue 12, "nothing shown goes down, nothing
acknowledged is lost")."""

from __future__ import annotations

from pathlib import Path

import httpx
import redis.asyncio

from aggregator.rollup import run_pass
from aggregator.snapshot import Snapshots
from counter.clock import FakeClock
from counter.record.recorder import Recorder
from counter.record.replay import tick
from tests.faults.test_outage import counted, send
from tests.servers import StoreProcess

STEPS = 24
HITS_PER_STEP = 5
STEP_S = 5  # one aggregation interval: a pass after every step
FLUSH_AT = 9  # 45 s in: past the first snapshot (written at once), before the second (30 s on)
ACKNOWLEDGED = (200, 202, 204)


async def flushall(server: StoreProcess) -> None:
    client = redis.asyncio.Redis.from_url(server.url)
    try:
        assert await client.flushall() is True
        assert await client.dbsize() == 0
    finally:
        await client.aclose()


async def test_all_time_shown_never_drops_and_counts_every_acknowledged_hit_through_a_flush(
    own_store: StoreProcess,
    app_client: tuple[httpx.AsyncClient, Recorder],
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    http, recorder = app_client
    store = recorder.store
    snapshots = Snapshots(store, tmp_path / "snapshot")
    # Every all-time figure shown, in order: (step, where, figure). /api/stats answers with the
    # last pass's summary while a hit's answer folds today's live count into it, so a stats
    # read between two passes may be below the hit answers just given (by design, at most one
    # interval's hits): the mid-interval reads are held to their own past, and the read right
    # after each pass, which covers every hit before it, to everything shown before.
    shown: list[tuple[int, str, int]] = []
    between: list[tuple[int, int]] = []
    acknowledged = 0
    n = 0

    async def stats_total() -> int:
        stats = await http.get("/api/stats", params={"site": "demo.local"})
        assert stats.status_code == 200, stats.text
        total: int = stats.json()["total"]
        return total

    async def aggregate() -> None:
        clock.advance(seconds=STEP_S)
        await run_pass(store, clock.now(), snapshots=snapshots)
        await tick(recorder)  # the worker's journal and spool, as its replayer does

    await aggregate()  # the site's first summary and snapshot
    for step in range(STEPS):
        if step == FLUSH_AT:
            await flushall(own_store)
        for _ in range(HITS_PER_STEP):
            answer = await send(http, n)
            n += 1
            assert answer.status_code in ACKNOWLEDGED, (step, answer.status_code, answer.text)
            acknowledged += 1
            if answer.status_code == 200:
                shown.append((step, "hit", answer.json()["total"]))
        between.append((step, await stats_total()))
        await aggregate()
        shown.append((step, "stats after the pass", await stats_total()))

    for _ in range(3):  # the journals' replays settle, and a pass publishes them
        await aggregate()
    shown.append((STEPS, "stats at the end", await stats_total()))

    def drops(figures: list[tuple[int, str, int]]) -> list[tuple[int, str, int, int]]:
        """(step, where, figure, highest shown before) for each figure below an earlier one."""
        found, highest = [], 0
        for step, where, figure in figures:
            if figure < highest:
                found.append((step, where, figure, highest))
            highest = max(highest, figure)
        return found

    assert not drops(shown), f"(step, where, shown, highest shown before): {drops(shown)}"
    assert not drops([(s, "stats between passes", t) for s, t in between])
    assert await counted(recorder) == acknowledged == STEPS * HITS_PER_STEP
    # Every hit came from its own address: one visit each, so all time (visits) is the same.
    assert shown[-1][2] == acknowledged
