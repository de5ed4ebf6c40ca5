"""Slow and oversized clients (issue 12), against a real uvicorn on loopback over raw sockets:
bodies are capped before they are read, slow heads and bodies are cut, huge heads refused,
and a worker's connections are bounded."""

from __future__ import annotations

import pickle
import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
import uvicorn

from api.app import create_app
from api.limits import uvicorn_options
from counter.clock import FakeClock
from counter.settings import Settings
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A
from tests.servers import free_port

TOKEN = "test-admin-token-0123456789"
HIT = orjson.dumps({"site": "demo.local", "url": "/a"})
BROWSER = {"Origin": "https://demo.local", "User-Agent": BROWSER_A}


@dataclass
class Running:
    port: int
    server: uvicorn.Server

    def connect(self) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=5)


@contextmanager
def serving(settings: Settings, clock: FakeClock, **overrides: Any) -> Iterator[Running]:
    """The real app under a real uvicorn, configured by ``uvicorn_options``, in a thread."""
    current = settings.model_copy(update=overrides)
    config = uvicorn.Config(
        create_app(current, clock),
        host="127.0.0.1",
        port=free_port(),
        log_config=None,
        log_level="warning",
        access_log=False,  # as `serve` runs it
        timeout_graceful_shutdown=2,
        **uvicorn_options(current),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield Running(config.port, server)
    finally:
        server.should_exit = True
        thread.join(10)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def detail(self) -> str:
        detail: str = orjson.loads(self.body)["detail"]
        return detail


def head(method: str, path: str, headers: dict[str, str]) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: stats.test"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def read_answer(sock: socket.socket, timeout_s: float = 5) -> Answer:
    return read_answers(sock, 1, timeout_s)[0]


def read_answers(sock: socket.socket, count: int, timeout_s: float = 5) -> list[Answer]:
    """``count`` answers from one connection, however the bytes were split (pipelining)."""
    sock.settimeout(timeout_s)
    data, answers, closed = b"", [], False
    while len(answers) < count:
        raw_head, found, rest = data.partition(b"\r\n\r\n")
        if found:
            status_line, *lines = raw_head.decode("latin-1").split("\r\n")
            headers = {
                n.strip().lower(): v.strip() for n, _, v in (x.partition(":") for x in lines)
            }
            length = int(headers.get("content-length", "0"))
            if len(rest) >= length or closed:  # closed: what came of the body (a HEAD's none)
                answers.append(Answer(int(status_line.split()[1]), headers, rest[:length]))
                data = rest[length:]
                continue
        assert not closed, f"closed after {len(answers)} answers and {data!r}"
        chunk = sock.recv(65536)
        closed = not chunk
        data += chunk
    return answers


def closed_within(sock: socket.socket, timeout_s: float) -> bool:
    sock.settimeout(timeout_s)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def answered_within(sock: socket.socket, timeout_s: float) -> bool:
    return bool(select.select([sock], [], [], timeout_s)[0])


async def pageviews(store: Store) -> int:
    return int(await store.redis.hget(store.keys.site("demo.local").totals, "pageviews") or 0)


@pytest.mark.parametrize(
    ("authorization", "status"),
    [(None, 401), ("Bearer wrong-token-wrong-token", 401), (f"Bearer {TOKEN}", 413)],
)
async def test_a_2_mb_admin_body_is_refused_before_any_of_it_is_sent(
    settings: Settings,
    clock: FakeClock,
    store: Store,
    site: Site,
    authorization: str | None,
    status: int,
) -> None:
    """Only the head goes out: the answer must come without the body (it used to be read
    whole, 200 MB of it, before the 401)."""
    headers = {"Content-Type": "application/json", "Content-Length": str(2_000_000)}
    if authorization:
        headers["Authorization"] = authorization
    with serving(settings, clock) as running, running.connect() as sock:
        sock.sendall(head("POST", "/api/admin/sites", headers))
        answer = read_answer(sock, timeout_s=3)
        assert answer.status == status
        assert answer.detail
        assert answer.headers["connection"] == "close"
        assert closed_within(sock, 3)
    assert await store.registry.ids() == ["demo.local"]


@pytest.mark.parametrize(
    ("path", "headers", "cap"),
    [
        ("/api/hit", BROWSER, 4096),
        ("/api/admin/sites", {"Authorization": f"Bearer {TOKEN}"}, 64 * 1024),
    ],
)
async def test_a_chunked_body_is_cut_with_413_as_soon_as_it_passes_the_cap(
    settings: Settings,
    clock: FakeClock,
    store: Store,
    site: Site,
    path: str,
    headers: dict[str, str],
    cap: int,
) -> None:
    """The body is sent just past the cap and then held open: waiting for its end would give
    408 at the body timeout, not 413."""
    given = {**headers, "Content-Type": "application/json", "Transfer-Encoding": "chunked"}
    with serving(settings, clock, body_timeout_s=30) as running, running.connect() as sock:
        sock.sendall(head("POST", path, given))
        for _ in range(cap // 1024 + 2):
            sock.sendall(b"400\r\n" + b" " * 1024 + b"\r\n")
        started = time.monotonic()
        answer = read_answer(sock, timeout_s=10)
        assert answer.status == 413, answer
        assert str(cap) in answer.detail
        assert time.monotonic() - started < 10
        assert closed_within(sock, 3)
    assert await pageviews(store) == 0
    assert await store.registry.ids() == ["demo.local"]


@pytest.mark.parametrize(
    ("path", "headers"),
    [("/api/hit", BROWSER), ("/api/admin/sites", {"Authorization": f"Bearer {TOKEN}"})],
)
async def test_a_body_that_trickles_is_cut_after_the_body_timeout_and_not_counted(
    settings: Settings,
    clock: FakeClock,
    store: Store,
    site: Site,
    path: str,
    headers: dict[str, str],
) -> None:
    """A byte every 0.1 s keeps the body moving but never whole: the deadline is for all of
    it, so 408 comes about 0.5 s on, and the connection is closed."""
    body = HIT if path == "/api/hit" else orjson.dumps({"id": "new.vn", "domains": ["new.vn"]})
    given = {**headers, "Content-Type": "application/json", "Content-Length": str(len(body))}
    with serving(settings, clock, body_timeout_s=0.5) as running, running.connect() as sock:
        sock.sendall(head("POST", path, given))
        started = time.monotonic()
        for byte in body[:-1]:  # never the last one
            if answered_within(sock, 0.1):
                break
            sock.sendall(bytes([byte]))
        answer = read_answer(sock, timeout_s=5)
        elapsed = time.monotonic() - started
        assert answer.status == 408, answer
        assert "0.5 s" in answer.detail
        assert 0.4 < elapsed < 3
        assert answer.headers["connection"] == "close"
        assert closed_within(sock, 3)
    assert await pageviews(store) == 0
    assert await store.registry.ids() == ["demo.local"]


async def test_a_silent_connection_and_trickling_headers_are_cut_after_the_header_timeout(
    settings: Settings, clock: FakeClock, store: Store
) -> None:
    with (
        serving(settings, clock, header_timeout_s=0.5) as running,
        running.connect() as silent,
        running.connect() as trickle,
    ):
        started = time.monotonic()
        trickle.sendall(b"GET /healthz HTTP/1.1\r\nHost: stats.test\r\n")
        for n in range(50):
            if answered_within(trickle, 0.1):
                break
            trickle.sendall(f"X-Slow-{n}: 1\r\n".encode())
        for sock in (trickle, silent):
            answer = read_answer(sock, timeout_s=5)
            assert answer.status == 408
            assert "headers" in answer.detail
            assert closed_within(sock, 3)
        assert 0.4 < time.monotonic() - started < 3


async def test_the_rest_of_a_body_that_a_get_ignored_cannot_hold_the_connection(
    settings: Settings, clock: FakeClock, store: Store
) -> None:
    """/healthz answers without reading the declared body; every byte that follows would
    restart uvicorn's keep-alive timer, so the rest is due like a head."""
    with (
        serving(settings, clock, header_timeout_s=0.5) as running,
        running.connect() as sock,
    ):
        sock.sendall(head("GET", "/healthz", {"Content-Length": "1000"}))
        assert read_answer(sock).status == 200
        started = time.monotonic()
        for _ in range(50):
            if answered_within(sock, 0.1):
                break
            sock.sendall(b"x")
        assert closed_within(sock, 0) or read_answer(sock).status == 408
        assert time.monotonic() - started < 3


@pytest.mark.parametrize(
    ("headers", "detail"),
    [
        ({f"X-Pad-{n}": "v" for n in range(200)}, "header lines"),
        ({f"X-Big-{n}": "v" * 1024 for n in range(40)}, "bytes"),
    ],
    ids=["200 headers", "40 KB of headers"],
)
async def test_too_many_or_too_large_headers_get_431_from_the_server(
    settings: Settings, clock: FakeClock, store: Store, headers: dict[str, str], detail: str
) -> None:
    with serving(settings, clock) as running:
        for method, path in [("GET", "/healthz"), ("POST", "/api/hit")]:
            with running.connect() as sock:
                sock.sendall(head(method, path, headers))
                answer = read_answer(sock)
                assert answer.status == 431
                assert detail in answer.detail
                assert closed_within(sock, 3)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/hit"),
        ("GET", "/api/stats"),
        ("GET", "/healthz"),
        ("POST", "/api/admin/sites"),
    ],
)
async def test_too_many_headers_get_431_from_the_app_under_any_server(
    client: httpx.AsyncClient, store: Store, site: Site, method: str, path: str
) -> None:
    """The app checks what it is given too (the hot path itself, the rest in the middleware)."""
    headers = {**BROWSER, **{f"X-Pad-{n}": "v" for n in range(200)}}
    answer = await client.request(
        method, path, content=HIT, params={"site": "demo.local"}, headers=headers
    )
    assert answer.status_code == 431
    assert "header lines" in answer.json()["detail"]
    assert await pageviews(store) == 0


