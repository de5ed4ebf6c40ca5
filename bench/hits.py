"""Benchmark: a realistic mix of hits and stats reads, 1 and 2 API workers, beside a bare app.

    .venv/bin/python -m bench.hits [--rounds 3] [--seconds 5] [--connections 32] [--quick]

For each worker count (``--workers 1,2``), in this one run and on loopback: `visitor-stats
serve` with its embedded store and a bare ASGI app (bench/bare.py) under the same uvicorn
settings, each started fresh in a temporary directory on free ports and stopped at the end.

- Load: the mix of bench/mix.py (real-browser agents with a long tail, half of each run's
  distinct agents never sent before, Zipf pages, Vietnamese addresses in X-Forwarded-For
  when the server trusts the loopback proxy). The bare app gets the very same requests.
- Maximum throughput: wrk (Debian ``wrk``) with bench/pool.lua, closed loop, ``--rounds``
  rounds of bare POST, hit, bare GET, stats in turn (a drift of the shared machine's speed
  touches the baseline and the service alike); medians, and each ratio to the bare app of
  the same round.
- Latency: then each round at a constant rate of half the measured hit maximum with
  bench/rate.py (Debian has no wrk2): p50, p90, p99 from each request's intended send time.
- CPU per request: utime + stime of the server's processes (serve, its workers, the store,
  the aggregator; from /proc) before and after each load run, over the requests answered.
- Pinning: the load generator on CPU 0; one worker's server on CPU 1, two workers' server on
  CPUs 0-1 (this box has 2 cores), so the 2-worker figure shares a core with the load.
- Flood caps raised to their highest allowed values (the checks still run, none refuses):
  the load is one site at thousands of hits a second, on purpose.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import cast

import annotated_types
import httpx

from bench.mix import SITE, Mix, PoolFacts, write_requests
from counter.settings import Settings

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
LOAD_CPU = "0"
SERVER_CPUS = {1: "1", 2: "0,1"}
BARE_POST, HIT, BARE_GET, STATS = "bare POST", "POST /api/hit", "bare GET", "GET /api/stats"
STATS_POOL = 20_000
IDLE_S = 5  # one aggregation interval
TRUSTED_PROXIES = ["127.0.0.1/32", "::1/128"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args!r} exited") from None
            time.sleep(0.05)
    raise RuntimeError(f"{url} not ready")


def this_tree(env: dict[str, str]) -> dict[str, str]:
    """``env`` with this checkout first on the import path: the virtualenv's editable install
    points at one checkout, and a bench run from another (a ``git worktree`` of an older
    commit, for a before-and-after) must start the servers from its own code."""
    paths = [str(HERE.parent), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return env | {"PYTHONPATH": os.pathsep.join(paths)}


def commit_of(tree: Path) -> str:
    """The commit a checkout stands on, with '+changes' when its files differ from it."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", "-C", str(tree), *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--short", "HEAD") or "not a git checkout"
    return commit + ("+changes" if git("status", "--porcelain", "--untracked-files=no") else "")


def caps_env() -> dict[str, str]:
    """Every flood cap at the highest value Settings allows: checked on every hit, never hit."""
    env = {}
    for name, info in Settings.model_fields.items():
        if name.startswith("rate_"):
            (le,) = (m.le for m in info.metadata if isinstance(m, annotated_types.Le))
            env[f"VISITOR_STATS_{name.upper()}"] = str(cast(int, le))
    return env


def trusts_loopback(env: dict[str, str]) -> bool:
    networks = json.loads(env["VISITOR_STATS_TRUSTED_PROXIES"])
    return any(ipaddress.ip_address("127.0.0.1") in ipaddress.ip_network(n) for n in networks)


