"""The store loses its data under a running worker (FLUSHALL, or a restart without persistence):
its hits are neither refused nor lost, and no figure it has shown drops before the restore."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import redis

import aggregator.snapshot as snapshot_module
import counter.record.journal as journal_module
from aggregator.rollup import run_pass
from aggregator.snapshot import Snapshots, StoreLost
from counter.access import KeyRing, KeyScope, issue_key
from counter.clock import FakeClock
from counter.errors import StoreRestoring, UnknownSite
from counter.figures.adjustments import adjust_total, list_adjustments
from counter.figures.pages import carry_pages, list_page_adjustments, set_pages
from counter.figures.stats import StatsReader
from counter.record.journal import Journal
from counter.record.recorder import Recorder
from counter.record.replay import replay_spool
from counter.record.spool import Spool
from counter.replies import text
from counter.settings import Settings
from counter.sites import Site, make_site
from counter.storage.connection import connect
from counter.storage.store import Store
from tests.aggregator.test_snapshot import wipe
from tests.helpers import hit
from tests.servers import StoreProcess


@pytest.fixture
async def alone(own_store: StoreProcess, clock: FakeClock, tmp_path: Path) -> AsyncIterator[Store]:
    """A store on a server of this test alone, with the production snapshot interval (30 s),
    so the test may FLUSHALL it as an operator would."""
    settings = Settings(
        redis_url=own_store.url, key_prefix=f"t{secrets.token_hex(6)}", data_dir=tmp_path / "var"
    )
    store = Store(connect(settings, own_store.url), settings, clock)
    await store.registry.put(make_site(id="demo.local", domains=["demo.local"]))
    try:
        yield store
    finally:
        await store.aclose()


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
    # The box never shows less than this worker's last answer (6, on the first pass's
    # summary), though that summary says 5 and the store holds only the three hits since.
    assert [r.box["total"] for r in after] == [6, 6, 6]
    read = await reader.read(site.id)
    assert (read["total"], read["stale"]) == (6, True)
    # The pass that restores publishes nothing for the site (the workers' journals bring back
    # what came after the snapshot within a tick): the reader keeps the last answer shown.
    assert site.id not in (await run_pass(store, clock.now(), snapshots=snapshots)).summaries
    clock.advance(seconds=2)
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


async def test_site_keys_and_carried_page_views_come_back_with_the_snapshot(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    _, key = await issue_key(store.redis, store.keys, site.id, KeyScope.ingest, "cms", clock.now())
    await carry_pages(store, site.id, "nukeviet", {"/tin-tuc/1": 2638})
    await set_pages(store, site.id, [("/tin-tuc/2", 40)], reason="old CMS figure")
    await hit(recorder, url="/tin-tuc/1")
    await run_pass(store, clock.now(), snapshots=snapshots)
    await wipe(store)
    await run_pass(store, clock.now(), snapshots=snapshots)  # restores
    ring = KeyRing(store.redis, store.keys, clock)
    assert await ring.verify(key, KeyScope.ingest) == site.id  # the CMS's key still counts
    views = await store.redis.hgetall(store.keys.site(site.id).page_views)
    assert {k.decode(): int(v) for k, v in views.items()} == {"/tin-tuc/1": 2639, "/tin-tuc/2": 40}
    # Carrying the same figures again adds nothing: the import ledger came back too.
    assert await carry_pages(store, site.id, "nukeviet", {"/tin-tuc/1": 2638}) == (0, 0)
    assert len(await list_page_adjustments(store, site.id)) == 1


def journaled(store: Store, tmp_path: Path) -> tuple[Snapshots, Spool, Journal, Recorder]:
    """A snapshot at every pass, and a worker's recorder with its spool and journal."""
    store.settings.snapshot_interval_s = 0
    spool = Spool(tmp_path / "spool", 1 << 20)
    journal = Journal(tmp_path / "journal", 1000)
    return (
        Snapshots(store, tmp_path / "snapshot"),
        spool,
        journal,
        Recorder(store, spool, journal=journal),
    )


