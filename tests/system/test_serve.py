"""The service as a user runs it: `visitor-stats serve`, the CLI, real processes."""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.helpers import BROWSER_A, BROWSER_B, GOOGLEBOT
from tests.system.conftest import Service

pytestmark = pytest.mark.system
VN = ZoneInfo("Asia/Ho_Chi_Minh")


def send(service: Service, url: str, ua: str, site: str = "demo.local") -> httpx.Response:
    return httpx.post(
        f"{service.base}/api/hit",
        json={"site": site, "url": url},
        headers={"Origin": f"https://{site}", "User-Agent": ua},
        timeout=5,
    )


def four_pageviews(service: Service) -> None:
    for _ in range(3):
        assert send(service, "https://demo.local/a", BROWSER_A).status_code == 200
    assert send(service, "https://demo.local/b", BROWSER_B).status_code == 200
    assert send(service, "https://demo.local/b", GOOGLEBOT).status_code == 200


def test_counts_end_to_end_and_keeps_them_across_a_restart(
    service_factory: type[Service], tmp_path: Path
) -> None:
    service = service_factory(tmp_path / "var").start()
    added = service.cli("sites", "add", "demo.local", "--domain", "demo.local")
    assert added.returncode == 0, added.stderr
    assert added.stdout.startswith("added demo.local")
    again = service.cli("sites", "add", "demo.local", "--domain", "demo.local")
    assert again.stdout.startswith("updated demo.local")
    four_pageviews(service)
    body = service.wait_for("demo.local", lambda b: b["excluded"]["bot"] == 1)
    assert (body["today"], body["online"], body["week"], body["total"]) == (2, 2, 2, 2)
    assert body["pageviews"]["today"] == 4
    page = httpx.get(
        f"{service.base}/api/stats", params={"site": "demo.local", "url": "https://demo.local/a"}
    ).json()
    assert page["page_views"] == 3
    service.stop()

    offline = service.cli("stats", "demo.local", "--json")  # no server running: starts the store
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["total"] == 2
    again = service_factory(tmp_path / "var").start()
    assert again.wait_for("demo.local", lambda b: b["total"] == 2)["pageviews"]["total"] == 4


def test_serves_from_an_ordinary_redis_url(
    service_factory: type[Service], tmp_path: Path, redis_url: str
) -> None:
    env = {
        "VISITOR_STATS_REDIS_URL": redis_url,
        "VISITOR_STATS_KEY_PREFIX": f"t{secrets.token_hex(6)}",
    }
    service = service_factory(tmp_path / "var", env).start()
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    four_pageviews(service)
    body = service.wait_for("demo.local", lambda b: b["pageviews"]["today"] == 4)
    assert body["today"] == 2
    assert not (tmp_path / "var" / "valkey.sock").exists()


def test_rollup_as_of_tomorrow_and_next_monday_then_export_and_adjust(
    service_factory: type[Service], tmp_path: Path
) -> None:
    service = service_factory(tmp_path / "var").start()
    assert service.cli("sites", "add", "demo.local", "--domain", "demo.local").returncode == 0
    for n in range(3):
        answer = httpx.post(
            f"{service.base}/api/hit",
            json={"site": "demo.local", "url": "/a"},
            headers={
                "Origin": "https://demo.local",
                "User-Agent": BROWSER_A,
                "X-Forwarded-For": f"198.51.100.{n}",
            },
        )
        assert answer.status_code == 200
    service.stop()  # the checks below are as of other instants: no live aggregator in between

    today = datetime.now(VN).date()
    tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), VN) + timedelta(
        seconds=30
    )
    for _ in range(2):  # safe to repeat
        rolled = service.cli("rollup", "--now", tomorrow.isoformat(), "--force")
        assert rolled.returncode == 0, rolled.stderr
        stats = json.loads(service.cli("stats", "demo.local", "--json").stdout)
        assert (stats["today"], stats["yesterday"], stats["total"]) == (0, 3, 3)
    monday = today + timedelta(days=7 - today.weekday())
    rolled = service.cli("rollup", "--now", f"{monday.isoformat()}T00:00:30+07:00", "--force")
    assert rolled.returncode == 0, rolled.stderr
    assert "warning: --now is" in rolled.stderr and "ahead of the clock" in rolled.stderr
    stats = json.loads(service.cli("stats", "demo.local", "--json").stdout)
    assert (stats["week"], stats["total"]) == (0, 3)

    exported = service.cli(
        "export", "demo.local", "--from", today.isoformat(), "--to", today.isoformat()
    )
    assert exported.stdout.splitlines() == [
        "date,pageviews,visits,visitors",
        f"{today.isoformat()},3,3,3",
    ]
    adjusted = service.cli(
        "sites", "adjust", "demo.local", "--total", "48812107", "--reason", "old counter"
    )
    assert adjusted.returncode == 0, adjusted.stderr
    shown = service.cli("stats", "demo.local")
    # Printed as the site prints it: Vietnamese labels and '.' grouping, its defaults.
    assert "Tất cả: 48.812.107" in shown.stdout
    assert "Hôm qua: 0" in shown.stdout


def test_cli_errors_are_one_line_and_exit_non_zero(
    service_factory: type[Service], tmp_path: Path
) -> None:
    service = service_factory(tmp_path / "var")
    unknown = service.cli("stats", "nope.local")
    assert unknown.returncode == 1 and "unknown site" in unknown.stderr
    bad = service.cli("sites", "add", "x.vn", "--domain", "x.vn", "--timezone", "Mars/Base")
    assert bad.returncode == 1 and "IANA" in bad.stderr
    bad_now = service.cli("rollup", "--now", "tomorrow")
    assert bad_now.returncode == 2 and "ISO-8601" in bad_now.stderr
