"""Benchmark: hits/s and stats reads/s of one API worker, beside a bare-ASGI baseline.

    .venv/bin/python -m bench.hits [--rounds 3] [--seconds 5] [--connections 32] [--workers 1]

Everything runs on loopback in this run: `visitor-stats serve` with its embedded store, a
bare ASGI app under the same uvicorn settings, and wrk (Debian package `wrk`) as the load.
Load is bounded by --seconds; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

import httpx

HERE = Path(__file__).parent
BARE, HIT, STATS = "bare ASGI (baseline)", "POST /api/hit", "GET /api/stats"
BIN = Path(sys.executable).parent


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
                raise RuntimeError(f"{process.args} exited") from None
            time.sleep(0.05)
    raise RuntimeError(f"{url} not ready")


def wrk(url: str, seconds: int, connections: int, script: Path | None = None) -> dict[str, float]:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        cmd[1:1] = ["-s", str(script)]
    out = subprocess.run(
        cmd, capture_output=True, text=True, check=True, timeout=seconds + 30
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def ms(label: str) -> float:
        value, unit = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sent = re.search(r"(\d+) requests in", out)
    return {
        "requests": float(sent.group(1)) if sent else 0.0,
        "rps": rps,
        "p50": ms("50%"),
        "p99": ms("99%"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) the process has used so far, its children apart."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def store_calls(port: int) -> float:
    """Round trips the API workers made to the store so far, from their own /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r"^visitor_stats_redis_call_duration_seconds_count ([\d.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is missing: apt-get install wrk")
    with tempfile.TemporaryDirectory(prefix="vsb", dir="/tmp") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("VISITOR_STATS_")}
        # Flood caps off: the load is one site at thousands of hits a second, on purpose.
        env |= {
            "VISITOR_STATS_DATA_DIR": f"{tmp}/var",
            "VISITOR_STATS_RATE_PER_VISITOR_PER_MIN": "0",
            "VISITOR_STATS_RATE_PER_ADDRESS_PER_MIN": "0",
            "VISITOR_STATS_RATE_PER_SITE_PER_MIN": "0",
        }
        api_port, bare_port = free_port(), free_port()
        logs = open(f"{tmp}/serve.log", "wb")  # noqa: SIM115 - closed below
        service = subprocess.Popen(
            [
                BIN / "visitor-stats",
                "serve",
                "--port",
                str(api_port),
                "--workers",
                str(args.workers),
            ],
            env=env,
            stdout=logs,
            stderr=subprocess.STDOUT,
        )
        bare = subprocess.Popen(
            [
                BIN / "uvicorn",
                "bench.bare:app",
                "--port",
                str(bare_port),
                "--workers",
                str(args.workers),
                "--no-access-log",
                "--log-level",
                "warning",
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
                sys.stderr.write(open(f"{tmp}/serve.log").read()[-3000:])  # noqa: SIM115
                raise
            wait_ready(f"http://127.0.0.1:{bare_port}/", bare)
            subprocess.run(
                [BIN / "visitor-stats", "sites", "add", "bench.gov.vn", "--domain", "bench.gov.vn"],
                env=env,
                check=True,
                capture_output=True,
            )
            loads = {
                BARE: (bare, f"http://127.0.0.1:{bare_port}/", None),
                HIT: (service, f"http://127.0.0.1:{api_port}/api/hit", HERE / "hit.lua"),
                STATS: (service, f"http://127.0.0.1:{api_port}/api/stats?site=bench.gov.vn", None),
            }
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in loads}
            round_trips = 0.0
            # Rounds of the three loads in turn: a drift of the machine's speed (other
            # tenants, frequency) then touches the baseline and the service alike.
            for _ in range(args.rounds):
                for name, (process, url, script) in loads.items():
                    calls = store_calls(api_port) if name == HIT else 0.0
                    cpu = cpu_seconds(process.pid)
                    run = wrk(url, args.seconds, args.connections, script)
                    run["cpu_us"] = (cpu_seconds(process.pid) - cpu) / run["requests"] * 1e6
                    runs[name].append(run)
                    if name == HIT:
                        round_trips += store_calls(api_port) - calls
            stats = httpx.get(
                f"http://127.0.0.1:{api_port}/api/stats", params={"site": "bench.gov.vn"}
            ).json()
        finally:
            for process in (service, bare):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            logs.close()
    print(
        f"{args.workers} worker(s), {args.connections} connections, {args.rounds} rounds of"
        f" {args.seconds} s per endpoint, loopback; medians over the rounds"
    )
    cpu_note = "" if args.workers == 1 else " (CPU per request: one worker only)"
    print(
        f"{'endpoint':<22} {'req/s':>8} {'vs bare':>8} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'CPU us/req':>10} {'non-2xx':>8}{cpu_note}"
    )
    for name, results in runs.items():
        ratio = median(r["rps"] / b["rps"] for r, b in zip(results, runs[BARE], strict=True))
        cpu = f"{median(r['cpu_us'] for r in results):>10.0f}" if args.workers == 1 else " " * 10
        print(
            f"{name:<22} {median(r['rps'] for r in results):>8.0f} {ratio:>7.0%}"
            f" {median(r['p50'] for r in results):>7.2f} {median(r['p99'] for r in results):>7.2f}"
            f" {cpu} {sum(r['non2xx'] for r in results):>8.0f}"
        )
    hits = sum(r["requests"] for r in runs[HIT])
    print(f"pageviews counted: {stats['pageviews']['total']} (stats may lag one aggregation pass)")
    print(
        f"store round trips during the hit loads: {round_trips:.0f} for {hits:.0f} hits"
        f" ({round_trips / max(hits, 1):.2f} a hit; hits of one event-loop turn share one)"
    )


if __name__ == "__main__":
    main()
