"""Browser fixtures: the real service, a portal on another origin, Debian's Chromium.

- ``api``: `visitor-stats serve` as a process (tests/system's Service), one per session; each
  test gets its own site (``site``), so tests do not see each other's counts.
- ``portal``: a small static server on another loopback port, reached as http://portal.test
  (Chromium maps the name with --host-resolver-rules). Tests publish their pages on it.
- ``browser`` / ``context``: Chromium launched by Playwright, with navigator.webdriver false
  and a desktop user agent (the service excludes HeadlessChrome as a bot).
- ``windowed``: Chromium started by the test and attached over CDP with ``no_defaults``.
  Playwright's own pages keep "focus emulation" on, which makes every tab report itself
  visible; tests of hidden tabs need the browser's real visibility, so they use this one.
"""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from tests.system.conftest import Service

CHROMIUM = "/usr/bin/chromium"
DESKTOP_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PORTAL = "portal.test"
BASE_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    f"--host-resolver-rules=MAP {PORTAL} 127.0.0.1",
]
# navigator.webdriver is false without these two (Playwright adds --enable-automation).
STEALTH_ARGS = ["--disable-blink-features=AutomationControlled"]
_site_numbers = itertools.count(1)


@pytest.fixture(scope="session")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    service = Service(tmp_path_factory.mktemp("browser-api") / "var").start()
    try:
        yield service
    finally:
        service.stop()


def add_site(api: Service, *options: str) -> str:
    """A fresh site whose pages live on portal.test (and 127.0.0.1), added through the CLI.

    ``options`` are more `sites add` options, e.g. ``"--locale", "en", "--grouping", ","``.
    """
    site_id = f"t{next(_site_numbers)}-{time.monotonic_ns() % 10**9}.portal.test"
    added = api.cli("sites", "add", site_id, "--domain", PORTAL, "--domain", "127.0.0.1", *options)
    assert added.returncode == 0, added.stderr
    return site_id


@pytest.fixture
def site(api: Service) -> str:
    """A fresh site for this test, with the defaults (Vietnamese, 48.812.107)."""
    return add_site(api)


@pytest.fixture
def english_site(api: Service) -> str:
    """A fresh site that chose English and comma grouping (48,812,107)."""
    return add_site(api, "--locale", "en", "--grouping", ",")


@dataclass
class Logged:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class PortalServer:
    """Static pages on a loopback port, plus stand-ins for an API that is slow or failing."""

    port: int = 0
    pages: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    log: list[Logged] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    gates: dict[str, threading.Event] = field(default_factory=dict)
    seen: threading.Condition = field(default_factory=threading.Condition)

    @property
    def origin(self) -> str:
        return f"http://{PORTAL}:{self.port}"

    def publish(self, path: str, body: str | bytes, media_type: str = "text/html") -> str:
        data = body.encode() if isinstance(body, str) else body
        self.pages[path] = (f"{media_type}; charset=utf-8", data)
        return self.origin + path

    def gate(self, name: str) -> threading.Event:
        """``GET /gate/<name>`` answers only once the test sets this event."""
        return self.gates.setdefault(name, threading.Event())

    def wait_for(self, predicate: Any, timeout_s: float = 10) -> Logged:
        """Block until a logged request satisfies ``predicate`` (a real event, not a sleep)."""
        with self.seen:
            found = self.seen.wait_for(
                lambda: next((r for r in self.log if predicate(r)), None), timeout=timeout_s
            )
        if found is None:
            raise AssertionError(f"no such request; saw {[r.path for r in self.log]}")
        return found


def _handler(server: PortalServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_: object) -> None:
            pass

        def _record(self) -> None:
            with server.seen:
                server.log.append(Logged(self.command, self.path, dict(self.headers.items())))
                server.seen.notify_all()

        def _answer(self, status: int, media_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", media_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.do_GET()

        def do_GET(self) -> None:
            self._record()
            path = self.path.split("?")[0]
            if path.startswith("/slow/"):
                # An API that takes its time: hold the request until the test ends.
                server.release.wait(30)
                self._answer(503, "application/json", b'{"detail": "too slow"}')
            elif path.startswith("/gate/"):
                opened = server.gate(path.removeprefix("/gate/")).wait(30)
                self._answer(204 if opened else 503, "text/plain", b"")
            elif path.startswith("/error/"):
                self._answer(500, "application/json", b'{"detail": "internal error"}')
            elif path in server.pages:
                self._answer(200, *server.pages[path])
            else:
                self._answer(404, "text/plain", b"not found")

    return Handler


@pytest.fixture(scope="session")
def portal() -> Iterator[PortalServer]:
    server = PortalServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        for gate in list(server.gates.values()):
            gate.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(10)


# Module scope, not session: the sync API runs an event loop while it is open, and
# pytest-asyncio cannot start its own beside it in later modules' async tests.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*BASE_ARGS, *STEALTH_ARGS],
        ignore_default_args=["--enable-automation"],
    )
    try:
        yield launched
    finally:
        launched.close()


@dataclass
class Tab:
    """A page and what it did: uncaught errors, the hits it sent, the summaries it read."""

    page: Page
    errors: list[str] = field(default_factory=list)
    hits: list[dict[str, Any]] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)  # URLs of its GET /api/stats requests

    def pageviews(self) -> list[str]:
        return [h["url"] for h in self.hits if h.get("event", "pageview") == "pageview"]

    def heartbeats(self) -> int:
        return sum(1 for h in self.hits if h.get("event") == "heartbeat")

    def settle(self) -> None:
        """Return once every request the page has started so far is in ``hits`` and ``reads``.

        The page fetches a marker and we wait for its request event: Chromium reports a
        page's requests in the order they start, so any request begun before it is logged.
        """
        with self.page.expect_request(lambda r: "/settled?" in r.url):
            self.page.evaluate("fetch('/settled?' + Math.random()).catch(() => {})")


