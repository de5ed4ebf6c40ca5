"""Benchmark: hits/s and stats reads/s of one API worker, beside a bare-ASGI baseline.

    .venv/bin/python -m bench.hits [--seconds 10] [--connections 32] [--workers 1]

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

import httpx

HERE = Path(__file__).parent
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


def store_calls(port: int) -> float:
    """Round trips the API workers made to the store so far, from their own /metrics."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    found = re.search(r"^visitor_stats_redis_call_duration_seconds_count ([\d.e+]+)$", text, re.M)
    return float(found.group(1)) if found else 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
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
            baseline = wrk(f"http://127.0.0.1:{bare_port}/", args.seconds, args.connections)
            calls_before = store_calls(api_port)
            hits = wrk(
                f"http://127.0.0.1:{api_port}/api/hit",
                args.seconds,
                args.connections,
                HERE / "hit.lua",
            )
            round_trips = store_calls(api_port) - calls_before
            rows = [
                ("bare ASGI (baseline)", baseline),
                ("POST /api/hit", hits),
                (
                    "GET /api/stats",
                    wrk(
                        f"http://127.0.0.1:{api_port}/api/stats?site=bench.gov.vn",
                        args.seconds,
                        args.connections,
                    ),
                ),
            ]
            stats = httpx.get(
                f"http://127.0.0.1:{api_port}/api/stats", params={"site": "bench.gov.vn"}
            ).json()
        finally:
            for process in (service, bare):
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=30)
            logs.close()
    base = rows[0][1]["rps"]
    print(
        f"{args.workers} worker(s), {args.connections} connections, {args.seconds} s each, loopback"
    )
    print(
        f"{'endpoint':<22} {'req/s':>8} {'vs bare':>8} {'p50 ms':>7} {'p99 ms':>7} {'non-2xx':>8}"
    )
    for name, r in rows:
        ratio = r["rps"] / base
        print(
            f"{name:<22} {r['rps']:>8.0f} {ratio:>7.0%} {r['p50']:>7.2f} {r['p99']:>7.2f}"
            f" {r['non2xx']:>8.0f}"
        )
    print(f"pageviews counted: {stats['pageviews']['total']} (stats may lag one aggregation pass)")
    print(
        f"store round trips during the hit load: {round_trips:.0f} for {hits['requests']:.0f}"
        f" hits ({round_trips / max(hits['requests'], 1):.2f} a hit; hits of one event-loop"
        " turn share one)"
    )


if __name__ == "__main__":
    main()
