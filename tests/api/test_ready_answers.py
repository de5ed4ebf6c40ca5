"""Stats answers the worker's protocol writes itself (api/ready.py), against a real uvicorn on
loopback over raw sockets: the same bytes as the hot path's, the same metrics, fresh figures
as soon as the reader's copy is not, and every other request the usual way."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from contextlib import contextmanager

import orjson
import pytest
from starlette.types import Receive, Scope

from aggregator.rollup import run_pass
from api import hotpath
from api.hotpath import Answer, HotPath
from counter.clock import FakeClock
from counter.settings import Settings
from counter.sites import Site
from counter.storage.store import Store
from tests.abuse.test_limits import BROWSER, HIT, Running, head, read_answer, read_answers, serving
from tests.ops.conftest import samples, value

STATS = "/api/stats?site=demo.local&url=/a"
DURATION = "visitor_stats_http_request_duration_seconds_count"


@contextmanager
def counted(
    settings: Settings, clock: FakeClock, **overrides: object
) -> Iterator[tuple[Running, list[str]]]:
    """A real server whose hot path notes each stats request it answers itself."""
    reached: list[str] = []

    async def stats(state: object, scope: Scope, receive: Receive) -> Answer:
        reached.append(scope["method"])
        return await hotpath._stats(state, scope, receive)  # type: ignore[arg-type]

    with serving(settings, clock, **overrides) as running:
        app = running.server.config.loaded_app
        while not isinstance(app, HotPath):  # uvicorn's own wrappers around ours
            app = app.app
        app.routes["/api/stats"] = ("GET", stats)
        yield running, reached


def get(sock: socket.socket, target: str = STATS, **headers: str) -> bytes:
    request = head("GET", target, headers)
    sock.sendall(request)
    return request


def without_date(raw: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in raw.items() if k != "date"}


async def test_a_fresh_answer_is_written_again_with_the_same_bytes_and_timed(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    with counted(settings, clock) as (running, reached), running.connect() as sock:
        get(sock)
        first = read_answer(sock)
        for _ in range(3):
            get(sock)
            again = read_answer(sock)
            assert (again.status, again.body) == (first.status, first.body)
            assert without_date(again.headers) == without_date(first.headers)
        assert first.status == 200 and first.headers["etag"]
        assert first.headers["access-control-allow-origin"] == "*"
        assert reached == ["GET"]  # the other three never reached the app
        sock.sendall(head("GET", "/metrics", {}))
        found = samples(read_answer(sock).body.decode())
    assert value(found, DURATION, route="/api/stats", method="GET", status_class="2xx") == 4
    assert value(found, "visitor_stats_http_requests_in_flight") == 0


async def test_if_none_match_gets_its_304_without_a_body(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    with counted(settings, clock) as (running, reached), running.connect() as sock:
        get(sock)
        etag = read_answer(sock).headers["etag"]
        get(sock, **{"If-None-Match": etag})
        same = read_answer(sock)
        get(sock, **{"If-None-Match": '"another"'})
        other = read_answer(sock)
        assert reached == ["GET"]
    assert (same.status, same.body, same.headers["etag"]) == (304, b"", etag)
    assert "content-length" not in same.headers
    assert other.status == 200 and other.body


async def test_new_figures_are_read_once_the_readers_copy_is_no_longer_fresh(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    with counted(settings, clock) as (running, reached), running.connect() as sock:
        get(sock, target="/api/stats?site=demo.local")
        before = read_answer(sock)
        given = {**BROWSER, "Content-Type": "application/json", "Content-Length": str(len(HIT))}
        sock.sendall(head("POST", "/api/hit", given) + HIT)
        assert read_answer(sock).status == 200
        await run_pass(store, clock.now())
        get(sock, target="/api/stats?site=demo.local")
        assert read_answer(sock).body == before.body  # the copy is still fresh
        clock.advance(seconds=settings.stats_cache_s)
        get(sock, target="/api/stats?site=demo.local")
        after = read_answer(sock)
        assert reached == ["GET", "GET"]
    assert after.body != before.body and after.headers["etag"] != before.headers["etag"]


@pytest.mark.parametrize(
    ("method", "headers"),
    [("HEAD", {}), ("GET", {"Connection": "close"}), ("GET", {"Content-Length": "0"})],
)
async def test_head_close_and_bodies_go_the_usual_way(
    settings: Settings,
    clock: FakeClock,
    store: Store,
    site: Site,
    method: str,
    headers: dict[str, str],
) -> None:
    with counted(settings, clock) as (running, reached), running.connect() as sock:
        get(sock)
        assert read_answer(sock).status == 200
        sock.sendall(head(method, STATS, headers))
        answer = read_answer(sock)
        assert len(reached) == 2  # (the hot path routes a HEAD as its GET)
    assert answer.status == 200
    if method == "HEAD":
        assert answer.body == b""
    if "Connection" in headers:
        assert answer.headers["connection"] == "close"


async def test_pipelined_requests_are_answered_in_order(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    with counted(settings, clock) as (running, reached), running.connect() as sock:
        get(sock)
        first = read_answer(sock)
        # A ready answer, a request the app answers, a ready answer again: one send.
        sock.sendall(head("GET", STATS, {}) + head("GET", "/healthz", {}) + head("GET", STATS, {}))
        answers = read_answers(sock, 3)
        # The first is written at once; the last waits its turn behind /healthz's answer,
        # still under way when it is parsed, so it goes the usual way.
        assert reached == ["GET", "GET"]
    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[0].body == answers[2].body == first.body
    assert answers[1].body != first.body


async def test_a_request_pipelined_behind_a_ready_answer_is_not_cut_as_idle(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    """The ready answer arms the keep-alive timer while the parser holds the next request:
    that request, waiting for its body longer than the keep-alive, must still be answered."""
    with counted(settings, clock, keep_alive_s=1) as (running, _), running.connect() as sock:
        get(sock)
        read_answer(sock)
        given = {**BROWSER, "Content-Type": "application/json", "Content-Length": str(len(HIT))}
        sock.sendall(head("GET", STATS, {}) + head("POST", "/api/hit", given))
        assert read_answers(sock, 1)[0].status == 200
        await asyncio.sleep(1.5)  # uvicorn's keep-alive timer is real time
        sock.sendall(HIT)
        assert read_answer(sock).status == 200


async def test_a_stale_page_is_answered_with_the_box_at_once_and_read_anew_behind(
    settings: Settings, clock: FakeClock, store: Store, site: Site
) -> None:
    """Stale-while-revalidate, as the hot path does it: a page's copy past ``stats_cache_s``
    is answered at once with the fresh box, and its new figures follow its read anew."""
    with counted(settings, clock) as (running, reached), running.connect() as sock:
        get(sock)
        before = orjson.loads(read_answer(sock).body)
        given = {**BROWSER, "Content-Type": "application/json", "Content-Length": str(len(HIT))}
        sock.sendall(head("POST", "/api/hit", given) + HIT)
        assert read_answer(sock).status == 200
        await run_pass(store, clock.now())
        clock.advance(seconds=settings.stats_cache_s)
        get(sock, target="/api/stats?site=demo.local")  # the box, read anew: at hand again
        box = orjson.loads(read_answer(sock).body)
        assert reached == ["GET", "GET"]
        get(sock)
        stale = orjson.loads(read_answer(sock).body)
        assert stale["total"] == box["total"] != before["total"]  # the box is the new one
        assert stale["page_views"] == before["page_views"]  # the page's copy, until read anew
        for _ in range(100):  # the read anew runs on the server's loop, in its own thread
            get(sock)
            after = orjson.loads(read_answer(sock).body)
            if after["page_views"] != before["page_views"]:
                break
            await asyncio.sleep(0.02)
        assert reached == ["GET", "GET"]  # the page's answers never reached the app
    assert after["page_views"] == before["page_views"] + 1
