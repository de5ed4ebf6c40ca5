"""The service's own processes: SIGTERM under load, a worker killed."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import BROWSER_A
from tests.system.conftest import Service

pytestmark = pytest.mark.system


def children(pid: int) -> dict[int, str]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True, check=False)
    out = {}
    for child in found.stdout.split():
        cmdline = Path(f"/proc/{child}/cmdline")
        if cmdline.exists():
            out[int(child)] = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
    return out


def workers(pid: int) -> set[int]:
    return {p for p, cmd in children(pid).items() if "spawn_main" in cmd}


def test_sigterm_under_load_loses_nothing_acknowledged(
    service_factory: type[Service], tmp_path: Path
) -> None:
    service = service_factory(tmp_path / "var").start()
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    acknowledged = 0
    stop = threading.Event()

    def load() -> None:
        nonlocal acknowledged
        with httpx.Client(base_url=service.base, timeout=5) as client:
            for n in range(1, 20_000):  # bounded; ends when the service is gone
                if stop.is_set():
                    return
                try:
                    answer = client.post(
                        "/api/hit",
                        json={"site": "demo.local", "url": "/a"},
                        headers={
                            "Origin": "https://demo.local",
                            "User-Agent": BROWSER_A,
                            "X-Forwarded-For": f"10.1.{n >> 8 & 255}.{n & 255}",
                        },
                    )
                except httpx.TransportError:
                    return  # the service has stopped listening
                if answer.status_code in (200, 202):
                    acknowledged += 1

    sender = threading.Thread(target=load)
    sender.start()
    deadline = time.monotonic() + 10
    while acknowledged < 200 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert service.process is not None
    service.process.send_signal(signal.SIGTERM)
    service.process.wait(timeout=30)
    stop.set()
    sender.join(timeout=30)
    assert acknowledged >= 200
    again = service_factory(tmp_path / "var").start()
    final = again.wait_for("demo.local", lambda b: b["pageviews"]["total"] >= acknowledged, 30)
    assert final["pageviews"]["total"] == acknowledged


def test_a_killed_worker_is_replaced(service_factory: type[Service], tmp_path: Path) -> None:
    service = service_factory(tmp_path / "var", None, "--workers", "2").start()
    assert service.process is not None
    deadline = time.monotonic() + 20
    while len(workers(service.process.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = workers(service.process.pid)
    assert len(before) == 2
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        now = workers(service.process.pid)
        if len(now) == 2 and victim not in now:
            break
        time.sleep(0.1)
    assert len(now) == 2
    assert victim not in now
    for _ in range(10):
        assert httpx.get(f"{service.base}/healthz", timeout=5).status_code == 200
