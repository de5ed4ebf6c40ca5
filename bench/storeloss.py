"""Drill: FLUSHALL of the store under steady hits, for issue 12's closing note.

    .venv/bin/python -m bench.storeloss [--delays 5,40,90] [--rate 20] [--after 20]

One run, on loopback: `visitor-stats serve` (one worker, its aggregator, the embedded store)
fresh in a temporary directory on a free port, a site counting pageviews, and hits at a steady
``--rate`` a second (a few real-browser agents and addresses, a dozen pages, the site's
Origin) from the first hit to ``--after`` seconds past the last flush. At each of ``--delays``
seconds after the first hit, FLUSHALL on the service's store (one run, the flushes in turn:
the later ones find a store restored once already, as a store that fails twice would).
/api/stats is read twice a second all along. Then the hits stop, the passes catch up, and
everything is stopped.

Printed, for each flush: the all-time figure shown just before it (the last /api/stats answer
and the highest hit answer), just after it (the first of each), the lowest shown in the
``--after`` seconds after it, and the figure at their end; and for the whole run: hits
acknowledged (200, 202, 204) against all-time pageviews counted at the end.

The defaults take about 2.5 minutes; ``--delays 5`` about 40 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import redis.asyncio

from bench.hits import BIN, TRUSTED_PROXIES, caps_env, free_port, this_tree, wait_ready
from bench.mix import SITE, read_corpus
from counter.keys import Keys
from counter.storage.embedded import EmbeddedRedis

ACKNOWLEDGED = (200, 202, 204)
COUNT_PAGEVIEWS = ("--count", "pageviews")  # all time is then comparable with hits acknowledged
AGENTS = 4
ADDRESSES = [f"203.0.113.{n}" for n in range(10, 16)]
PAGES = [f"/tin-tuc/bai-{n}.html" for n in range(12)]
STATS_EVERY_S = 0.5
SETTLE_S = 30  # at most, after the last hit: the journals' replays and a pass or two


@dataclass
class Seen:
    """Everything the drill saw, stamped with seconds since the first hit."""

    hits: list[tuple[float, int, int | None]] = field(default_factory=list)  # (t, status, total)
    stats: list[tuple[float, int]] = field(default_factory=list)  # (t, all time) of 200s
    stats_refused: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    flushes: list[float] = field(default_factory=list)
    counted: tuple[int, int] = (0, 0)  # all-time pageviews at the end: stored, /api/stats


@contextmanager
def service(tmp: Path) -> Iterator[tuple[int, Path]]:
    """`visitor-stats serve` with its embedded store, ready and with the site; its port and data
    directory. Stopped (and the store with it) however the drill ends."""
    data_dir = tmp / "var"
    env = this_tree({k: v for k, v in os.environ.items() if not k.startswith("VISITOR_STATS_")})
    env |= caps_env() | {
        "VISITOR_STATS_TRUSTED_PROXIES": json.dumps(TRUSTED_PROXIES),
        "VISITOR_STATS_DATA_DIR": str(data_dir),
    }
    port = free_port()
    log_path = tmp / "serve.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [BIN / "visitor-stats", "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_ready(f"http://127.0.0.1:{port}/readyz", process)
            except RuntimeError:
                log.flush()
                sys.stderr.write(log_path.read_text()[-3000:])
                raise
            subprocess.run(
                [BIN / "visitor-stats", "sites", "add", SITE, "--domain", SITE, *COUNT_PAGEVIEWS],
                env=env,
                check=True,
                capture_output=True,
            )
            yield port, data_dir
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


async def send_hits(
    http: httpx.AsyncClient, agents: list[str], rate: float, start: float, until: float, seen: Seen
) -> None:
    """Hits at ``rate`` a second on a fixed schedule (a slow answer does not slow the rate)."""
    pending: set[asyncio.Task[None]] = set()

    async def one(n: int) -> None:
        headers = {
            "Origin": f"https://{SITE}",
            "User-Agent": agents[n % len(agents)],
            "X-Forwarded-For": ADDRESSES[n % len(ADDRESSES)],
        }
        body = {"site": SITE, "url": f"https://{SITE}{PAGES[n % len(PAGES)]}"}
        try:
            answer = await http.post("/api/hit", json=body, headers=headers)
        except httpx.HTTPError as exc:
            seen.failures[type(exc).__name__] += 1
            return
        total = answer.json().get("total") if answer.status_code == 200 else None
        seen.hits.append((time.monotonic() - start, answer.status_code, total))

    n = 0
    while (due := start + n / rate) < until:
        await asyncio.sleep(max(0.0, due - time.monotonic()))
        task = asyncio.create_task(one(n))
        pending.add(task)
        task.add_done_callback(pending.discard)
        n += 1
    await asyncio.gather(*pending)


async def read_stats(
    http: httpx.AsyncClient, start: float, stop: asyncio.Event, seen: Seen
) -> None:
    while not stop.is_set():
        try:
            answer = await http.get("/api/stats", params={"site": SITE})
        except httpx.HTTPError as exc:
            seen.failures[f"stats {type(exc).__name__}"] += 1
        else:
            if answer.status_code == 200:
                seen.stats.append((time.monotonic() - start, int(answer.json()["total"])))
            else:
                seen.stats_refused[answer.status_code] += 1
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), STATS_EVERY_S)


async def counted_at_end(http: httpx.AsyncClient, store: redis.asyncio.Redis) -> tuple[int, int]:
    """All-time pageviews in the store and in /api/stats, once two reads a pass apart agree
    (the journals replayed and a pass published them), or after SETTLE_S."""
    totals = Keys("vs").site(SITE).totals
    deadline = time.monotonic() + SETTLE_S
    last: tuple[int, int] | None = None
    while True:
        await asyncio.sleep(6)  # a little over one aggregation interval (5 s)
        stored = int(await store.hget(totals, "pageviews") or 0)
        shown = int((await http.get("/api/stats", params={"site": SITE})).json()["total"])
        if ((stored, shown) == last and stored == shown) or time.monotonic() > deadline:
            return stored, shown
        last = (stored, shown)


async def drill(port: int, data_dir: Path, args: argparse.Namespace) -> Seen:
    seen = Seen()
    agents = read_corpus()[:AGENTS]
    store = redis.asyncio.Redis.from_url(EmbeddedRedis(data_dir).url)
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", timeout=10, limits=limits
    ) as http:
        try:
            start = time.monotonic()
            end = start + max(args.delays) + args.after
            stop = asyncio.Event()
            hits = asyncio.create_task(send_hits(http, agents, args.rate, start, end, seen))
            stats = asyncio.create_task(read_stats(http, start, stop, seen))
            for delay in args.delays:
                await asyncio.sleep(max(0.0, start + delay - time.monotonic()))
                seen.flushes.append(time.monotonic() - start)
                await store.flushall()
                print(f"  FLUSHALL at {seen.flushes[-1]:.1f} s", flush=True)
            await hits
            stop.set()
            await stats
            seen.counted = await counted_at_end(http, store)
        finally:
            await store.aclose()
    return seen


def _last(values: list[tuple[float, int]], before: float) -> int | None:
    earlier = [v for t, v in values if t < before]
    return earlier[-1] if earlier else None


def _first(values: list[tuple[float, int]], after: float) -> int | None:
    later = [v for t, v in values if t >= after]
    return later[0] if later else None


def _shown(v: int | None) -> str:
    return "-" if v is None else f"{v:,}"


def report(seen: Seen, args: argparse.Namespace) -> None:
    hit_totals = [(t, total) for t, _, total in seen.hits if total is not None]
    print(
        f"bench.storeloss: one `visitor-stats serve` (1 worker, embedded store), {args.rate:g}"
        f" hits/s from {AGENTS} agents x {len(ADDRESSES)} addresses over {len(PAGES)} pages,"
        f" FLUSHALL at {', '.join(f'{d:g}' for d in args.delays)} s, hits until"
        f" {max(args.delays) + args.after:g} s; all time = pageviews (the site counts them)"
    )
    later = f"stats +{args.after:g} s"
    print(
        f"{'flush':>7} {'stats before':>12} {'hits max before':>15} {'stats after':>11}"
        f" {'hit after':>9} {'lowest stats':>12} {'lowest hit':>10} {later:>11}"
    )
    for i, at in enumerate(seen.flushes):
        window_end = min(at + args.after, seen.flushes[i + 1] if i + 1 < len(seen.flushes) else 1e9)
        in_window = [(t, v) for t, v in seen.stats if at <= t < window_end]
        hits_in_window = [(t, v) for t, v in hit_totals if at <= t < window_end]
        before = [v for t, v in hit_totals if t < at]
        print(
            f"{at:>6.1f}s {_shown(_last(seen.stats, at)):>12}"
            f" {_shown(max(before) if before else None):>15}"
            f" {_shown(_first(seen.stats, at)):>11} {_shown(_first(hit_totals, at)):>9}"
            f" {_shown(min((v for _, v in in_window), default=None)):>12}"
            f" {_shown(min((v for _, v in hits_in_window), default=None)):>10}"
            f" {_shown(_last(seen.stats, window_end)):>11}"
        )
    statuses = Counter(status for _, status, _ in seen.hits)
    acknowledged = sum(statuses[s] for s in ACKNOWLEDGED)
    stored, shown = seen.counted
    drops = sum(1 for (_, a), (_, b) in zip(seen.stats, seen.stats[1:], strict=False) if b < a)
    print(
        f"hits sent {len(seen.hits) + sum(seen.failures.values()):,}: answers"
        f" {dict(sorted(statuses.items()))}, failures {dict(seen.failures) or 0};"
        f" /api/stats refusals {dict(seen.stats_refused) or 0}"
    )
    print(
        f"acknowledged {acknowledged:,} vs all-time pageviews counted at the end {stored:,}"
        f" (/api/stats shows {shown:,}): {acknowledged - stored:+,} lost;"
        f" /api/stats went down {drops} time(s) in {len(seen.stats)} reads"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--delays",
        default="5,40,90",
        type=lambda text: sorted(float(d) for d in text.split(",")),
        help="seconds after the first hit at which to FLUSHALL, e.g. 5 or 5,40,90",
    )
    parser.add_argument("--rate", type=float, default=20, help="hits a second")
    parser.add_argument("--after", type=float, default=20, help="seconds of hits after a flush")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="vsl", dir="/tmp") as tmp,
        service(Path(tmp)) as (port, data_dir),
    ):
        seen = asyncio.run(drill(port, data_dir, args))
    report(seen, args)


if __name__ == "__main__":
    main()
