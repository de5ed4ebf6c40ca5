"""The ledger test, in the style of Redis's own consistency test: a client keeps every hit the
service acknowledged while the store is frozen, killed and flushed under it; at the end the
pageviews counted equal the hits acknowledged, exactly."""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

import httpx
import pytest
import redis

from tests.helpers import BROWSER_A
from tests.servers import ValkeyCluster, ValkeyProcess
from tests.system.conftest import Service

pytestmark = pytest.mark.system

BUDGET_S = 0.5  # "no hit over 500 ms", with the store frozen


class Ledger:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.client = httpx.Client(base_url=service.base, timeout=5)
        self.sent = 0
        self.acknowledged = 0
        self.slowest = 0.0
        self.statuses: dict[int, int] = {}

    def hit(self) -> int:
        self.sent += 1
        n = self.sent
        started = time.perf_counter()
        answer = self.client.post(
            "/api/hit",
            json={"site": "demo.local", "url": f"/tin/{n % 7}"},
            headers={
                "Origin": "https://demo.local",
                "User-Agent": BROWSER_A,
                "X-Forwarded-For": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
            },
        )
        self.slowest = max(self.slowest, time.perf_counter() - started)
        self.statuses[answer.status_code] = self.statuses.get(answer.status_code, 0) + 1
        if answer.status_code in (200, 202):
            self.acknowledged += 1
        return answer.status_code

    def burst(self, count: int) -> None:
        for _ in range(count):
            self.hit()

    def until_counted(self, at_most: int) -> bool:
        """Hits until one is answered 200 (counted, not spooled) again."""
        return any(self.hit() == 200 for _ in range(at_most))

    def for_seconds(self, seconds: float, at_most: int = 2000) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and at_most > 0:
            self.hit()
            at_most -= 1


def test_counted_equals_acknowledged_through_freeze_kill_and_flush(
    service_factory: type[Service], tmp_path: Path
) -> None:
    store = ValkeyProcess(tmp_path / "valkey").start()
    try:
        env = {
            "VISITOR_STATS_REDIS_URL": store.url,
            "VISITOR_STATS_KEY_PREFIX": f"t{secrets.token_hex(6)}",
        }
        service = service_factory(tmp_path / "var", env).start()
        assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
        ledger = Ledger(service)
        ledger.burst(40)

        assert store.process is not None
        os.kill(store.process.pid, signal.SIGSTOP)  # frozen for 5 s under traffic
        try:
            ledger.for_seconds(5)
        finally:
            os.kill(store.process.pid, signal.SIGCONT)
        frozen_slowest = ledger.slowest
        thawed = time.monotonic()
        counted_again = ledger.until_counted(at_most=2000)  # the breaker closes, replay runs
        recovery_s = time.monotonic() - thawed
        ledger.burst(40)

        store.process.kill()  # kill -9, then a restart from its AOF
        store.process.wait()
        ledger.burst(30)
        store.start()
        ledger.burst(30)

        # FLUSHALL with hits acknowledged since the last snapshot: those come back from the
        # workers' journals, the rest from the snapshot.
        summary = service.wait_for(
            "demo.local", lambda b: b["pageviews"]["total"] == ledger.acknowledged, 30
        )
        service.wait_for("demo.local", lambda b: b["updated_at"] != summary["updated_at"])
        ledger.burst(30)
        client = redis.Redis(port=store.port)
        client.flushall()
        client.close()
        ledger.burst(30)

        final = service.wait_for(
            "demo.local", lambda b: b["pageviews"]["total"] == ledger.acknowledged, 30
        )
        assert 5 not in {code // 100 for code in ledger.statuses}, ledger.statuses
        assert frozen_slowest < BUDGET_S, f"a hit waited {frozen_slowest:.3f} s on a frozen store"
        # Counted again within about a second of SIGCONT (breaker cool-down, replayer tick).
        assert counted_again
        assert recovery_s < 2.0, f"counted again only {recovery_s:.2f} s after SIGCONT"
        assert ledger.statuses.get(202, 0) > 0  # the freeze and the kill were really felt
        assert final["pageviews"]["total"] == ledger.acknowledged
        print(
            f"ledger: sent {ledger.sent}, acknowledged {ledger.acknowledged}, {ledger.statuses},"
            f" slowest while frozen {frozen_slowest * 1000:.0f} ms,"
            f" counted again {recovery_s * 1000:.0f} ms after SIGCONT"
        )
        assert ledger.acknowledged >= 170
        ledger.client.close()
    finally:
        if store.process is not None and store.process.poll() is None:
            os.kill(store.process.pid, signal.SIGCONT)
        store.stop()


def test_the_same_ledger_holds_on_a_redis_cluster(
    service_factory: type[Service], tmp_path: Path
) -> None:
    cluster = ValkeyCluster(tmp_path / "cluster").start()
    try:
        env = {
            "VISITOR_STATS_REDIS_URL": cluster.url,
            "VISITOR_STATS_REDIS_MODE": "cluster",
            "VISITOR_STATS_KEY_PREFIX": f"t{secrets.token_hex(6)}",
        }
        service = service_factory(tmp_path / "var", env).start()
        assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
        ledger = Ledger(service)
        ledger.burst(40)
        owner = cluster.owner_of(b"demo.local")  # the master holding every key of the site
        assert owner.process is not None
        os.kill(owner.process.pid, signal.SIGSTOP)
        try:
            ledger.for_seconds(2)
        finally:
            os.kill(owner.process.pid, signal.SIGCONT)
        ledger.burst(40)
        owner.process.kill()
        owner.process.wait()
        ledger.burst(30)
        owner.start()
        cluster.wait_ok()
        ledger.burst(30)
        final = service.wait_for(
            "demo.local", lambda b: b["pageviews"]["total"] == ledger.acknowledged, 30
        )
        assert 5 not in {code // 100 for code in ledger.statuses}, ledger.statuses
        assert ledger.statuses.get(202, 0) > 0
        assert final["pageviews"]["total"] == ledger.acknowledged
        print(f"cluster ledger: acknowledged {ledger.acknowledged}, {ledger.statuses}")
        ledger.client.close()
    finally:
        for node in cluster.nodes:
            if node.process is not None and node.process.poll() is None:
                os.kill(node.process.pid, signal.SIGCONT)
        cluster.stop()