def wrk(url: str, seconds: int, connections: int, pool: Path) -> dict[str, float]:
    """wrk's closed loop over a pool of requests."""
    cmd = ["taskset", "-c", LOAD_CPU, "wrk", "-t1", f"-c{connections}", f"-d{seconds}s"]
    cmd += ["--latency", "-s", str(HERE / "pool.lua"), url, "--", str(pool)]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 60
    ).stdout

    def found(pattern: str) -> re.Match[str]:
        match = re.search(pattern, out)
        if match is None:
            raise RuntimeError(f"wrk said:\n{out}")
        return match

    def ms(label: str) -> float:
        value, unit = found(rf"{label}\s+([\d.]+)(us|ms|s)\b").groups()
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    return {
        "requests": float(found(r"(\d+) requests in").group(1)),
        "rps": float(found(r"Requests/sec:\s+([\d.]+)").group(1)),
        "p50": ms("50%"),
        "p90": ms("90%"),
        "p99": ms("99%"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
        "errors": float(sum(map(int, sockets.groups()))) if sockets else 0.0,
    }


def constant_rate(
    port: int, seconds: float, connections: int, pool: Path, rate: float
) -> tuple[dict[str, float], list[int]]:
    """bench/rate.py at ``rate`` requests a second, pinned beside wrk; its summary and every
    latency in µs (from the intended send time)."""
    latencies = pool.with_suffix(".latencies")
    cmd = ["taskset", "-c", LOAD_CPU, sys.executable, "-m", "bench.rate", "--port", str(port)]
    cmd += ["--requests", str(pool), "--rate", f"{rate:.0f}", "--seconds", str(seconds)]
    cmd += ["--connections", str(connections), "--latencies", str(latencies)]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 60, cwd=HERE.parent
    ).stdout
    summary: dict[str, float] = json.loads(out)
    summary["requests"] = summary["answered"]
    summary["rps"] = summary["achieved"]
    summary["errors"] = summary["broken"]
    values: list[int] = json.loads(latencies.read_text())
    latencies.unlink()
    return summary, values


def _descendants(pid: int) -> Iterator[int]:
    yield pid
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue  # the task ended
        for child in children:
            yield from _descendants(int(child))