def watch(page: Page) -> Tab:
    tab = Tab(page)
    page.on("pageerror", lambda exc: tab.errors.append(str(exc)))

    def on_request(request: Any) -> None:
        path = request.url.split("?")[0]
        if request.method == "POST" and path.endswith("/api/hit"):
            tab.hits.append(json.loads(request.post_data or "{}"))
        elif request.method == "GET" and path.endswith("/api/stats"):
            tab.reads.append(request.url)

    page.on("request", on_request)
    return tab


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(user_agent=DESKTOP_UA)
    try:
        yield ctx
    finally:
        ctx.close()


@dataclass
class Windowed:
    """Chromium with real tabs and windows, attached over CDP without Playwright's overrides."""

    browser: Browser
    context: BrowserContext

    def new_window(self, url: str) -> Page:
        session = self.browser.new_browser_cdp_session()
        try:
            with self.context.expect_page() as opened:
                session.send("Target.createTarget", {"url": url, "newWindow": True})
        finally:
            session.detach()
        page = opened.value
        page.wait_for_load_state()
        return page

    def set_window_state(self, page: Page, state: str) -> None:
        session = self.context.new_cdp_session(page)
        try:
            window = session.send("Browser.getWindowForTarget")["windowId"]
            session.send(
                "Browser.setWindowBounds", {"windowId": window, "bounds": {"windowState": state}}
            )
        finally:
            session.detach()


def start_chromium(user_data: Path, *args: str) -> subprocess.Popen[bytes]:
    user_data.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            CHROMIUM,
            "--headless",
            *BASE_ARGS,
            *STEALTH_ARGS,
            f"--user-agent={DESKTOP_UA}",
            f"--user-data-dir={user_data}",
            "--no-first-run",
            *args,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_chromium(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def devtools_endpoint(user_data: Path, process: subprocess.Popen[bytes]) -> str:
    marker = user_data / "DevToolsActivePort"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if marker.exists():
            port, _, path = marker.read_text().partition("\n")
            if path.strip():
                return f"ws://127.0.0.1:{port.strip()}{path.strip()}"
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise RuntimeError("Chromium did not open its DevTools port")


@pytest.fixture
def windowed(playwright: Playwright, tmp_path: Path) -> Iterator[Windowed]:
    user_data = tmp_path / "chromium"
    try:
        attached = attach_over_cdp(playwright, user_data)
    except (PlaywrightError, RuntimeError):
        # A fresh Chromium under load once opened its DevTools socket and then left the attach
        # hanging for Playwright's whole 30 s (fresh-ci, one run in many): a new one attaches.
        user_data = tmp_path / "chromium-again"
        attached = attach_over_cdp(playwright, user_data)
    try:
        yield Windowed(attached.browser, attached.browser.contexts[0])
    finally:
        attached.browser.close()
        stop_chromium(attached.process)
        shutil.rmtree(user_data, ignore_errors=True)


@dataclass
class Attached:
    process: subprocess.Popen[bytes]
    browser: Browser


def attach_over_cdp(playwright: Playwright, user_data: Path) -> Attached:
    """Chromium started as a process, attached over CDP; stopped again if the attach fails."""
    process = start_chromium(
        user_data, "--remote-debugging-port=0", "--remote-debugging-address=127.0.0.1"
    )
    try:
        endpoint = devtools_endpoint(user_data, process)
        browser = playwright.chromium.connect_over_cdp(endpoint, no_defaults=True, timeout=15_000)
    except BaseException:
        stop_chromium(process)
        shutil.rmtree(user_data, ignore_errors=True)
        raise
    return Attached(process, browser)


def stats(api: Service, site: str, url: str | None = None) -> dict[str, Any]:
    params = {"site": site, **({"url": url} if url else {})}
    body: dict[str, Any] = httpx.get(f"{api.base}/api/stats", params=params, timeout=5).json()
    return body


def carry_over(api: Service, site: str) -> None:
    """Start the site at the old counter's 48.812.107, as the summary says before any page opens.

    The pageview's answer builds on the last summary, so the test waits for the aggregator's
    pass that takes the adjustment in; otherwise a quick first visit would be answered 1.
    """
    adjusted = api.cli("sites", "adjust", site, "--total", "48812107", "--reason", "old counter")
    assert adjusted.returncode == 0, adjusted.stderr
    api.wait_for(site, lambda s: s["total"] == 48812107)


def snippet(api: Service, site: str, *attributes: str) -> str:
    extra = " ".join(attributes)
    return f'<script defer src="{api.base}/tracker.js" data-site="{site}" {extra}></script>'


def page_html(head: str, body: str = "") -> str:
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8"><title>Cổng thông tin</title>'
        f"{head}</head><body>{body}</body></html>"
    )


SPANS = (
    '<p>Lượt xem: <span data-visitor-stats="page_views"></span></p>'
    '<p>Hôm nay: <span data-visitor-stats="today"></span></p>'
    '<p>Online: <span data-visitor-stats="online"></span></p>'
    '<p>Tuần: <span data-visitor-stats="week"></span></p>'
    '<p>Tháng: <span data-visitor-stats="month"></span></p>'
    '<p>Tất cả: <span data-visitor-stats="total"></span></p>'
)


@pytest.fixture
def paths() -> str:
    """A path prefix of this test's own on the portal."""
    return f"/p{next(_site_numbers)}"
