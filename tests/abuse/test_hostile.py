"""Hostile input at the real app: every request gets a 4xx with a detail (or its documented
2xx), never a 5xx, counts nothing it should not, and the worker's memory stays steady."""

from __future__ import annotations

import gc
import tracemalloc
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A

ORIGIN = "https://demo.local"
GOOD = b'{"site": "demo.local", "url": "/a"}'


@dataclass(frozen=True)
class Attack:
    name: str
    status: int
    method: str = "POST"
    path: str = "/api/hit"
    content: bytes | None = None
    json: Any = None
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    detail: str = ""  # a fragment the detail must hold


def body(**fields: Any) -> dict[str, Any]:
    return {"site": "demo.local", "url": "/a", **fields}


ATTACKS = [
    # bodies
    Attack("empty body", 400, content=b"", detail="empty"),
    Attack("blank body", 400, content=b" \r\n\t ", detail="empty"),
    Attack("invalid utf-8", 400, content=b'{"site": "demo.local", "url": "/\xff\xfe"}'),
    Attack("utf-8 bom", 400, content=b"\xef\xbb\xbf" + GOOD, detail="JSON"),
    Attack("raw nul byte", 400, content=b'{"site": "demo.local", "url": "/a\x00"}'),
    Attack("escaped nul", 400, json=body(url="/a\u0000b"), detail="NUL"),
    Attack("lone surrogate", 400, content=b'{"site": "demo.local", "url": "/\\ud800"}'),
    Attack("crlf in url", 400, json=body(url="/a\r\nSet-Cookie: x=1"), detail="control"),
    Attack("tab in url", 400, json=body(url="/a\tb"), detail="control"),
    Attack("percent-encoded nul", 400, json=body(url="/a%00b"), detail="control"),
    Attack("percent-encoded crlf", 400, json=body(url="/a%0d%0aX: y"), detail="control"),
    Attack("bad percent utf-8", 400, json=body(url="/%ff%fe"), detail="UTF-8"),
    Attack("3 KB url", 400, json=body(url="/" + "a" * 3000), detail="longer than"),
    Attack("10 KB url", 413, json=body(url="/" + "a" * 10_000), detail="larger than"),
    Attack("100 KB referrer", 413, json=body(referrer="https://x.vn/" + "r" * 100_000)),
    Attack("1 MB body", 413, content=b"x" * 1_000_000, detail="larger than"),
    Attack("javascript url", 400, json=body(url="javascript:alert(1)")),
    Attack("data url", 400, json=body(url="data:text/html,<script>")),
    Attack("relative url", 400, json=body(url="a/b")),
    # JSON types and shapes
    Attack("array", 400, json=["demo.local", "/a"], detail="JSON object"),
    Attack("string", 400, json="demo.local", detail="JSON object"),
    Attack("null", 400, content=b"null", detail="JSON object"),
    Attack("number site", 400, json=body(site=7), detail="site must be a string"),
    Attack("null site", 400, json=body(site=None), detail="site is required"),
    Attack("list url", 400, json=body(url=["/a"]), detail="url must be a string"),
    Attack("object url", 400, json=body(url={"$gt": ""}), detail="url must be a string"),
    Attack("bool referrer", 400, json=body(referrer=True), detail="referrer must be a string"),
    Attack("number event", 400, json=body(event=1), detail="event must be a string"),
    Attack("unknown event", 400, json=body(event="click"), detail="event"),
    Attack("huge number", 400, content=b'{"site": 1e999, "url": "/a"}'),
    Attack("huge integer", 400, json=body(url=10**40), detail="url must be a string"),
    Attack("nested arrays", 400, content=b"[" * 3000 + b"]" * 1000),
    Attack("nested objects", 400, content=b'{"a":' * 600 + b"1" + b"}" * 600),
    Attack("missing url", 400, json={"site": "demo.local"}, detail="url is required"),
    Attack("truncated json", 400, content=b'{"site": "demo.local", "url": ', detail="JSON"),
    # site ids that could break a key
    Attack("brace site", 400, json=body(site="demo{x}"), detail="site id"),
    Attack("colon site", 400, json=body(site="vs:demo"), detail="site id"),
    Attack("space site", 400, json=body(site="demo local"), detail="site id"),
    Attack("unicode site", 400, json=body(site="dêmo.local"), detail="site id"),
    Attack("glob site", 400, json=body(site="*"), detail="site id"),
    Attack("long site", 400, json=body(site="a" * 101), detail="longer than"),
    Attack("unknown site", 404, json=body(site="nope.local"), detail="unknown site"),
    # content types
    # `curl -d '{...}'` sends form-urlencoded: the JSON body is read all the same.
    Attack(
        "curl's default type",
        200,
        content=GOOD,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    Attack(
        "a real form",
        400,
        content=b"site=demo.local&url=%2Fa",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        detail="JSON",
    ),
    Attack(
        "multipart type",
        415,
        content=GOOD,
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    ),
    Attack("xml type", 415, content=GOOD, headers={"Content-Type": "application/xml"}),
    Attack("no type", 200, content=GOOD, headers={"Content-Type": ""}),
    Attack("beacon type", 200, content=GOOD, headers={"Content-Type": "text/plain;charset=UTF-8"}),
    Attack(
        "json with charset",
        200,
        content=GOOD,
        headers={"Content-Type": "application/json; charset=utf-8"},
    ),
    # methods
    Attack("put", 405, method="PUT", json=body()),
    Attack("delete", 405, method="DELETE"),
    Attack("patch", 405, method="PATCH", json=body()),
    Attack("post stats", 405, path="/api/stats", json=body()),
    Attack("get hit", 405, method="GET"),
    # headers
    Attack("huge user agent", 200, json=body(), headers={"User-Agent": BROWSER_A + "x" * 8000}),
    Attack(
        "many forwarded hops",
        200,
        json=body(),
        headers={"X-Forwarded-For": ", ".join(["10.1.2.3"] * 2000)},
    ),
    Attack(
        "bad forwarded ips",
        200,
        json=body(),
        headers={"X-Forwarded-For": "999.1.1.1, ::zz, <script>, 1.2.3.4:99999"},
    ),
    Attack(
        "huge referer, no origin",  # long article URLs are real: the host at its start counts
        200,
        json=body(),
        headers={"Origin": "", "Referer": "https://demo.local/" + "o" * 6000},
    ),
    Attack(
        "foreign huge referer",
        403,
        json=body(),
        headers={"Origin": "", "Referer": "https://evil.example/" + "o" * 6000},
    ),
    Attack("null origin", 403, json=body(), headers={"Origin": "null"}),
    Attack("ipv6 junk origin", 403, json=body(), headers={"Origin": "http://[::1"}),
    Attack(
        "lookalike origin", 403, json=body(), headers={"Origin": "https://demo.local.evil.example"}
    ),
    Attack("huge sec-purpose", 200, json=body(), headers={"Sec-Purpose": "x" * 6000}),
    # the pixel and the reads
    Attack("gif without site", 400, method="GET", path="/api/hit.gif"),
    Attack(
        "gif nul url",
        400,
        method="GET",
        path="/api/hit.gif",
        params={"site": "demo.local", "url": "/a\x00"},
    ),
    Attack(
        "gif bad site", 400, method="GET", path="/api/hit.gif", params={"site": "{x}", "url": "/a"}
    ),
    Attack(
        "gif long url",
        400,
        method="GET",
        path="/api/hit.gif",
        params={"site": "demo.local", "url": "/" + "u" * 5000},
    ),
    Attack(
        "gif no url no referer",
        400,
        method="GET",
        path="/api/hit.gif",
        params={"site": "demo.local"},
    ),
    Attack(
        "stats control url",
        400,
        method="GET",
        path="/api/stats",
        params={"site": "demo.local", "url": "/a\r\n"},
    ),
    Attack("stats brace site", 400, method="GET", path="/api/stats", params={"site": "{demo}"}),
    Attack(
        "history bad date",
        400,
        method="GET",
        path="/api/stats/history",
        params={"site": "demo.local", "from": "2026-13-01", "to": "2026-11-25"},
    ),
    Attack(
        "history ten years",
        400,
        method="GET",
        path="/api/stats/history",
        params={"site": "demo.local", "from": "1990-01-01", "to": "2026-11-25"},
    ),
    Attack(
        "admin without token",
        401,
        path="/api/admin/sites",
        json={"id": "x.vn", "domains": ["x.vn"]},
    ),
]


async def send(client: httpx.AsyncClient, attack: Attack) -> httpx.Response:
    given = {"Origin": ORIGIN, "User-Agent": BROWSER_A, **attack.headers}
    headers = {k: v for k, v in given.items() if v != ""}  # "" means: send no such header
    return await client.request(
        attack.method,
        attack.path,
        content=attack.content,
        json=attack.json,
        params=attack.params,
        headers=headers,
    )


async def pageviews(store: Store, site: Site) -> int:
    return int(await store.redis.hget(store.keys.site(site.id).totals, "pageviews") or 0)


@pytest.mark.parametrize("attack", ATTACKS, ids=[a.name for a in ATTACKS])
async def test_hostile_request_gets_its_status_and_a_detail_never_a_5xx(
    client: httpx.AsyncClient, store: Store, site: Site, attack: Attack
) -> None:
    answer = await send(client, attack)
    assert answer.status_code == attack.status, answer.text
    if answer.status_code >= 400:
        detail = answer.json()["detail"]
        assert isinstance(detail, str) and detail
        assert attack.detail in detail
    counted = await pageviews(store, site)
    assert counted == (1 if attack.status == 200 and attack.path == "/api/hit" else 0)


async def test_no_request_header_reaches_a_response(client: httpx.AsyncClient, site: Site) -> None:
    """A hostile value is never reflected back: no header injection, no echo of the agent."""
    agent = "Mozilla/5.0 EchoProbe/1.0 <script>alert(1)</script>"
    answer = await client.post(
        "/api/hit", json=body(url="/a"), headers={"Origin": ORIGIN, "User-Agent": agent}
    )
    assert answer.status_code == 200
    assert "EchoProbe" not in answer.text
    assert all("EchoProbe" not in v for v in answer.headers.values())


async def test_worker_memory_stays_steady_under_hostile_requests(
    client: httpx.AsyncClient, site: Site
) -> None:
    """Thirty rounds of the whole corpus: after a warm-up round, traced memory grows by no
    more than a bounded amount (no per-request leak; every cache here is bounded)."""
    rounds, limit_bytes = 30, 1_500_000
    tracemalloc.start()
    try:
        for attack in ATTACKS:  # warm-up: imports, caches, compiled patterns, pools
            await send(client, attack)
        gc.collect()
        before, _ = tracemalloc.get_traced_memory()
        for _ in range(rounds):
            for attack in ATTACKS:
                assert (await send(client, attack)).status_code < 500
        gc.collect()
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    growth = after - before
    print(f"{rounds * len(ATTACKS)} hostile requests: traced memory grew {growth} bytes")
    assert growth < limit_bytes
