"""Benchmark: one aggregation pass over N sites, and whether its cost grows with hits.

    .venv/bin/python -m bench.aggregate [--sites 1000]

Runs against the embedded store (a fresh valkey-server in a temporary directory), as
`visitor-stats serve` does. Prints the median of five passes for each configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from aggregator.rollup import run_pass
from bench.store import bench_store
from counter.record.hit import Hit
from counter.record.recorder import Recorder
from counter.sites import make_site
from counter.storage.embedded import EmbeddedRedis

UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


async def measure(data_dir: Path, sites: int, hits_per_site: int) -> tuple[float, float]:
    async with bench_store(data_dir, f"b{sites}x{hits_per_site}") as (store, clock):
        recorder = Recorder(store)
        for n in range(sites):
            await store.registry.put(make_site(id=f"s{n}.gov.vn", domains=[f"s{n}.gov.vn"]))
        for n in range(sites):
            await asyncio.gather(
                *(
                    recorder.record(
                        Hit(
                            site=f"s{n}.gov.vn",
                            url=f"/p{h % 7}",
                            client_ip=f"10.0.{h // 250}.{h % 250}",
                            user_agent=UA,
                            origin=f"https://s{n}.gov.vn",
                        ),
                    )
                    for h in range(hits_per_site)
                )
            )
        timings = []
        for _ in range(5):
            started = time.perf_counter()
            report = await run_pass(store, clock.now())
            timings.append(time.perf_counter() - started)
            assert report.sites == sites
        # The pass after midnight also closes every site's day.
        clock.advance(timedelta(days=1))
        started = time.perf_counter()
        report = await run_pass(store, clock.now())
        closing = time.perf_counter() - started
        assert report.days_closed == sites
        return statistics.median(timings), closing


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sites", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vsb", dir="/tmp") as tmp, EmbeddedRedis(Path(tmp)):
        print(
            f"{'sites':>6} {'hits/site':>9} {'pass (median of 5)':>19} {'pass closing a day':>19}"
        )
        for sites, hits in ((args.sites, 10), (args.sites, 100), (args.sites * 2, 10)):
            median, closing = await measure(Path(tmp), sites, hits)
            print(f"{sites:>6} {hits:>9} {median * 1000:>16.0f} ms {closing * 1000:>16.0f} ms")


if __name__ == "__main__":
    asyncio.run(main())
