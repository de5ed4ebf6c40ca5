"""No raw IP or user agent anywhere: not in the store's files, not in logs, not in metrics."""

from __future__ import annotations

import asyncio
import io
import logging
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from api.errors import RedactExceptions, redact_logged_exceptions
from counter.sites import Site
from counter.storage.connection import rewrite_append_only_file
from counter.storage.store import Store
from tests.helpers import BROWSER_A
from tests.servers import ValkeyProcess
from tests.system.conftest import Service

SECRET_IP = "198.18.77.201"
SECRET_AGENT = "Mozilla/5.0 (X11; Linux x86_64) PrivacyProbe/3.1"


def test_a_child_logger_s_exception_is_redacted_by_the_root_handler() -> None:
    """Records of any module logger (the spool's, the aggregator's) reach the root handler."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        redact_logged_exceptions()
        try:
            _raise_with_private_values()
        except ValueError:
            logging.getLogger("visitor_stats.spool.test").exception("replay failed")
    finally:
        root.removeHandler(handler)
    assert "replay failed" in stream.getvalue()
    assert SECRET_IP not in stream.getvalue()


def _raise_with_private_values() -> None:
    try:
        raise KeyError(SECRET_IP)
    except KeyError as exc:
        raise ValueError(f"bad hit from {SECRET_IP} with {SECRET_AGENT}") from exc


def test_a_logged_exception_keeps_its_frames_but_withholds_every_message() -> None:
    redact_logged_exceptions()
    logger = logging.getLogger("uvicorn.error")
    assert any(isinstance(f, RedactExceptions) for f in logger.filters)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger.addHandler(handler)
    try:
        try:
            _raise_with_private_values()
        except ValueError:
            logger.exception("Exception in ASGI application")
    finally:
        logger.removeHandler(handler)
    text = stream.getvalue()
    assert "Exception in ASGI application" in text
    assert "_raise_with_private_values" in text  # the frames are still there to debug with
    assert "builtins.ValueError: (message withheld)" in text
    assert "builtins.KeyError: (message withheld)" in text  # and the chained cause's too
    assert SECRET_IP not in text
    assert "PrivacyProbe" not in text


async def test_an_expired_salt_leaves_the_disk_once_the_aof_is_rewritten(
    tmp_path: Path,
) -> None:
    """In memory an expired key is gone at once, but the AOF keeps the SET until a rewrite:
    the rewrite the aggregator asks for daily is what destroys an old salt on disk."""
    directory = tmp_path / "valkey"
    server = ValkeyProcess(directory).start()
    client = redis.asyncio.Redis.from_url(server.url)

    def on_disk() -> bytes:
        return b"".join(p.read_bytes() for p in directory.rglob("*") if p.is_file())

    try:
        salt = b"SALT-" + secrets.token_hex(16).encode()
        key = "vs:{demo.local}:salt:day:2026-11-24"
        await client.set(key, salt, ex=3600)
        await client.set("vs:{demo.local}:keep", b"other-data")
        await client.delete(key)  # what its TTL does: the AOF gets a DEL, the SET stays
        assert salt in on_disk()
        assert await rewrite_append_only_file(client)
        deadline = time.monotonic() + 10
        while salt in on_disk():  # the rewrite runs in a child; old files go when it is done
            assert time.monotonic() < deadline, "the AOF rewrite did not drop the old salt"
            await asyncio.sleep(0.02)
        assert b"other-data" in on_disk()
    finally:
        await client.aclose()
        server.stop()


@pytest.mark.parametrize(
    ("headers", "counted"),
    [
        ({"Sec-GPC": "1"}, False),
        ({"DNT": "1"}, False),
        ({"Sec-GPC": " 1 "}, False),
        ({"DNT": "0"}, True),
        ({"Sec-GPC": "0"}, True),
        ({"Sec-GPC": "yes"}, True),  # the spec's only opt-out value is "1"
    ],
)
async def test_gpc_and_dnt_are_acknowledged_never_counted(
    client: httpx.AsyncClient, store: Store, site: Site, headers: dict[str, str], counted: bool
) -> None:
    base = {"Origin": "https://demo.local", "User-Agent": BROWSER_A}
    posted = await client.post(
        "/api/hit", json={"site": "demo.local", "url": "/a"}, headers={**base, **headers}
    )
    pixel = await client.get(
        "/api/hit.gif", params={"site": "demo.local", "url": "/a"}, headers={**base, **headers}
    )
    assert (posted.status_code, pixel.status_code) == (200, 200)
    assert set(posted.json()) == {"page_views", "online", "today", "week", "month", "year", "total"}
    keys = store.keys.site(site.id)
    pageviews = int(await store.redis.hget(keys.totals, "pageviews") or 0)
    assert pageviews == (2 if counted else 0)
    excluded = await store.redis.hgetall(
        keys.excluded(store.clock.now().astimezone(site.tz).date())
    )
    assert excluded == ({} if counted else {b"opt_out": b"2"})


# ---- the whole service under load: scan what it left on disk ------------------------------

HITS = 3000


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with Service.running(tmp_path / "var") as running:
        yield running


def _address(n: int) -> str:
    if n % 4 == 3:  # a quarter IPv6, from the documentation prefix
        return f"2001:db8:{n:x}::{n % 97 + 1:x}"
    return f"198.18.{n // 250}.{n % 250 + 1}"  # the benchmarking range: never a real client


def _agent(token: str, n: int) -> str:
    return (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        f"Chrome/131.0.{n}.0 Safari/537.36 PrivacyProbe-{token}/{n}"
    )


async def _load(service: Service, token: str) -> dict[int, int]:
    """HITS pageviews, each from its own address (X-Forwarded-For from loopback, which is a
    trusted proxy) and its own agent, plus bots, opt-outs, spam and hostile requests."""
    statuses: dict[int, int] = {}
    limits = httpx.Limits(max_connections=16)
    async with httpx.AsyncClient(base_url=service.base, timeout=10, limits=limits) as http:

        async def one(n: int) -> None:
            headers = {
                "Origin": "https://demo.local",
                "User-Agent": _agent(token, n),
                "X-Forwarded-For": f"{_address(n)}, 127.0.0.1",
            }
            body: dict[str, object] = {"site": "demo.local", "url": f"/bai-viet/{n % 50}"}
            if n % 10 == 1:
                headers["Sec-GPC"] = "1"
            if n % 10 == 2:
                body["referrer"] = "https://semalt.com/"
            if n % 10 == 3:
                headers["User-Agent"] = f"Googlebot/2.1 PrivacyProbe-{token}/{n}"
            if n % 50 == 4:
                answer = await http.post("/api/hit", content=b'{"site": ', headers=headers)
            elif n % 50 == 5:
                answer = await http.put("/api/hit", json=body, headers=headers)
            else:
                answer = await http.post("/api/hit", json=body, headers=headers)
            statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

        for start in range(0, HITS, 64):
            await asyncio.gather(*(one(n) for n in range(start, min(start + 64, HITS))))
    return statuses


@pytest.mark.system
def test_after_a_load_run_neither_the_store_files_nor_the_log_hold_an_ip_or_agent(
    service: Service, tmp_path: Path
) -> None:
    added = service.cli("sites", "add", "demo.local", "--domain", "demo.local")
    assert added.returncode == 0, added.stderr
    token = secrets.token_hex(4)
    statuses = asyncio.run(_load(service, token))
    assert statuses.get(500, 0) == 0 and set(statuses) <= {200, 400, 405}, statuses
    hostile = sum(1 for n in range(HITS) if n % 50 in (4, 5))
    assert statuses[200] == HITS - hostile
    counted = sum(1 for n in range(HITS) if n % 10 not in (1, 2, 3) and n % 50 not in (4, 5))
    body = service.wait_for("demo.local", lambda b: b["pageviews"]["today"] == counted)
    assert body["excluded"]["opt_out"] > 0 and body["excluded"]["spam"] > 0
    assert body["excluded"]["bot"] > 0
    metrics = httpx.get(f"{service.base}/metrics", timeout=5).text
    service.stop()  # the store flushes its AOF on the way out

    store_files = [p for p in (tmp_path / "var").rglob("*") if p.is_file()]
    aof = [p for p in store_files if "appendonlydir" in p.parts]
    assert aof, "the embedded store wrote no AOF"
    assert sum(p.stat().st_size for p in aof) > 100_000  # it did record the load ...
    assert b"/bai-viet/7" in b"".join(p.read_bytes() for p in aof)  # ... readably
    haystacks = {str(p): p.read_bytes() for p in store_files}
    haystacks[str(service.log)] = service.log.read_bytes()
    haystacks["/metrics"] = metrics.encode()
    needles = [_address(n).encode() for n in range(HITS)]
    needles += [f"PrivacyProbe-{token}".encode(), b"Chrome/131.0.1234.0"]
    for where, data in haystacks.items():
        found = [n.decode() for n in needles if n in data]
        assert not found, f"{where} holds {found[:5]}"