async def test_pageviews_acknowledged_after_the_last_snapshot_are_counted_again_once(
    store: Store, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    snapshots, spool, journal, recorder = journaled(store, tmp_path)
    for n in range(4):
        await hit(recorder, ip=f"198.51.100.{n}")
    await run_pass(store, clock.now(), snapshots=snapshots)  # snapshot holds these 4
    assert await journal.settle(store, spool) == (4, 0)  # durable: the journal lets them go
    for n in range(4, 7):
        await hit(recorder, ip=f"198.51.100.{n}")  # acknowledged; no snapshot holds them
    assert len(journal) == 3
    await wipe(store)
    await hit(recorder, ip="203.0.113.1")  # counted after the loss, before the restore
    assert await journal.settle(store, spool) == (0, 0)  # not restored yet: nothing decided
    restored = await run_pass(store, clock.now(), snapshots=snapshots)
    assert site.id not in restored.summaries  # held until the journals are back
    # The 3 the loss took go to the spool; the one since the loss is in the pass's snapshot.
    assert await journal.settle(store, spool) == (1, 3)
    assert await replay_spool(recorder) == 3
    assert await journal.settle(store, spool) == (0, 0)  # exactly once
    after = await run_pass(store, clock.now(), snapshots=snapshots)
    assert after.summaries[site.id]["total"] == 8  # every acknowledged pageview
    assert after.summaries[site.id]["visitors"]["today"] == 8
    assert await journal.settle(store, spool) == (3, 0)  # the next snapshot holds the replays
    assert len(journal) == 0


async def test_a_tick_judges_again_only_what_its_marker_could_decide_otherwise(
    store: Store, site: Site, clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    snapshots, spool, journal, recorder = journaled(store, tmp_path)
    judged: list[object] = []
    verdict = journal_module._verdict

    def counted(entry: Any, marker: Any) -> str:
        judged.append(entry)
        return verdict(entry, marker)

    monkeypatch.setattr(journal_module, "_verdict", counted)
    await run_pass(store, clock.now(), snapshots=snapshots)
    for n in range(5):
        await hit(recorder, ip=f"198.51.100.{n}")
    assert await journal.settle(store, spool) == (0, 0) and len(judged) == 5
    assert await journal.settle(store, spool) == (0, 0) and len(judged) == 5  # none again
    await hit(recorder, ip="198.51.100.9")
    assert await journal.settle(store, spool) == (0, 0) and len(judged) == 6  # the new one
    await run_pass(store, clock.now(), snapshots=snapshots)  # a new marker: all of them
    assert await journal.settle(store, spool) == (6, 0) and len(judged) == 12
    # Lost, with no room in the spool: judged again at the next tick, marker unchanged.
    for n in range(3):
        await hit(recorder, ip=f"203.0.113.{n}")
    await wipe(store)
    await run_pass(store, clock.now(), snapshots=snapshots)  # restores
    assert await journal.settle(store, Spool(tmp_path / "full", 1)) == (0, 0)
    assert await journal.settle(store, spool) == (0, 3)
    assert len(journal) == 0


async def test_a_stopped_workers_journal_is_adopted_by_the_next(
    store: Store, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await run_pass(store, clock.now(), snapshots=snapshots)
    journal = Journal(tmp_path / "journal", 1000)
    await hit(Recorder(store, Spool(tmp_path / "spool", 1 << 20), journal=journal))
    (segment,) = (tmp_path / "journal").glob("journal-*.jsonl")
    segment.rename(segment.with_name("journal-999999999-dead.jsonl"))  # a pid that is gone
    successor = Journal(tmp_path / "journal", 1000)
    assert successor.adopt() == 1
    await wipe(store)
    await run_pass(store, clock.now(), snapshots=snapshots)
    assert await successor.settle(store, Spool(tmp_path / "spool", 1 << 20)) == (0, 1)


async def test_a_flush_just_before_a_pass_writes_the_epoch_still_brings_the_registry_back(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await hit(recorder)
    await run_pass(store, clock.now(), snapshots=snapshots)
    manifest = snapshots.manifest()
    assert manifest is not None
    await wipe(store)
    # The pass in flight wrote the epoch's generation after the flush: the epoch is back as
    # the snapshot has it, the registry and the site's marker are not.
    await store.redis.hset(
        store.keys.epoch, mapping={"id": manifest["epoch"], "generation": manifest["generation"]}
    )
    report = await run_pass(store, clock.now(), snapshots=snapshots)
    assert report.restored is not None and report.restored.registry_restored
    assert await store.registry.ids() == [site.id]
    again = await run_pass(store, clock.now(), snapshots=snapshots)
    assert again.summaries[site.id]["total"] == 1


async def test_an_adjustment_made_seconds_before_a_flushall_is_back_after_the_restore(
    alone: Store, clock: FakeClock, tmp_path: Path
) -> None:
    store = alone
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await hit(Recorder(store))
    await run_pass(store, clock.now(), snapshots=snapshots)  # the site's snapshot: 1
    clock.advance(seconds=5)
    await adjust_total(store, "demo.local", 48_812_107, "the old counter's figure")
    clock.advance(seconds=5)  # the next pass, well within the snapshot interval
    shown = (await run_pass(store, clock.now(), snapshots=snapshots)).summaries["demo.local"]
    assert shown["total"] == 48_812_107
    # No worker's journal can bring an adjustment back: the snapshot must hold it already.
    await store.redis.flushall()
    restoring = await run_pass(store, clock.now(), snapshots=snapshots)
    assert restoring.restored is not None and restoring.restored.sites_added == ["demo.local"]
    after = (await run_pass(store, clock.now(), snapshots=snapshots)).summaries["demo.local"]
    assert after["total"] == 48_812_107
    assert len(await store.redis.lrange(store.keys.site("demo.local").adjustments, 0, -1)) == 1


async def test_sites_added_since_the_last_pass_are_back_after_a_flushall_after_one_pass(
    alone: Store, clock: FakeClock, tmp_path: Path
) -> None:
    store = alone
    snapshots = Snapshots(store, tmp_path / "snapshot")
    recorder = Recorder(store)
    await hit(recorder)
    await run_pass(store, clock.now(), snapshots=snapshots)
    clock.advance(seconds=5)
    # More new sites than one pass's share of snapshots: each is written in its first pass.
    added = [f"s{n}.vn" for n in range(30)]
    for n, site_id in enumerate(added):
        await store.registry.put(make_site(id=site_id, domains=[site_id]))
        for k in range(n % 3 + 1):
            await hit(recorder, site=site_id, origin=f"https://{site_id}", ip=f"198.51.100.{k}")
    first = await run_pass(store, clock.now(), snapshots=snapshots)
    assert {first.summaries[s]["total"] for s in added} == {1, 2, 3}
    await store.redis.flushall()
    await run_pass(store, clock.now(), snapshots=snapshots)  # restores
    assert await store.registry.ids() == sorted(["demo.local", *added])
    after = await run_pass(store, clock.now(), snapshots=snapshots)
    assert {s: after.summaries[s]["total"] for s in added} == {
        s: n % 3 + 1 for n, s in enumerate(added)
    }
    assert after.summaries["demo.local"]["total"] == 1


async def test_a_pass_whose_snapshot_cannot_be_written_publishes_no_summary(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    async def shown() -> Any:
        return orjson.loads(text(await store.redis.get(store.keys.site(site.id).summary)))["total"]

    await hit(recorder)
    await run_pass(store, clock.now())  # no snapshots: published as before
    assert await shown() == 1
    await adjust_total(store, site.id, 1000, "the old counter's figure")
    await hit(recorder, ip="203.0.113.9")
    blocked = tmp_path / "snapshot"
    blocked.write_bytes(b"")  # a file where the directory should be: the write fails
    with pytest.raises(NotADirectoryError):
        await run_pass(store, clock.now(), snapshots=Snapshots(store, blocked))
    # What a loss now would take back was never shown: the box still says 1.
    assert await shown() == 1
    snapshots = Snapshots(store, tmp_path / "fixed")
    published = await run_pass(store, clock.now(), snapshots=snapshots)
    assert published.summaries[site.id]["total"] == 1001
    on_disk = snapshots.site_snapshot(site.id)
    assert on_disk is not None
    measure = site.measure.value
    assert on_disk["totals"][measure] + on_disk["offsets"][measure] == 1001


async def test_a_flush_during_a_pass_never_overwrites_the_snapshot_with_the_empty_store(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    """FLUSHALL between a pass's read of the registry and its snapshot (fresh-ci saw it): the
    pass must not write the emptied site as its snapshot, nor publish, nor hide the loss."""
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await hit(recorder)
    await adjust_total(store, site.id, 500, "drill")
    first = await run_pass(store, clock.now(), snapshots=snapshots)
    assert first.summaries[site.id]["total"] == 500
    await hit(recorder, ip="203.0.113.9")
    # The pass in flight: it read the registry and rolled up (without its snapshot yet)...
    sites = await store.registry.all()
    in_flight = await run_pass(store, clock.now())
    await wipe(store)  # ...then the store lost everything, before its snapshot's reads
    with pytest.raises(StoreLost):
        await snapshots.write(sites, in_flight.fingerprints)
    on_disk = snapshots.site_snapshot(site.id)
    assert on_disk is not None and len(on_disk["adjustments"]) == 1
    assert not await store.redis.exists(store.keys.epoch)  # the next pass sees the loss
    restoring = await run_pass(store, clock.now(), snapshots=snapshots)
    assert restoring.restored is not None and restoring.restored.sites_added == [site.id]
    after = await run_pass(store, clock.now(), snapshots=snapshots)
    assert after.summaries[site.id]["total"] == 500
    assert len(await list_adjustments(store, site.id)) == 1


async def test_a_worker_that_never_saw_the_site_spools_its_hits_until_the_restore(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    """A worker with no copy of the site (it never had a hit for it, or its copy expired long
    ago) cannot tell the site from an unknown one before the restore: it must not answer 404.
    A store that never had an epoch is new: there, an unknown site stays unknown (404)."""
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await hit(recorder)
    await run_pass(store, clock.now(), snapshots=snapshots)
    fresh_store = Store(
        connect(store.settings, store.settings.redis_url or ""), store.settings, clock
    )
    try:
        await fresh_store.sites.check_epoch()  # as the API's start-up does
        await wipe(store)
        fresh = Recorder(fresh_store, Spool(tmp_path / "spool", 1 << 20))
        waiting = await hit(fresh, ip="203.0.113.40")
        assert waiting.spooled  # 202, kept: not 404 "unknown site"
        with pytest.raises(StoreRestoring):
            await StatsReader(fresh_store).read(site.id)  # 503 "being restored", not 404
        await run_pass(store, clock.now(), snapshots=snapshots)  # restores the registry
        fresh.outage.succeeded()
        assert await replay_spool(fresh) == 1
        after = await run_pass(store, clock.now(), snapshots=snapshots)
        assert after.summaries[site.id]["total"] == 2
        with pytest.raises(UnknownSite):  # once restored, an unknown site is unknown again
            await fresh_store.sites.get("nobody.vn")
        await wipe(store)
        newcomer = Store(
            connect(store.settings, store.settings.redis_url or ""), store.settings, clock
        )
        await newcomer.sites.check_epoch()  # started on the emptied store: it looks new
        try:
            with pytest.raises(UnknownSite):
                await newcomer.sites.get(site.id)
        finally:
            await newcomer.aclose()
    finally:
        await fresh_store.aclose()


async def test_a_hit_for_a_site_being_restored_spools_alone_without_tripping_the_breaker(
    store: Store, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    """One hit for a site this worker has no copy of (it may be bogus) must not send every
    site's hits to the spool while the store, which answers, is being restored."""
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    recorder = Recorder(store, Spool(tmp_path / "spool", 1 << 20))
    await hit(recorder)  # the worker now has the site's config, and has seen the epoch
    await run_pass(store, clock.now(), snapshots=snapshots)
    await store.sites.check_epoch()
    await wipe(store)
    assert (await hit(recorder, site="nobody.vn", origin="https://nobody.vn")).spooled
    assert not recorder.outage.open
    assert (await hit(recorder, ip="203.0.113.41")).counted  # its own site counts on


async def test_a_flush_just_before_a_pass_reads_the_registry_keeps_every_site_restorable(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock, tmp_path: Path
) -> None:
    """FLUSHALL after a pass found nothing to restore and before it read the registry (CI saw
    it): the pass sees no site at all, and its manifest must still name the lost ones."""
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await hit(recorder)
    await adjust_total(store, site.id, 500, "drill")
    assert (await run_pass(store, clock.now(), snapshots=snapshots)).summaries[site.id][
        "total"
    ] == 500
    await wipe(store)
    with pytest.raises(StoreLost):
        await snapshots.write(await store.registry.all(), {})  # the pass in flight: no sites
    manifest = snapshots.manifest()
    assert manifest is not None and manifest["sites"] == [site.id]
    restoring = await run_pass(store, clock.now(), snapshots=snapshots)
    assert restoring.restored is not None and restoring.restored.sites_added == [site.id]
    after = await run_pass(store, clock.now(), snapshots=snapshots)
    assert after.summaries[site.id]["total"] == 500
    assert len(await list_adjustments(store, site.id)) == 1


async def test_a_flush_while_the_pass_writes_its_files_leaves_the_epoch_missing(
    store: Store,
    recorder: Recorder,
    site: Site,
    clock: FakeClock,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The loss lands after the snapshot's reads (they hold the figures) and before the pass
    moves the epoch: the epoch must not be written back into the emptied store."""
    store.settings.snapshot_interval_s = 0
    snapshots = Snapshots(store, tmp_path / "snapshot")
    await hit(recorder)
    await adjust_total(store, site.id, 700, "drill")
    await run_pass(store, clock.now(), snapshots=snapshots)
    await hit(recorder, ip="203.0.113.42")
    settings = store.settings
    assert settings.redis_url is not None
    flushing = redis.Redis.from_url(settings.redis_url)
    write = snapshot_module.write_atomically

    def flush_then_write(path: Path, data: bytes) -> None:
        for key in flushing.scan_iter(match=f"{store.keys.prefix}:*"):
            flushing.delete(key)
        write(path, data)

    monkeypatch.setattr(snapshot_module, "write_atomically", flush_then_write)
    try:
        report = await run_pass(store, clock.now(), snapshots=snapshots)
    finally:
        monkeypatch.undo()
        flushing.close()
    assert report.summaries == {}  # published nothing
    assert not await store.redis.exists(store.keys.epoch)
    restoring = await run_pass(store, clock.now(), snapshots=snapshots)
    assert restoring.restored is not None and restoring.restored.sites_added == [site.id]
    after = await run_pass(store, clock.now(), snapshots=snapshots)
    assert after.summaries[site.id]["total"] == 701  # the snapshot read before the flush
