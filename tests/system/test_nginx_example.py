"""The nginx example of docs/examples (issue 15), run by Debian's nginx in front of a small CMS
on loopback and the real service: a page view is counted once, and what is not a page view
(a prefetch, a HEAD or a POST, a visitor who opted out) is never sent."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.helpers import BROWSER_A
from tests.servers import free_port
from tests.system.conftest import Service

NGINX_EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "nginx.conf"
SITE = "svhttdl.travinh.gov.vn"  # the example's own site
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")

pytestmark = [
    pytest.mark.system,
    pytest.mark.skipif(NGINX is None, reason="nginx is not installed: run scripts/system-deps"),
]


class Page(BaseHTTPRequestHandler):
    """The CMS behind the proxy: every method gets a small page."""

    def _answer(self, body: bool) -> None:
        page = b"<!doctype html><title>Tin tuc</title><p>Le hoi Ok Om Bok"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        if body:
            self.wfile.write(page)

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._answer(body=True)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def cms() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Page)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with Service.running(tmp_path_factory.mktemp("nginx-example") / "var", SITE) as running:
        yield running


def config_from_example(prefix: Path, port: int, cms_port: int, stats: str, key: str) -> str:
    """docs/examples/nginx.conf with its placeholders filled in, inside a main config that
    keeps every file nginx writes in ``prefix``, in one process in the foreground."""
    example = NGINX_EXAMPLE.read_text()
    filled = example
    for placeholder, value in (
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8080;", f"server 127.0.0.1:{cms_port};"),
        ("https://STATS-HOST", stats),
        ("VISITOR_STATS_KEY", key),
    ):
        assert placeholder in example, f"the example lost its {placeholder!r}"
        filled = filled.replace(placeholder, value)
    temp = {name: prefix / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for folder in temp.values():
        folder.mkdir()
    return f"""
daemon off;
master_process off;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} info;
events {{ worker_connections 64; }}
http {{
    access_log {prefix / "access.log"};
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
{filled}
}}
"""


@pytest.fixture
def proxy(service: Service, cms: int, tmp_path: Path) -> Iterator[str]:
    """Debian's nginx running the example, as a plain process of this test; its base url."""
    assert NGINX is not None
    made = service.cli("sites", "keys", "add", SITE, "--name", "nginx")
    assert made.returncode == 0, made.stderr
    port = free_port()
    prefix = tmp_path / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(config_from_example(prefix, port, cms, service.base, made.stdout.strip()))
    log = prefix / "error.log"
    checked = subprocess.run(
        [NGINX, "-t", "-p", str(prefix), "-e", str(log), "-c", str(conf)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert checked.returncode == 0, checked.stderr
    process = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-e", str(log), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                httpx.get(f"{base}/_visitor_stats", timeout=1)  # internal: 404, counts nothing
                break
            except httpx.TransportError:
                assert process.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "nginx did not listen"
                time.sleep(0.05)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=10)


def today(stats: dict[str, object], measure: str) -> int:
    figures = stats[measure]
    assert isinstance(figures, dict)
    return int(figures["today"])


def pageviews(service: Service, at_least: int) -> dict[str, object]:
    return service.wait_for(SITE, lambda s: today(s, "pageviews") >= at_least)


def test_the_nginx_example_counts_a_page_once_and_never_what_is_not_a_view(
    service: Service, proxy: str
) -> None:
    # One connection, kept alive: nginx reads its next request only when the mirror of the
    # one before has finished, so every mirror below reached the service before the last page.
    with httpx.Client(
        base_url=proxy, headers={"Host": SITE, "User-Agent": BROWSER_A}, timeout=10
    ) as browser:
        page = browser.get("/tin-tuc/le-hoi-ok-om-bok")
        assert page.status_code == 200 and "Ok Om Bok" in page.text
        first = pageviews(service, 1)
        assert (today(first, "pageviews"), today(first, "visits")) == (1, 1)
        not_views = [
            browser.get("/tin-tuc/1", headers={"Sec-Purpose": "prefetch"}),
            browser.get("/tin-tuc/2", headers={"Sec-Purpose": "prefetch;prerender"}),
            browser.get("/tin-tuc/3", headers={"Purpose": "prefetch"}),
            browser.head("/tin-tuc/4"),
            browser.post("/lien-he", data={"ten": "An"}),
            browser.get("/tin-tuc/5", headers={"Sec-GPC": "1"}),
            browser.get("/tin-tuc/6", headers={"DNT": "1"}),
        ]
        assert [r.status_code for r in not_views] == [200] * len(not_views)
        last = browser.get("/tin-tuc/7", headers={"DNT": "0"})  # DNT: 0 is no opt-out
        assert last.status_code == 200
    stats = pageviews(service, 2)
    assert today(stats, "pageviews") == 2, stats
    # Not sent at all: the service saw no prefetch and no opt-out to exclude either.
    excluded = stats.get("excluded", {})
    assert isinstance(excluded, dict)
    assert excluded.get("prefetch", 0) == excluded.get("opt_out", 0) == 0, excluded
