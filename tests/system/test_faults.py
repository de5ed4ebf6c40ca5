"""Faults against the real service: the store flushed under it, the store killed."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.helpers import BROWSER_A
from tests.system.conftest import Service

pytestmark = pytest.mark.system


def pageview(service: Service, n: int) -> None:
    answer = httpx.post(
        f"{service.base}/api/hit",
        json={"site": "demo.local", "url": "/a"},
        headers={
            "Origin": "https://demo.local",
            "User-Agent": BROWSER_A,
            "X-Forwarded-For": f"198.51.100.{n}",
        },
        timeout=5,
    )
    assert answer.status_code == 200


def test_flushall_drill_all_time_comes_back(service_factory: type[Service], tmp_path: Path) -> None:
    service = service_factory(tmp_path / "var").start()
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    assert (
        service.cli(
            "sites", "adjust", "demo.local", "--total", "500", "--reason", "drill"
        ).returncode
        == 0
    )
    for n in range(6):
        pageview(service, n)
    before = service.wait_for("demo.local", lambda b: b["total"] == 506)
    # Let one more pass snapshot the figures it just summarised, then lose everything.
    last = service.wait_for("demo.local", lambda b: b["updated_at"] != before["updated_at"])
    store = redis.Redis(unix_socket_path=str(tmp_path / "var" / "valkey.sock"))
    store.flushall()
    store.close()
    # The ledger is read from the store on every request (no worker keeps it): once it is
    # back, the restore has run.
    deadline = time.monotonic() + 15
    ledger: dict[str, list[dict[str, int]]] = {"adjustments": []}
    while not ledger["adjustments"] and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = httpx.get(f"{service.base}/api/stats/adjustments", params={"site": "demo.local"})
        # Before the restore, a worker that never saw the site answers 503: not back yet.
        ledger = answer.json() if answer.status_code == 200 else {"adjustments": []}
    assert [e["after"] for e in ledger["adjustments"]] == [500]
    after = service.wait_for(
        "demo.local", lambda b: b["updated_at"] != last["updated_at"] and b["total"] >= 506
    )
    assert after["pageviews"]["total"] >= 6