async def test_a_hit_and_two_requests_on_one_connection_pass_the_limits(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    with serving(settings, clock) as running, running.connect() as sock:
        given = {**BROWSER, "Content-Type": "application/json", "Content-Length": str(len(HIT))}
        sock.sendall(head("POST", "/api/hit", given) + HIT)
        assert read_answer(sock).status == 200
        sock.sendall(head("GET", "/healthz", {}))
        assert read_answer(sock).status == 200
    assert await pageviews(store) == 1


async def test_an_idle_keep_alive_connection_is_closed_after_keep_alive_s(
    settings: Settings, clock: FakeClock, store: Store
) -> None:
    with serving(settings, clock, keep_alive_s=1) as running, running.connect() as sock:
        sock.sendall(head("GET", "/healthz", {}))
        assert read_answer(sock).status == 200
        started = time.monotonic()
        assert closed_within(sock, 5)
        assert 0.8 < time.monotonic() - started < 3


async def test_connections_beyond_the_worker_limit_get_503(
    settings: Settings, clock: FakeClock, store: Store
) -> None:
    def connections(running: Running) -> int:
        return len(running.server.server_state.connections)

    def wait_for(running: Running, count: int) -> None:
        deadline = time.monotonic() + 5
        while connections(running) != count:
            assert time.monotonic() < deadline, f"{connections(running)} connections, not {count}"
            time.sleep(0.01)

    # A worker's room: its connections, and apart from them its live-box streams.
    with serving(settings, clock, max_connections_per_worker=10, streams_per_worker=2) as running:
        idle = [running.connect() for _ in range(12)]
        try:
            wait_for(running, 12)
            with running.connect() as sock:
                sock.sendall(head("GET", "/healthz", {}))
                assert read_answer(sock).status == 503
        finally:
            for sock in idle:
                sock.close()
        wait_for(running, 0)
        with running.connect() as sock:
            sock.sendall(head("GET", "/healthz", {}))
            assert read_answer(sock).status == 200


def test_the_uvicorn_options_survive_the_pickling_that_workers_need(settings: Settings) -> None:
    """`serve --workers N` spawns workers with a pickled config."""
    options = pickle.loads(pickle.dumps(uvicorn_options(settings)))
    assert options["limit_concurrency"] == (
        settings.max_connections_per_worker + settings.streams_per_worker
    )
    assert options["timeout_keep_alive"] == settings.keep_alive_s
    assert options["http"].keywords["header_timeout_s"] == settings.header_timeout_s
