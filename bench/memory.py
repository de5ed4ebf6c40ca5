"""Benchmark: the store bytes one site-day costs, with many distinct pages.

    .venv/bin/python -m bench.memory [--pages 10000] [--visitors 2000]

Runs against the embedded store (a fresh valkey-server in a temporary directory), as
`visitor-stats serve` does: a site gets one pageview of each of ``--pages`` distinct pages
from ``--visitors`` visitors (a title each), then one aggregation pass (which trims what it
bounds). Prints each of the site's keys with ``MEMORY USAGE``, largest first, and the sum:
what a day of such traffic adds to the store, and what stays after the day is closed.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Iterable
from datetime import timedelta
from pathlib import Path

from aggregator.rollup import run_pass
from bench.store import bench_store
from counter.record.hit import Hit
from counter.record.recorder import Recorder
from counter.sites import make_site
from counter.storage.embedded import EmbeddedRedis
from counter.storage.store import Store

SITE = "bench.gov.vn"
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)
BATCH = 500


def hits(pages: int, visitors: int) -> Iterable[Hit]:
    for n in range(pages):
        v = n % visitors
        yield Hit(
            site=SITE,
            url=f"https://{SITE}/tin-tuc/chuyen-muc-{n % 40}/bai-viet-so-{n}.html",
            client_ip=f"10.{v // 65536}.{v // 256 % 256}.{v % 256}",
            user_agent=UA,
            origin=f"https://{SITE}",
            title=f"Bài viết số {n}: tin tức hoạt động của sở, ban, ngành tỉnh"[:200],
        )


async def site_bytes(store: Store) -> list[tuple[int, str]]:
    sizes = []
    prefix = store.settings.key_prefix
    async for key in store.redis.scan_iter(match=f"{prefix}:*", count=1000):
        name = key.decode()
        sizes.append((int(await store.redis.memory_usage(name, samples=0) or 0), name))
    return sorted(sizes, reverse=True)


def report(title: str, sizes: list[tuple[int, str]], prefix: str) -> None:
    print(f"\n{title}: {sum(s for s, _ in sizes):,} bytes in {len(sizes)} keys")
    for size, name in sizes[:12]:
        print(f"  {size:>12,}  {name.removeprefix(prefix + ':')}")


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--visitors", type=int, default=2_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vsm", dir="/tmp") as tmp, EmbeddedRedis(Path(tmp)):
        async with bench_store(Path(tmp), "bm") as (store, clock):
            await store.registry.put(make_site(id=SITE, domains=[SITE]))
            recorder = Recorder(store)
            batch: list[Hit] = []
            for hit in hits(args.pages, args.visitors):
                batch.append(hit)
                if len(batch) == BATCH:
                    await asyncio.gather(*(recorder.record(h) for h in batch))
                    batch = []
            await asyncio.gather(*(recorder.record(h) for h in batch))
            await run_pass(store, clock.now())
            print(f"{args.pages:,} distinct pages, {args.visitors:,} visitors, one day")
            report("after the day's pass", await site_bytes(store), store.settings.key_prefix)
            clock.advance(timedelta(days=1))
            await run_pass(store, clock.now())
            report(
                "after the pass that closes it", await site_bytes(store), store.settings.key_prefix
            )


if __name__ == "__main__":
    asyncio.run(main())
