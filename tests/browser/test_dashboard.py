"""The site owner's dashboard in Chromium (issue 15): it renders with data, the range switch
redraws it, the CSV downloads, a private one asks for its read token, and a screenshot shows
every part."""

from __future__ import annotations

import struct
import zlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page

from tests.browser.conftest import PORTAL, add_site
from tests.browser.dashboard import PAGES, VISITORS_TODAY, VN, seed, wait_rendered, x_ticks
from tests.system.conftest import Service

pytestmark = pytest.mark.system  # starts `visitor-stats serve` and Chromium

PARTS = ("#vs-cards", "#vs-chart canvas", ".range", "#vs-download", "#vs-top", "#vs-excluded")
# The visits series' colour (dashboard.js), as the chart's canvas draws it.
VISITS_RGB = (0xB9, 0x1C, 0x1C)


@pytest.fixture(scope="module")
def public_site(api: Service, tmp_path_factory: pytest.TempPathFactory) -> str:
    site = add_site(api, "--public-dashboard")
    seed(api, site, PORTAL, tmp_path_factory.mktemp("dashboard"))
    return site


def rows_shown(page: Page) -> int:
    return page.locator("#vs-rows tbody tr").count()


def test_the_dashboard_renders_the_figures_chart_top_pages_and_exclusions(
    api: Service, context: BrowserContext, public_site: str
) -> None:
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    outside: list[str] = []
    page.on("request", lambda r: None if r.url.startswith(api.base) else outside.append(r.url))
    page.goto(f"{api.base}/dashboard/{public_site}")
    wait_rendered(page, 30)
    assert page.locator("h1").inner_text().startswith("Bảng thống kê")
    cards = {
        c.get_attribute("data-key"): c.locator("strong").inner_text()
        for c in page.locator("#vs-cards .card").all()
    }
    assert cards["today"] == str(VISITORS_TODAY)
    assert cards["online"] == str(VISITORS_TODAY)
    assert rows_shown(page) == 30
    top = page.locator("#vs-top tbody tr").all_inner_texts()
    assert top[0].split("\t") == [PAGES[0], str(VISITORS_TODAY)]
    excluded = dict(
        row.split("\t") for row in page.locator("#vs-excluded tbody tr").all_inner_texts()
    )
    assert excluded["Bot, trình thu thập"] == "1"
    # Each panel names its period: the top pages of the shortest period holding the 30 days
    # (this month, this year, or all time across New Year), the exclusions of today.
    today = datetime.now(VN).date()
    first = today - timedelta(days=29)
    holding = (
        "Trong tháng"
        if first.month == today.month
        else "Trong năm"
        if first.year == today.year
        else "Tất cả"
    )
    assert page.locator("#vs-top-period").inner_text() == holding
    assert page.locator("#vs-excluded-period").inner_text() == "Hôm nay"
    # A Vietnamese page's date axis reads day/month: 3/12 is the third of December.
    ticks = x_ticks(page)
    assert len(ticks) >= 3, ticks
    assert [label for _, label in ticks] == [f"{d.day}/{d.month}" for d, _ in ticks]
    assert not errors and not outside, (errors, outside)


def test_the_range_switch_redraws_the_chart_and_the_rows(
    api: Service, context: BrowserContext, public_site: str
) -> None:
    page = context.new_page()
    page.goto(f"{api.base}/dashboard/{public_site}?lang=en")
    wait_rendered(page, 30)
    page.get_by_role("button", name="7 days").click()
    wait_rendered(page, 7)
    assert rows_shown(page) == 7
    assert page.get_by_role("button", name="7 days").get_attribute("aria-pressed") == "true"
    # An English page keeps uPlot's month/day.
    ticks = x_ticks(page)
    assert ticks and [label for _, label in ticks] == [f"{d.month}/{d.day}" for d, _ in ticks]
    page.get_by_role("button", name="90 days").click()
    wait_rendered(page, 90)
    assert rows_shown(page) == 90
    # Newest first: today, with the hits the CMS sent (the table is folded in a <details>).
    today = page.locator("#vs-rows tbody tr").first.locator("td").all_text_contents()
    assert today[1:3] == [
        str(VISITORS_TODAY),
        str(sum(1 + n % len(PAGES) for n in range(VISITORS_TODAY))),
    ]
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0] == "date,pageviews,visits,visitors"
    assert len(lines) == 1 + 90
    assert download.value.suggested_filename.startswith(public_site)


