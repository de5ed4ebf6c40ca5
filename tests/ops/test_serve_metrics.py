"""`serve --workers 3`: one /metrics for every worker and the aggregator, same on each scrape."""

from __future__ import annotations

import os
import shutil
import signal
import time
from pathlib import Path

import httpx
import pytest

from tests.helpers import BROWSER_A, GOOGLEBOT
from tests.ops.conftest import Serve, promtool_check_metrics, samples, value

pytestmark = pytest.mark.system

API_FAMILIES = ("visitor_stats_hits_total", "visitor_stats_http_request")


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        found += [int(p) for p in (task / "children").read_text().split()]
    return found


def workers_of(serve_pid: int) -> set[int]:
    """uvicorn's worker processes: spawned by multiprocessing (unlike the aggregator and
    multiprocessing's resource tracker, the other children of serve)."""
    out = set()
    for pid in children(serve_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except FileNotFoundError:
            continue
        if b"spawn_main" in cmdline:
            out.add(pid)
    return out


def api_part(text: str) -> dict[object, float]:
    return {k: v for k, v in samples(text).items() if k[0].startswith(API_FAMILIES)}


def send_traffic(base: str) -> None:
    with httpx.Client(base_url=base, timeout=5) as http:
        for n in range(9):
            ok = http.post(
                "/api/hit",
                json={"site": "demo.local", "url": f"https://demo.local/p{n}"},
                headers={"Origin": "https://demo.local", "User-Agent": f"{BROWSER_A} n{n}"},
            )
            assert ok.status_code == 200, ok.text
        for _ in range(2):
            bot = http.post(
                "/api/hit",
                json={"site": "demo.local", "url": "https://demo.local/"},
                headers={"Origin": "https://demo.local", "User-Agent": GOOGLEBOT},
            )
            assert bot.status_code == 200
        assert http.post("/api/hit", content=b"{oops").status_code == 400


def test_workers_and_aggregator_are_summed_into_one_steady_scrape(
    serve: type[Serve], tmp_path: Path
) -> None:
    service = serve(tmp_path / "var", "--workers", "3").start()
    assert service.process is not None
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    send_traffic(service.base)

    deadline = time.monotonic() + 20
    while True:
        found = samples(service.scrape())
        site_total = value(found, "visitor_stats_site_pageviews", site="demo.local", period="total")
        # Each worker publishes its counts within a second (api/metrics.py): wait for both.
        counted = value(found, "visitor_stats_hits_total", site="demo.local", outcome="counted")
        if (site_total, counted) == (9, 9) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert site_total == 9, "the aggregator's figures never reached the API's scrape"
    assert value(found, "visitor_stats_aggregation_passes_total", result="ok") > 0

    scrapes = [service.scrape() for _ in range(12)]  # several workers answer these
    for text in scrapes:
        found = samples(text)
        assert value(found, "visitor_stats_hits_total", site="demo.local", outcome="counted") == 9
        assert value(found, "visitor_stats_hits_total", site="demo.local", outcome="bot") == 2
        assert value(found, "visitor_stats_hits_total", site="", outcome="invalid") == 1
    assert all(api_part(text) == api_part(scrapes[0]) for text in scrapes)

    if shutil.which("promtool") is not None:
        checked = promtool_check_metrics(scrapes[-1])
        assert checked.returncode == 0, checked.stdout + checked.stderr

    # A worker killed outright runs no shutdown code: its live gauges are reaped at the next
    # scrape, its counts stay (totals never go down), and uvicorn starts a new worker.
    before = workers_of(service.process.pid)
    assert len(before) == 3
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 20
    while len(workers_of(service.process.pid) - before) < 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert victim not in workers_of(service.process.pid)
    after = samples(service.scrape())
    assert value(after, "visitor_stats_hits_total", site="demo.local", outcome="counted") == 9
    assert value(after, "visitor_stats_http_requests_in_flight") == 0
    metrics_dir = tmp_path / "var" / "metrics"
    assert not list(metrics_dir.glob(f"gauge_live*_{victim}.db"))
    assert list(metrics_dir.glob(f"counter_{victim}.db")), "the dead worker's counts were lost"


def test_hits_sent_to_every_worker_are_the_hits_scraped(serve: type[Serve], tmp_path: Path) -> None:
    """Workers count in process and publish on a tick: every scrape, whichever worker answers,
    converges on exactly the hits sent, and never overshoots."""
    service = serve(tmp_path / "var", "--workers", "2").start()
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    sent = 0
    for connection in range(6):  # new connections, so both workers take some
        with httpx.Client(base_url=service.base, timeout=5) as http:
            for n in range(25):
                answer = http.post(
                    "/api/hit",
                    json={"site": "demo.local", "url": f"https://demo.local/p{n}"},
                    headers={
                        "Origin": "https://demo.local",
                        "User-Agent": GOOGLEBOT if n % 5 == 0 else f"{BROWSER_A} c{connection}",
                    },
                )
                assert answer.status_code == 200, answer.text
                sent += 1
    deadline = time.monotonic() + 10
    while True:
        found = samples(service.scrape())
        scraped = sum(v for k, v in found.items() if k[0] == "visitor_stats_hits_total" and k[1])
        assert scraped <= sent
        if scraped == sent or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert scraped == sent
    assert value(found, "visitor_stats_hits_total", site="demo.local", outcome="bot") == 30
    # Stable from now on: the same figures on every scrape.
    hits = {k: v for k, v in found.items() if k[0] == "visitor_stats_hits_total"}
    for _ in range(6):
        later = samples(service.scrape())
        assert {k: v for k, v in later.items() if k[0] == "visitor_stats_hits_total"} == hits
