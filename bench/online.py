"""Benchmark: what "who reads which page now" costs the store in a pass, with many online.

    .venv/bin/python -m bench.online [--online 200000] [--pages 10000]

Runs against the embedded store (a fresh valkey-server in a temporary directory). A site gets
``--online`` visitors, last seen evenly over the online window and the 5 s before it, each
reading one of ``--pages`` pages (Zipf: a few are read by many). Then, timed by the store
itself (``INFO commandstats``, ``SLOWLOG`` at every call):

- **counted afresh**: every reader counted, as a site with no online cursor is (a new store,
  a loss, once an hour); as every pass counted before the hit script kept the counts;
- **a pass 5 s on**: the cursor moved on 5 s, the visitors it passes let go.

What matters for the hits is the longest call: the store answers nothing else meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
from pathlib import Path

from aggregator.rollup import live_pages
from bench.store import bench_store
from counter.sites import Site, make_site
from counter.storage.embedded import EmbeddedRedis
from counter.storage.store import Store

SITE = "bench.gov.vn"
STEP_MS = 5_000  # the aggregation interval


async def fill(store: Store, site: Site, online: int, pages: int, now_ms: int) -> None:
    keys = store.keys.site(site.id)
    paths = [f"/tin-tuc/bai-viet-so-{n}.html" for n in range(pages)]
    weights = [1 / (n + 1) for n in range(pages)]
    rng = random.Random(1)
    span = site.online_window_s * 1000 + STEP_MS
    for start in range(0, online, 5_000):
        count = min(5_000, online - start)
        visitors = [f"{rng.getrandbits(64):016x}" for _ in range(count)]
        read = rng.choices(paths, weights, k=count)
        async with store.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(keys.last_seen, {v: now_ms - rng.randrange(span) for v in visitors})
            pipe.hset(keys.reading, mapping=dict(zip(visitors, read, strict=True)))
            await pipe.execute()


async def timed(store: Store, site: Site, now_ms: int) -> tuple[int, float, float]:
    """One pass's presence step: its store calls, their store time, the longest (ms)."""
    await store.redis.config_set("slowlog-log-slower-than", 0)
    await store.redis.slowlog_reset()
    await store.redis.config_resetstat()
    await live_pages(store, [site], now_ms)
    stats = (await store.redis.info("commandstats"))["cmdstat_evalsha"]
    longest = max(
        entry["duration"]
        for entry in await store.redis.slowlog_get(1_000)
        if entry["command"].startswith(b"EVALSHA")
    )
    await store.redis.config_set("slowlog-log-slower-than", 10_000)
    return stats["calls"], stats["usec"] / 1000, longest / 1000


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--online", type=int, default=200_000)
    parser.add_argument("--pages", type=int, default=10_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vso", dir="/tmp") as tmp, EmbeddedRedis(Path(tmp)):
        async with bench_store(Path(tmp), "bo") as (store, clock):
            site = make_site(id=SITE, domains=[SITE])
            await store.registry.put(site)
            now_ms = int(clock.now().timestamp() * 1000)
            await fill(store, site, args.online, args.pages, now_ms)
            print(f"{args.online:,} visitors online, {args.pages:,} pages")
            print("step                  store calls  store ms  longest call ms")
            for name, at in (("counted afresh", now_ms - STEP_MS), ("a pass 5 s on", now_ms)):
                calls, total, longest = await timed(store, site, at)
                print(f"{name:<21} {calls:>11,} {total:>9.1f} {longest:>16.2f}")


if __name__ == "__main__":
    asyncio.run(main())