def test_a_private_dashboard_asks_for_its_read_token_and_opens_with_it(
    api: Service, context: BrowserContext, tmp_path: Path
) -> None:
    site = add_site(api, "--locale", "en")
    made = api.cli("sites", "keys", "add", site, "--scope", "read")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    page = context.new_page()
    page.goto(f"{api.base}/dashboard/{site}")
    page.locator("#vs-token").wait_for()
    assert "read token" in page.locator("#vs-token-why").inner_text()
    assert page.locator("#vs-main").is_hidden()
    page.locator("#vs-token-input").fill(token + "x")
    page.get_by_role("button", name="Open").click()
    # A function, not a bare expression: Playwright evals a bare expression again at every poll,
    # and the page's CSP (no 'unsafe-eval') refuses that once the first check has not held.
    page.wait_for_function(
        "() => document.querySelector('#vs-token-why').textContent.includes('wrong')"
    )
    # The owner's link: the token in the fragment, which no server sees; then gone from it.
    page.goto(f"{api.base}/dashboard/{site}#token={token}")
    wait_rendered(page, 30)
    assert "#" not in page.url
    assert page.locator("#vs-token").is_hidden()


def _red_pixels(png: bytes) -> int:
    """Pixels of the visits series' colour in an RGB(A) PNG (8-bit, not interlaced)."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, b"", b""
    while pos < len(png):
        (length,) = struct.unpack(">I", png[pos : pos + 4])
        kind, data = png[pos + 4 : pos + 8], png[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = data
        elif kind == b"IDAT":
            chunks += data
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(chunks)
    stride = width * bpp
    previous = bytearray(stride)
    found = 0
    for y in range(height):
        kind, line = (
            raw[y * (stride + 1)],
            bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)]),
        )
        for x in range(stride):
            left = line[x - bpp] if x >= bpp else 0
            up = previous[x]
            corner = previous[x - bpp] if x >= bpp else 0
            if kind == 1:
                line[x] = (line[x] + left) & 0xFF
            elif kind == 2:
                line[x] = (line[x] + up) & 0xFF
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[x] = (line[x] + pred) & 0xFF
        for x in range(0, stride, bpp):
            if all(abs(line[x + i] - VISITS_RGB[i]) <= 24 for i in range(3)):
                found += 1
        previous = line
    return found


@pytest.mark.parametrize(("width", "height"), [(1100, 900), (375, 812)], ids=["desktop", "phone"])
def test_a_screenshot_shows_every_part_of_the_dashboard(
    api: Service,
    context: BrowserContext,
    public_site: str,
    tmp_path: Path,
    width: int,
    height: int,
) -> None:
    page = context.new_page()
    page.set_viewport_size({"width": width, "height": height})
    page.goto(f"{api.base}/dashboard/{public_site}")
    wait_rendered(page, 30)
    shot = tmp_path / "dashboard.png"
    png = page.screenshot(path=str(shot), full_page=True)
    page_width, page_height = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
    )
    assert page_width <= width  # nothing wider than the screen, no sideways scrolling
    for part in PARTS:
        box = page.locator(part).first.bounding_box()
        assert box is not None and box["width"] > 50 and box["height"] > 20, part
        assert box["y"] >= 0 and box["y"] + box["height"] <= page_height, part
        assert box["x"] >= 0 and box["x"] + box["width"] <= width, part
    # The chart is as wide as its panel, not wider (uPlot draws at the width it is given).
    canvas, panel = (
        page.locator(s).first.bounding_box() for s in ("#vs-chart canvas", "#vs-chart")
    )
    assert canvas is not None and panel is not None
    assert (
        panel["x"] <= canvas["x"] and canvas["x"] + canvas["width"] <= panel["x"] + panel["width"]
    )
    # The chart really drew the visits line in its colour, and it is in the picture.
    chart = page.locator("#vs-chart canvas").first.screenshot()
    assert _red_pixels(chart) > 200
    assert _red_pixels(png) > 200
