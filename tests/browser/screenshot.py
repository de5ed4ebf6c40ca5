"""Render docs/widget.png: the box as Chromium draws it, from a real service with some traffic.

python -m tests.browser.screenshot [docs/widget.png]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

from tests.browser.conftest import BASE_ARGS, CHROMIUM, DESKTOP_UA, STEALTH_ARGS
from tests.system.conftest import Service

SITE = "svhttdl.travinh.gov.vn"


def main(out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp) / "var").start()
        try:
            for args in (
                ("sites", "add", SITE, "--domain", SITE),
                ("sites", "adjust", SITE, "--total", "48812107", "--reason", "old counter"),
            ):
                done = service.cli(*args)
                assert done.returncode == 0, done.stderr
            for n in range(7):
                agent = DESKTOP_UA.replace("131.0", f"13{n}.0")
                for page in range(n + 1):
                    httpx.post(
                        f"{service.base}/api/hit",
                        json={"site": SITE, "url": f"https://{SITE}/tin-tuc/{page}"},
                        headers={"Origin": f"https://{SITE}", "User-Agent": agent},
                        timeout=5,
                    ).raise_for_status()
            service.wait_for(SITE, lambda s: s["today"] == 7)
            shoot(service.base, out)
        finally:
            service.stop()


def shoot(api: str, out: Path) -> None:
    html = f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<style>body {{ margin: 0; padding: 16px; background: #f3f4f6; font-family: "DejaVu Sans"; }}
.row {{ display: inline-flex; gap: 16px; align-items: flex-start; }}
iframe {{ border: 0; width: 300px; height: 178px; }}
#dark {{ --vs-bg: #0f172a; --vs-fg: #e2e8f0; --vs-accent: #facc15; --vs-border: #334155;
  width: 300px; }}</style></head><body><div class="row" id="shot">
<iframe title="Thống kê truy cập" src="{api}/widget/{SITE}"></iframe>
<div id="dark" data-visitor-stats-widget data-site="{SITE}" data-lang="en" data-grouping=","
  data-rows="yesterday,month"></div></div>
<script defer src="{api}/widget.js"></script></body></html>"""
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=[*BASE_ARGS, *STEALTH_ARGS],
            ignore_default_args=["--enable-automation"],
        )
        try:
            page = browser.new_page(user_agent=DESKTOP_UA, device_scale_factor=2)
            page.set_content(html)
            page.frame_locator("iframe").locator("dd[data-key=total]").wait_for()
            page.wait_for_function(
                "document.querySelector('#dark').shadowRoot?.querySelector('[data-key=total]')"
                "?.textContent.includes(',')"
            )
            page.locator("#shot").screenshot(path=str(out))
        finally:
            browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "docs/widget.png"))
