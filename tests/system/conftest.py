"""Whole-service fixtures: `visitor-stats serve` as a real process on a free loopback port."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.servers import free_port

BIN = Path(sys.executable).parent / "visitor-stats"


class Service:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *args: str) -> None:
        self.data_dir = data_dir
        self.args = args  # extra `serve` arguments, e.g. "--workers", "3"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("VISITOR_STATS_")}
        self.env = {
            **inherited,
            "VISITOR_STATS_DATA_DIR": str(data_dir),
            "VISITOR_STATS_AGGREGATE_INTERVAL_S": "0.2",
            "VISITOR_STATS_SNAPSHOT_INTERVAL_S": "0",
            **(env or {}),
        }
        self.log = data_dir.parent / f"serve-{self.port}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(BIN), *args], env=self.env, capture_output=True, text=True, timeout=60, check=False
        )

    def start(self) -> Service:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [str(BIN), "serve", "--port", str(self.port), *self.args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"serve did not become ready; log:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=20)
        self.process = None

    @classmethod
    @contextmanager
    def running(cls, data_dir: Path, *sites: str) -> Iterator[Service]:
        """A started service with ``sites`` added (each its own domain), stopped on the way
        out."""
        service = cls(data_dir).start()
        try:
            for site in sites:
                added = service.cli("sites", "add", site, "--domain", site)
                assert added.returncode == 0, added.stderr
            yield service
        finally:
            service.stop()

    def wait_for(self, site: str, predicate: object, timeout_s: float = 15) -> dict[str, object]:
        """Poll /api/stats until ``predicate(body)`` holds: the aggregator is a real process."""
        deadline = time.monotonic() + timeout_s
        body: dict[str, object] = {}
        while time.monotonic() < deadline:
            answer = httpx.get(f"{self.base}/api/stats", params={"site": site}, timeout=2)
            body = answer.json()
            if answer.status_code == 200 and callable(predicate) and predicate(body):
                return body
            time.sleep(0.1)
        raise AssertionError(f"stats never satisfied the condition; last: {body}")


@pytest.fixture
def service_factory(tmp_path: Path) -> Iterator[type[Service]]:
    started: list[Service] = []

    class Tracked(Service):
        def start(self) -> Service:
            started.append(self)
            return super().start()

    yield Tracked
    for service in started:
        service.stop()
    # Leave no embedded store behind (valkey-server shows its socket in its process title).
    subprocess.run(["pkill", "-f", f"unixsocket:{tmp_path}"], check=False)
