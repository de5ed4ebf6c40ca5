"""Replaying the outage spool once the store answers again."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from counter.errors import InvalidInput, OriginRejected, StoreRestoring, UnknownSite
from counter.record.recorder import STORE_DOWN, Recorder
from counter.record.spool import Identity, Prepared, Spool

log = logging.getLogger("visitor_stats.spool")

CONCURRENCY = 32
TICK_S = 0.5


async def _replay_one(recorder: Recorder, prepared: Prepared, identity: Identity) -> None:
    # A hit that turns out unknown, foreign or malformed is decided (and counted as such by
    # the checks): it is done, like a counted one.
    with contextlib.suppress(UnknownSite, OriginRejected, InvalidInput):
        await recorder.replay(prepared, identity)
    recorder.observe(None, "replayed")


async def replay_spool(recorder: Recorder) -> int:
    """Replay every spool file this process can claim; returns the hits replayed.

    A store error stops it: the claimed file stays and is replayed again from its start next
    time (hit ids make the repeats change nothing).
    """
    spool = recorder.spool
    if spool is None:
        return 0
    replayed = 0
    for path in spool.claim():
        batch: list[tuple[Prepared, Identity]] = []
        count = 0
        for spooled in Spool.read(path):
            batch.append(spooled)
            if len(batch) >= CONCURRENCY:
                await asyncio.gather(*(_replay_one(recorder, *s) for s in batch))
                count += len(batch)
                batch.clear()
        await asyncio.gather(*(_replay_one(recorder, *s) for s in batch))
        count += len(batch)
        spool.done(path)
        replayed += count
        recorder.spool_changed()
    if replayed:
        log.info("replayed %d spooled hit(s)", replayed)
    return replayed


async def tick(recorder: Recorder) -> None:
    """One round of the replayer: sync the spool; if it holds hits and the store answers,
    close the breaker and replay them."""
    spool = recorder.spool
    if spool is None:
        return
    spool.sync()
    if not recorder.store.sites.epoch_seen:
        # Until this process has seen the aggregator's epoch, a store without one may be new;
        # once seen, its absence is a loss (counter/sites.py).
        await recorder.store.sites.check_epoch()
    if recorder.journal is not None and len(recorder.journal) and not recorder.outage.open:
        try:
            # Let go of what durable snapshots hold; spool what a loss of the store took.
            await recorder.journal.settle(recorder.store, spool)
        except STORE_DOWN:
            recorder.outage.trip()
            return
        recorder.spool_changed()
    if not recorder.outage.open and not spool.has_pending():
        return
    try:
        await recorder.store.redis.ping()
    except STORE_DOWN:
        recorder.outage.trip()
        return
    recorder.outage.close()
    try:
        await replay_spool(recorder)
    except StoreRestoring:
        pass  # the store answers, its registry is not back yet: the file waits a tick
    except STORE_DOWN:
        recorder.outage.trip()


async def run_replayer(recorder: Recorder, stop: asyncio.Event) -> None:
    """A tick every half second until ``stop`` is set (the app's shutdown).

    Stopped by an event, never by cancelling the task: redis-py can swallow a cancel that
    lands inside a command (redis/redis-py#2028, #2551), and then this loop ran on and the
    shutdown waited for it without end (seen in CI, one teardown in a few hundred)."""
    while True:
        try:
            await asyncio.wait_for(stop.wait(), TICK_S)  # a background cadence, not a test
            return
        except TimeoutError:
            pass
        try:
            await tick(recorder)
        except Exception:
            log.exception("spool replay failed; retrying at the next tick")
