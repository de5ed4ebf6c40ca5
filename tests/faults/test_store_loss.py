"""The store loses its data under a running worker (FLUSHALL, or a restart without persistence):
its hits are neither refused nor lost, and no figure it has shown drops before the restore."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from aggregator.rollup import run_pass
from aggregator.snapshot import Snapshots
from counter.clock import FakeClock
from counter.errors import UnknownSite
from counter.figures.stats import StatsReader
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.aggregator.test_snapshot import wipe
from tests.helpers import hit


async def test_hits_and_reads_between_a_loss_and_the_restore_keep_every_figure(
    store: Store,
    recorder: Recorder,
    reader: StatsReader,
    site: Site,
    clock: FakeClock,
    tmp_path: Path,
) -> None:
    store.settings.snapshot_interval_s = 0  # each pass snapshots what changed
    snapshots = Snapshots(store, tmp_path / "snapshot")
    for n in range(5):
        await hit(recorder, ip=f"198.51.100.{n}")
    await run_pass(store, clock.now(), snapshots=snapshots)  # summary and snapshot written
    assert (await hit(recorder, ip="198.51.100.5")).box["total"] == 6  # hits go on flowing
    await run_pass(store, clock.now(), snapshots=snapshots)
    clock.advance(seconds=2)
    shown: dict[str, Any] = await reader.read(site.id)
    assert shown["total"] == 6
    await wipe(store)
    clock.advance(seconds=10)  # past the worker's copy of the site's config
    after = [await hit(recorder, ip=f"203.0.113.{n}") for n in range(3)]
    assert all(r.counted for r in after)  # not 404 "unknown site": the store lost it, not us
    # The box keeps the last summary this worker's hits answered with (the first pass's, 5),
    # not the three hits since the loss.
    assert [r.box["total"] for r in after] == [5, 5, 5]
    read = await reader.read(site.id)
    assert (read["total"], read["stale"]) == (6, True)
    restored = (await run_pass(store, clock.now(), snapshots=snapshots)).summaries[site.id]
    assert restored["total"] == 9
    # The day's, week's and month's unique visitors came back too (the snapshot keeps their
    # HyperLogLogs; the restore merges them with the visitors seen since the loss).
    assert {p: restored["visitors"][p] for p in ("today", "week", "month")} == dict.fromkeys(
        ("today", "week", "month"), 9
    )
    clock.advance(seconds=2)
    assert (await reader.read(site.id))["total"] == 9
    clock.advance(days=1)  # the restored day is closed into the history, with its visitors
    closed = await run_pass(store, clock.now(), snapshots=snapshots)
    assert closed.days_closed == 1
    assert closed.summaries[site.id]["visitors"]["yesterday"] == 9


async def test_a_site_removed_by_its_operator_is_unknown_at_once_once_its_copy_expires(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    await hit(recorder)
    await run_pass(store, clock.now(), snapshots=Snapshots(store, tmp_path / "snapshot"))
    await store.registry.remove(site.id)
    clock.advance(seconds=10)
    with pytest.raises(UnknownSite):
        await hit(recorder)
