"""A site with a dashboard worth looking at, and docs/dashboard.png.

Ninety finished days come in through `visitor-stats import` (as a portal's old counter would
bring them), today's hits through ``POST /api/hits`` with the site's ingest key (as a CMS sends
them), a bot among them.

python -m tests.browser.dashboard [docs/dashboard.png]
"""

from __future__ import annotations

import json
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from playwright.sync_api import Page, sync_playwright

from tests.browser.conftest import BASE_ARGS, CHROMIUM, DESKTOP_UA, STEALTH_ARGS
from tests.system.conftest import Service

VN = ZoneInfo("Asia/Ho_Chi_Minh")
HISTORY_DAYS = 90
PAGES = ("/tin-tuc/le-hoi-ok-om-bok", "/tin-tuc/lich-tiep-cong-dan", "/van-ban/quyet-dinh-12", "/")
VISITORS_TODAY = 12
SHOT_SITE = "svhttdl.travinh.gov.vn"


def history_csv(folder: Path, days: int = HISTORY_DAYS) -> Path:
    """Finished days before today (Hà Nội): a weekly rhythm, quieter at weekends."""
    today = datetime.now(VN).date()
    lines = ["date,pageviews,visits,visitors"]
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        weekend = day.weekday() >= 5
        pageviews = (520 if weekend else 1400) + 7 * (days - back) + (day.day * 37) % 180
        visits = pageviews * 55 // 100
        lines.append(f"{day.isoformat()},{pageviews},{visits},{visits * 85 // 100}")
    path = folder / "history.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def seed(api: Service, site: str, host: str, folder: Path) -> str:
    """History, an ingest key and today's hits for ``site`` (pages on ``host``); returns the
    ingest key. Waits until the aggregator has counted today's hits."""
    imported = api.cli("import", site, str(history_csv(folder)))
    assert imported.returncode == 0, imported.stderr
    made = api.cli("sites", "keys", "add", site, "--name", "CMS")
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    hits = []
    for n in range(VISITORS_TODAY):
        for page in PAGES[: 1 + n % len(PAGES)]:
            hits.append(
                {
                    "url": f"http://{host}{page}",
                    "client_ip": f"198.51.100.{n + 1}",
                    "user_agent": DESKTOP_UA.replace("131.0", f"13{n % 10}.0"),
                }
            )
    hits.append({"url": f"http://{host}/", "client_ip": "192.0.2.9", "user_agent": "curl/8.5"})
    answer = httpx.post(
        f"{api.base}/api/hits",
        json={"hits": hits},
        headers={"Authorization": f"Bearer {key}"},
        timeout=10,
    )
    answer.raise_for_status()
    assert [r["status"] for r in answer.json()["results"]] == [200] * len(hits)
    api.wait_for(site, lambda s: s["visits"]["today"] == VISITORS_TODAY)
    return key


def wait_rendered(page: Page, days: int) -> None:
    """Until the dashboard shows ``days`` days: data loaded and the chart drawn."""
    page.wait_for_function(
        "days => document.querySelector('#vs-main')?.getAttribute('aria-busy') === 'false'"
        " && document.querySelector('#vs-chart')?.dataset.points === String(days)",
        arg=days,
    )


def x_ticks(page: Page) -> list[tuple[date, str]]:
    """The date axis's ticks as the chart drew them (dashboard.js notes uPlot's labels beside
    its canvas): each tick's day and the first line of its label, hidden ticks left out."""
    raw = page.locator("#vs-chart").get_attribute("data-x-ticks")
    assert raw, "the chart noted no ticks"
    return [
        (datetime.fromtimestamp(ts, UTC).date(), label.split("\n")[0])
        for ts, label in json.loads(raw)
        if label
    ]


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp) / "var").start()
        try:
            added = service.cli(
                "sites", "add", SHOT_SITE, "--domain", SHOT_SITE, "--public-dashboard"
            )
            assert added.returncode == 0, added.stderr
            seed(service, SHOT_SITE, SHOT_SITE, Path(tmp))
            # After the import (days imported later would add to it), as the README says.
            adjusted = service.cli(
                "sites", "adjust", SHOT_SITE, "--total", "48812107", "--reason", "old counter"
            )
            assert adjusted.returncode == 0, adjusted.stderr
            service.wait_for(SHOT_SITE, lambda s: s["total"] == 48812107)
            shoot(service.base, SHOT_SITE, out)
        finally:
            service.stop()


def shoot(api: str, site: str, out: Path, days: int = 30) -> None:
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*BASE_ARGS, *STEALTH_ARGS],
            ignore_default_args=["--enable-automation"],
        )
        try:
            page = browser.new_page(user_agent=DESKTOP_UA, viewport={"width": 1100, "height": 900})
            page.goto(f"{api}/dashboard/{site}")
            wait_rendered(page, days)
            page.screenshot(path=str(out), full_page=True)
        finally:
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/dashboard.png"))