def tree_cpu(pid: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by ``pid`` and its live descendants: in all,
    the store's (valkey-server) and the aggregator's."""
    used = {"all": 0.0, "store": 0.0, "aggregator": 0.0}
    tick = os.sysconf("SC_CLK_TCK")
    for each in set(_descendants(pid)):
        try:
            stat = Path(f"/proc/{each}/stat").read_text()
            command = Path(f"/proc/{each}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat.rpartition(")")[2].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        used["all"] += seconds
        if comm.startswith("valkey"):
            used["store"] += seconds
        elif b"aggregator" in command:
            used["aggregator"] += seconds
    return used


def store_calls(port: int) -> float:
    """Round trips the API workers made to the store so far, from their own /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r"^visitor_stats_redis_call_duration_seconds_count ([\d.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def hit_outcomes(port: int) -> dict[str, float]:
    """The bench site's hits by outcome (counted, bot, rate_limited, ...), from /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    outcomes: dict[str, float] = {}
    for labels, value in re.findall(r"^visitor_stats_hits_total\{([^}]*)\} (\S+)$", text, re.M):
        fields = dict(re.findall(r'(\w+)="([^"]*)"', labels))
        if fields.get("site") == SITE:
            outcomes[fields["outcome"]] = outcomes.get(fields["outcome"], 0) + float(value)
    return outcomes


@dataclass
class Phase:
    """Everything measured with one worker count."""

    workers: int
    runs: dict[str, list[dict[str, float]]] = field(default_factory=dict)
    latencies: dict[str, list[int]] = field(default_factory=dict)
    rate: float = 0.0
    pools: list[PoolFacts] = field(default_factory=list)
    outcomes: dict[str, float] = field(default_factory=dict)
    idle_ms_per_s: dict[str, float] = field(default_factory=dict)

    def add(self, name: str, run: dict[str, float]) -> None:
        self.runs.setdefault(name, []).append(run)

    def rps(self, name: str) -> float:
        return median(r["rps"] for r in self.runs[name])

    def ratio(self, name: str, bare: str) -> float:
        pairs = zip(self.runs[name], self.runs[bare], strict=True)
        return median(r["rps"] / b["rps"] for r, b in pairs)


@contextmanager
def servers(workers: int, env: dict[str, str], tmp: Path) -> Iterator[tuple[int, int, list[int]]]:
    """`visitor-stats serve` and the bare app, pinned, ready; their ports and pids."""
    api_port, bare_port = free_port(), free_port()
    pin = ["taskset", "-c", SERVER_CPUS[workers]]
    logs = (tmp / "serve.log").open("wb")
    service = subprocess.Popen(
        [*pin, BIN / "visitor-stats", "serve", "--port", str(api_port), "--workers", str(workers)],
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
    )
    bare = subprocess.Popen(
        [
            *pin,
            *(BIN / "uvicorn", "bench.bare:app", "--port", str(bare_port)),
            *("--workers", str(workers), "--no-access-log", "--log-level", "warning"),
        ],
        cwd=HERE.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        try:
            wait_ready(f"http://127.0.0.1:{api_port}/readyz", service)
        except RuntimeError:
            logs.flush()
            sys.stderr.write((tmp / "serve.log").read_text()[-3000:])
            raise
        wait_ready(f"http://127.0.0.1:{bare_port}/", bare)
        subprocess.run(
            [BIN / "visitor-stats", "sites", "add", SITE, "--domain", SITE],
            env=env,
            check=True,
            capture_output=True,
        )
        yield api_port, bare_port, [service.pid, bare.pid]
    finally:
        for process in (service, bare):
            process.send_signal(signal.SIGTERM)
        for process in (service, bare):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        logs.close()


def measure(
    workers: int, args: argparse.Namespace, env: dict[str, str], mix: Mix, tmp: Path
) -> Phase:
    phase = Phase(workers)
    env = env | {"VISITOR_STATS_DATA_DIR": str(tmp / "var")}
    with servers(workers, env, tmp) as (api_port, bare_port, (api_pid, bare_pid)):
        api, bare = f"http://127.0.0.1:{api_port}/", f"http://127.0.0.1:{bare_port}/"
        warm = write_requests(tmp / "warm.req", mix.warmup(copies=2 * workers))
        stats = write_requests(tmp / "stats.req", mix.stats(STATS_POOL))
        warm_s = min(2, args.seconds)
        for url, pool in ((api, warm), (bare, warm), (bare, stats)):
            wrk(url, warm_s, args.connections, pool)
        # A worker that has served a while has read its pages before: the whole stats pool
        # once (wrk starts the pool over each run), so that first reads do not pass for load.
        rate = wrk(api, warm_s, args.connections, stats)["rps"]
        wrk(api, min(30, math.ceil(STATS_POOL / max(rate, 1.0)) + 1), args.connections, stats)

        # What the server's processes use doing nothing (the aggregator's passes, the store,
        # snapshots): a share of every CPU figure below, larger at a low rate.
        before = tree_cpu(api_pid)
        time.sleep(IDLE_S)
        after = tree_cpu(api_pid)
        phase.idle_ms_per_s = {k: (after[k] - before[k]) / IDLE_S * 1000 for k in after}

        def timed(pid: int, run: Callable[[], dict[str, float]]) -> dict[str, float]:
            before = tree_cpu(pid)
            result = run()
            after = tree_cpu(pid)
            answered = max(result["requests"], 1)
            result["cpu_us"] = (after["all"] - before["all"]) / answered * 1e6
            result["store_us"] = (after["store"] - before["store"]) / answered * 1e6
            result["aggregator_us"] = (after["aggregator"] - before["aggregator"]) / answered * 1e6
            return result

        for _ in range(args.rounds):
            # A fresh pool each round, large enough to be sent once: its unseen agents unseen.
            best = max((r["rps"] for r in phase.runs.get(HIT, [])), default=args.pool_rate)
            requests, facts = mix.hits(int(1.5 * best * args.seconds))
            pool = write_requests(tmp / "hits.req", requests)
            phase.pools.append(facts)
            for name, pid, url, load, size in (
                (BARE_POST, bare_pid, bare, pool, len(requests)),
                (HIT, api_pid, api, pool, len(requests)),
                (BARE_GET, bare_pid, bare, stats, STATS_POOL),
                (STATS, api_pid, api, stats, STATS_POOL),
            ):

                def closed_loop(u: str = url, p: Path = load, n: int = size) -> dict[str, float]:
                    run = wrk(u, args.seconds, args.connections, p)
                    run["passes"] = run["requests"] / n  # how often wrk sent the pool
                    return run

                calls = store_calls(api_port) if name == HIT else 0.0
                phase.add(name, timed(pid, closed_loop))
                if name == HIT:
                    phase.runs[HIT][-1]["store_calls"] = store_calls(api_port) - calls
        phase.rate = phase.rps(HIT) / 2
        for _ in range(args.rounds):
            requests, facts = mix.hits(int(phase.rate * args.seconds) + 1)
            pool = write_requests(tmp / "hits.req", requests)
            phase.pools.append(facts)
            for name, pid, port in ((BARE_POST, bare_pid, bare_port), (HIT, api_pid, api_port)):
                latencies = phase.latencies.setdefault(name, [])

                def constant(
                    p: int = port, requests: Path = pool, kept: list[int] = latencies
                ) -> dict[str, float]:
                    summary, values = constant_rate(
                        p, args.seconds, args.connections, requests, phase.rate
                    )
                    kept.extend(values)
                    return summary

                phase.add(f"{name} @", timed(pid, constant))
        phase.outcomes = hit_outcomes(api_port)
    return phase


def percentile(values: list[int], share: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.999999) - 1))
    return ordered[rank] / 1000 if ordered else float("nan")


def report(phases: list[Phase], args: argparse.Namespace, forwarded: bool) -> None:
    print(
        f"bench.hits: {args.rounds} round(s) of {args.seconds} s per load, {args.connections}"
        " connections, loopback; medians over the rounds, ratios to the bare app of the same"
        " round"
    )
    print(
        f"pinned with taskset: load generator (wrk, bench/rate.py) on CPU {LOAD_CPU}; server on "
        + "; ".join(f"CPU {SERVER_CPUS[p.workers]} with {p.workers} worker(s)" for p in phases)
    )
    if any(p.workers > 1 for p in phases):
        print(
            "  the 2-worker figures are limited by sharing a core with the load generator"
            " (2 cores in all): a floor, not what 2 workers do with the load elsewhere"
        )
    facts = [f for p in phases for f in p.pools]
    print(
        f"hit mix: {sum(f.unseen_share for f in facts) / len(facts):.0%} of each pool's distinct"
        f" agents never sent before ({median(f.distinct_agents for f in facts):.0f} distinct"
        f" agents a pool, {sum(f.unseen_hits for f in facts) / sum(f.hits for f in facts):.1%}"
        f" of hits), Zipf pages over 10,000 paths (top page"
        f" {median(f.top_page_share for f in facts):.0%} of hits),"
        f" {median(f.hits / f.visitors for f in facts):.1f} hits a visitor;"
        + (
            " addresses from Vietnamese ISPs in X-Forwarded-For (127.0.0.1 is a trusted proxy)"
            if forwarded
            else " addresses left alone (loopback is no trusted proxy)"
        )
    )
    print(
        "flood caps raised to their highest allowed values through VISITOR_STATS_RATE_*:"
        " checked on every hit, refusing none, so this measures counting, not refusing"
    )
    print(
        "CPU µs/req: the server's processes (serve, workers, store, aggregator) over the"
        " requests answered; store (valkey-server) and aggr. (the aggregator) are part of it;"
        " w: workers; @: constant rate, latency from the intended send time"
    )
    print(
        f"{'w':>1} {'load':<24} {'req/s':>8} {'vs bare':>8} {'p50 ms':>7} {'p90 ms':>7}"
        f" {'p99 ms':>7} {'CPU µs/req':>10} {'store':>6} {'aggr.':>6} {'non-2xx':>8}"
        f" {'errors':>6}"
    )
    for phase in phases:
        for name, runs in phase.runs.items():
            constant = name.endswith("@")
            if constant:
                values = phase.latencies[name[:-2]]
                p50, p90, p99 = (percentile(values, s) for s in (0.5, 0.9, 0.99))
                label = f"{name[:-2]} @ {phase.rate:,.0f}/s"
                ratio = ""
            else:
                p50, p90, p99 = (median(r[k] for r in runs) for k in ("p50", "p90", "p99"))
                label = name
                bare = {HIT: BARE_POST, STATS: BARE_GET}.get(name)
                ratio = f"{phase.ratio(name, bare):.2f}x" if bare else "1"
            print(
                f"{phase.workers:>1} {label:<24} {median(r['rps'] for r in runs):>8,.0f}"
                f" {ratio:>8} {p50:>7.2f} {p90:>7.2f} {p99:>7.2f}"
                f" {median(r['cpu_us'] for r in runs):>10.0f}"
                f" {median(r['store_us'] for r in runs):>6.0f}"
                f" {median(r['aggregator_us'] for r in runs):>6.0f}"
                f" {sum(r['non2xx'] for r in runs):>8.0f} {sum(r['errors'] for r in runs):>6.0f}"
            )
    by_workers = {p.workers: p for p in phases}
    if 1 in by_workers and 2 in by_workers:
        one, two = by_workers[1], by_workers[2]
        print(
            f"2 workers / 1 worker: hits {two.rps(HIT) / one.rps(HIT):.2f}x,"
            f" stats {two.rps(STATS) / one.rps(STATS):.2f}x, bare POST"
            f" {two.rps(BARE_POST) / one.rps(BARE_POST):.2f}x (cores shared with the load)"
        )
    for phase in phases:
        passes = max(r["passes"] for r in phase.runs[HIT])
        lag = max(r["client_lag_p99"] for r in phase.runs[f"{HIT} @"])
        trips = sum(r["store_calls"] for r in phase.runs[HIT])
        trips_per_hit = trips / max(sum(r["requests"] for r in phase.runs[HIT]), 1)
        shown = {"counted": 0.0, "rate_limited": 0.0, "bot": 0.0, "spooled": 0.0} | phase.outcomes
        outcomes = ", ".join(f"{k} {v:,.0f}" for k, v in shown.items())
        idle = phase.idle_ms_per_s
        print(
            f"{phase.workers} worker(s): hits by outcome (/metrics): {outcomes}\n"
            f"  wrk sent a hit pool {passes:.2f} times at most (below 1: its unseen agents"
            f" stayed unseen); {trips_per_hit:.2f} store round trips a hit at the maximum (hits"
            " of one event-loop turn share one)\n"
            f"  the constant-rate client's own lag p99 {lag:.2f} ms; idle, the server's processes"
            f" use {idle['all']:.0f} ms of CPU a second (store {idle['store']:.0f}, aggregator"
            f" {idle['aggregator']:.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="worker counts, e.g. 1,2 or 1")
    parser.add_argument(
        "--pool-rate", type=float, default=15_000, help="hits/s the first hit pool is sized for"
    )
    parser.add_argument("--quick", action="store_true", help="a smoke run: 1 round of 2 s")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 2
    workers = [int(w) for w in args.workers.split(",")]
    if any(w not in SERVER_CPUS for w in workers):
        sys.exit(f"--workers: one of {sorted(SERVER_CPUS)}")
    for tool in ("wrk", "taskset"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is missing: apt-get install wrk util-linux")
    env = this_tree({k: v for k, v in os.environ.items() if not k.startswith("VISITOR_STATS_")})
    env |= caps_env() | {"VISITOR_STATS_TRUSTED_PROXIES": json.dumps(TRUSTED_PROXIES)}
    forwarded = trusts_loopback(env)
    print(f"servers run the code of {HERE.parent} ({commit_of(HERE.parent)})", flush=True)
    mix = Mix(forwarded=forwarded)
    phases = []
    for count in workers:
        with tempfile.TemporaryDirectory(prefix="vsb", dir="/tmp") as tmp:
            phases.append(measure(count, args, env, mix, Path(tmp)))
    report(phases, args, forwarded)


if __name__ == "__main__":
    main()
