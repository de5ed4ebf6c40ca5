"""Replaying the outage spool once the store answers again."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from counter.errors import InvalidInput, OriginRejected, UnknownSite
from counter.hits import STORE_DOWN, replay_hit
from counter.spool import Spool, SpooledHit
from counter.store import Store

log = logging.getLogger("visitor_stats.spool")

CONCURRENCY = 32
TICK_S = 0.5


async def _replay_one(store: Store, spooled: SpooledHit) -> None:
    # A hit that turns out unknown, foreign or malformed is decided (and counted as such by
    # the checks): it is done, like a counted one.
    with contextlib.suppress(UnknownSite, OriginRejected, InvalidInput):
        await replay_hit(store, spooled)
    store.observe(None, "replayed")


async def replay_spool(store: Store) -> int:
    """Replay every spool file this process can claim; returns the hits replayed.

    A store error stops it: the claimed file stays and is replayed again from its start next
    time (hit ids make the repeats change nothing).
    """
    spool = store.spool
    if spool is None:
        return 0
    replayed = 0
    for path in spool.claim():
        batch: list[SpooledHit] = []
        count = 0
        for spooled in Spool.read(path):
            batch.append(spooled)
            if len(batch) >= CONCURRENCY:
                await asyncio.gather(*(_replay_one(store, s) for s in batch))
                count += len(batch)
                batch.clear()
        await asyncio.gather(*(_replay_one(store, s) for s in batch))
        count += len(batch)
        spool.done(path, count)
        replayed += count
        if store.on_spool is not None:
            store.on_spool(spool.pending)
    if replayed:
        log.info("replayed %d spooled hit(s)", replayed)
    return replayed


async def tick(store: Store) -> None:
    """One round of the replayer: sync the spool; if it holds hits and the store answers,
    close the breaker and replay them."""
    spool = store.spool
    if spool is None:
        return
    spool.sync()
    if not store.outage.open and not spool.has_pending():
        return
    try:
        await store.redis.ping()
    except STORE_DOWN:
        store.outage.trip()
        return
    store.outage.close()
    try:
        await replay_spool(store)
    except STORE_DOWN:
        store.outage.trip()


async def run_replayer(store: Store) -> None:
    """Until cancelled (the app's shutdown), a tick every half second."""
    while True:
        await asyncio.sleep(TICK_S)  # a background cadence, not a test waiting for time
        try:
            await tick(store)
        except Exception:
            log.exception("spool replay failed; retrying at the next tick")
