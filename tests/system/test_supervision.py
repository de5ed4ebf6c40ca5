"""`serve` keeps its aggregator alive: one killed with SIGKILL is reaped, started again, logged
and counted, and the figures move again (issue 12)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from api.cli.supervise import Backoff, describe_exit
from tests.helpers import BROWSER_A
from tests.ops.conftest import samples
from tests.system.conftest import Service

RESTARTS = ("visitor_stats_aggregator_restarts_total", ())
LEADER = ("visitor_stats_aggregator_leader", ())


def aggregators(serve_pid: int) -> set[int]:
    """serve's children that run the aggregator, zombies included (pgrep lists them)."""
    found = subprocess.run(
        ["pgrep", "-P", str(serve_pid)], capture_output=True, text=True, check=False
    )
    pids = set()
    for child in found.stdout.split():
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        # A zombie's cmdline reads empty: recognise it by its state, and keep it (it is the bug).
        status = Path(f"/proc/{child}/stat").read_text().split(") ")[-1][:1]
        if b"api.cli\0aggregator\0" in cmdline or (status == "Z" and not cmdline):
            pids.add(int(child))
    return pids


def hit(service: Service, n: int) -> None:
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


def scrape(service: Service) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return samples(httpx.get(f"{service.base}/metrics", timeout=5).text)


def wait_until(condition: object, timeout_s: float, what: str) -> float:
    """Poll ``condition()`` every 50 ms for at most ``timeout_s``; the seconds it took."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        if callable(condition) and condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout_s} s: {what}")


@pytest.mark.system
def test_a_killed_aggregator_is_reaped_restarted_counted_and_counts_again(
    service_factory: type[Service], tmp_path: Path
) -> None:
    service = service_factory(tmp_path / "var").start()
    assert service.process is not None
    serve_pid = service.process.pid
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    wait_until(lambda: len(aggregators(serve_pid)) == 1, 20, "one aggregator")
    [victim] = aggregators(serve_pid)
    hit(service, 1)
    service.wait_for("demo.local", lambda b: b["pageviews"]["today"] == 1)
    assert scrape(service)[RESTARTS] == 0

    os.kill(victim, signal.SIGKILL)
    replaced_s = wait_until(
        lambda: len(now := aggregators(serve_pid)) == 1 and victim not in now,
        10,
        "a new aggregator in place of the killed one, the killed one reaped (no zombie)",
    )
    [successor] = aggregators(serve_pid)
    assert scrape(service)[RESTARTS] == 1
    hit(service, 2)
    started = time.monotonic()
    body = service.wait_for("demo.local", lambda b: b["pageviews"]["today"] == 2, 10)
    counted_s = time.monotonic() - started
    assert body["stale"] is False
    assert httpx.get(f"{service.base}/readyz", timeout=5).json()["status"] == "ready"
    # The dead aggregator's live leader gauge left with it; the successor's reads 1.
    wait_until(lambda: scrape(service).get(LEADER) == 1, 5, "the successor leads")
    log = service.log.read_text()
    assert f"WARNING visitor_stats.serve the aggregator (pid {victim}) was killed by SIGKILL" in log
    assert f"the aggregator runs again (pid {successor})" in log
    print(f"replaced after {replaced_s:.2f} s; the next hit counted after {counted_s:.2f} s")


def test_backoff_doubles_to_thirty_seconds_and_resets_after_a_minute_of_running() -> None:
    backoff = Backoff()
    assert [backoff.delay_s(ran_s=2) for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.delay_s(ran_s=60) == 1  # it ran a healthy minute: this death is news
    assert backoff.delay_s(ran_s=0.5) == 2


def test_an_exit_is_told_by_code_or_by_signal() -> None:
    assert describe_exit(3) == "exited with code 3"
    assert describe_exit(-signal.SIGKILL) == "was killed by SIGKILL"
    assert describe_exit(-200) == "was killed by signal 200"
