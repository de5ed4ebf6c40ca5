"""Server-side counting with site keys (issue 15): ``POST /api/hit`` with
``Authorization: Bearer <ingest key>`` and the visitor's address and user agent in the body,
the ``POST /api/hits`` batch, and the keys' life (made, listed, revoked) over the admin API."""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from counter import access
from counter.access import KeyScope, issue_key
from counter.clock import FakeClock
from counter.record.recorder import Recorder
from counter.record.replay import TICK_S, tick
from counter.settings import Settings
from counter.sites import Site, make_site
from counter.storage.store import Store
from tests.api.test_hit_api import store_calls
from tests.helpers import BROWSER_A, BROWSER_B, GOOGLEBOT, post_hit
from tests.servers import StoreProcess, own_store_process

ADMIN = {"Authorization": "Bearer test-admin-token-0123456789"}


async def new_key(store: Store, site: str = "demo.local", scope: KeyScope = KeyScope.ingest) -> str:
    _, key = await issue_key(store.redis, store.keys, site, scope, "cms", store.clock.now())
    return key


def server_hit(url: str = "https://demo.local/a", **fields: Any) -> dict[str, Any]:
    return {
        "site": "demo.local",
        "url": url,
        "client_ip": "198.51.100.20",
        "user_agent": BROWSER_A,
        **fields,
    }


async def post_keyed(client: httpx.AsyncClient, key: str, body: Any) -> httpx.Response:
    # No Origin, no browser User-Agent: what curl from a CMS sends.
    return await client.post(
        "/api/hit",
        json=body,
        headers={"Authorization": f"Bearer {key}", "User-Agent": "php-curl/8"},
    )


async def totals(store: Store, site: str = "demo.local") -> dict[str, int]:
    raw = await store.redis.hgetall(store.keys.site(site).totals)
    return {k.decode(): int(v) for k, v in raw.items()}


async def test_a_keyed_hit_needs_no_origin_and_counts_the_visitor_the_body_names(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    key = await new_key(store)
    first = await post_keyed(client, key, server_hit())
    assert first.status_code == 200, first.text
    assert first.json()["page_views"] == 1
    # The same visitor again, then another address: the visitor is (site, client_ip, user_agent)
    # from the body, not the CMS server that sent the request.
    await post_keyed(client, key, server_hit())
    other = await post_keyed(client, key, server_hit(client_ip="2001:db8::7"))
    assert other.json()["page_views"] == 3
    assert await totals(store) == {"pageviews": 3, "visits": 2}


async def test_a_keyed_heartbeat_answers_204(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    key = await new_key(store)
    await post_keyed(client, key, server_hit())
    beat = await post_keyed(client, key, server_hit(event="heartbeat"))
    assert beat.status_code == 204


async def test_a_keyed_hit_is_excluded_as_a_browser_hit_would_be(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    key = await new_key(store)
    for fields in ({"user_agent": GOOGLEBOT}, {"user_agent": ""}, {"opt_out": True}):
        answer = await post_keyed(client, key, server_hit(**fields))
        assert answer.status_code == 200, fields
    prefetch = await post_keyed(client, key, server_hit(purpose="prefetch"))
    assert prefetch.status_code == 200
    assert await totals(store) == {}
    today = store.clock.now().astimezone(site.tz).date()
    excluded = await store.redis.hgetall(store.keys.site(site.id).excluded(today))
    assert {k.decode(): int(v) for k, v in excluded.items()} == {
        "bot": 2,
        "opt_out": 1,
        "prefetch": 1,
    }


async def test_a_keyed_hit_of_a_page_outside_the_sites_domains_is_refused(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    key = await new_key(store)
    answer = await post_keyed(client, key, server_hit(url="https://elsewhere.vn/a"))
    assert answer.status_code == 400
    assert "not one of the domains" in answer.json()["detail"]
    assert await totals(store) == {}


@pytest.mark.parametrize(
    ("authorization", "detail"),
    [
        ("Bearer vsk.demo.local.0badc0de.not-the-secret", "not known"),
        ("Bearer something-else", "not a visitor-stats key"),
        ("Basic dXNlcjpwYXNz", "Bearer"),
        ("Bearer ", "Bearer"),
    ],
)
async def test_a_wrong_key_is_refused_401_and_counts_nothing(
    client: httpx.AsyncClient, store: Store, site: Site, authorization: str, detail: str
) -> None:
    await new_key(store)
    answer = await client.post(
        "/api/hit", json=server_hit(), headers={"Authorization": authorization}
    )
    assert answer.status_code == 401
    assert detail in answer.json()["detail"]
    assert await totals(store) == {}


async def test_a_key_with_a_genuine_id_and_a_wrong_secret_is_refused(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    key = await new_key(store)
    forged = key[:-4] + ("AAAA" if not key.endswith("AAAA") else "BBBB")
    answer = await post_keyed(client, forged, server_hit())
    assert answer.status_code == 401
    assert await totals(store) == {}


async def test_a_revoked_key_is_refused_once_the_workers_copy_expires(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    made = await client.post("/api/admin/sites/demo.local/keys", json={}, headers=ADMIN)
    key, key_id = made.json()["key"], made.json()["id"]
    assert (await post_keyed(client, key, server_hit())).status_code == 200
    revoked = await client.delete(f"/api/admin/sites/demo.local/keys/{key_id}", headers=ADMIN)
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    clock.advance(access.KEY_CACHE_TTL + timedelta(seconds=1))
    answer = await post_keyed(client, key, server_hit())
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]
    assert await totals(store) == {"pageviews": 1, "visits": 1}


async def test_a_key_of_another_site_cannot_count_for_this_one(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    await store.registry.put(make_site(id="other.vn", domains=["other.vn"]))
    other_key = await new_key(store, "other.vn")
    answer = await post_keyed(client, other_key, server_hit())
    assert answer.status_code == 403
    assert "other.vn" in answer.json()["detail"]
    assert await totals(store) == {}
    assert await totals(store, "other.vn") == {}


async def test_a_read_token_cannot_count_hits(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    token = await new_key(store, scope=KeyScope.read)
    answer = await post_keyed(client, token, server_hit())
    assert answer.status_code == 403
    assert "read key cannot count hits" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("missing", "fields", "detail"),
    [
        ("client_ip", {"client_ip": None}, "client_ip is required"),
        ("user_agent", {"user_agent": None}, "user_agent is required"),
        ("address", {"client_ip": "not-an-ip"}, "client_ip must be the visitor's IP"),
        ("url", {"url": None}, "url is required"),
        ("opt_out", {"opt_out": "yes"}, "opt_out must be true or false"),
    ],
)
async def test_a_keyed_hit_without_its_visitor_fields_is_refused_400(
    client: httpx.AsyncClient,
    store: Store,
    site: Site,
    missing: str,
    fields: dict[str, Any],
    detail: str,
) -> None:
    key = await new_key(store)
    body = {k: v for k, v in {**server_hit(), **fields}.items() if v is not None}
    answer = await post_keyed(client, key, body)
    assert answer.status_code == 400, missing
    assert detail in answer.json()["detail"]


async def test_a_forged_client_ip_without_a_key_is_ignored(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    # A browser (or a script posing as one) cannot choose whom it counts as: the address is the
    # connection's (no trusted proxy here), whatever the body says.
    for forged in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
        answer = await post_hit(client, client_ip=forged, user_agent=BROWSER_B)
        assert answer.status_code == 200
    assert await totals(store) == {"pageviews": 3, "visits": 1}


async def test_keys_are_compared_in_constant_time(
    client: httpx.AsyncClient, store: Store, site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = await new_key(store)
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(access.hmac, "compare_digest", spy)
    assert (await post_keyed(client, key, server_hit())).status_code == 200
    wrong = key[:-1] + ("x" if key[-1] != "x" else "y")
    assert (await post_keyed(client, wrong, server_hit())).status_code == 401
    unknown = "vsk.demo.local.00000000.secret"
    assert (await post_keyed(client, unknown, server_hit())).status_code == 401
    # Every check, even of an id that does not exist, went through compare_digest on hashes.
    assert len(compared) == 3
    assert all(len(a) == len(b) == 64 for a, b in compared)


async def test_no_key_or_token_reaches_a_log_line(
    client: httpx.AsyncClient, store: Store, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    key = await new_key(store)
    caplog.set_level(logging.DEBUG)
    await post_keyed(client, key, server_hit())
    await post_keyed(client, key + "x", server_hit())
    await client.post("/api/hits", json={"hits": [server_hit()]}, headers={"Authorization": key})
    secret = key.rpartition(".")[2]
    assert all(secret not in record.getMessage() for record in caplog.records)
    assert secret not in (await client.get("/metrics")).text


# -- the batch ---------------------------------------------------------------------------------


async def post_batch(client: httpx.AsyncClient, key: str, hits: list[Any]) -> httpx.Response:
    return await client.post(
        "/api/hits", json={"hits": hits}, headers={"Authorization": f"Bearer {key}"}
    )


async def test_a_batch_answers_each_hit_in_order(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    await store.registry.put(make_site(id="other.vn", domains=["other.vn"]))
    key = await new_key(store)
    answer = await post_batch(
        client,
        key,
        [
            server_hit("https://demo.local/a"),
            {"url": "/b", "client_ip": "198.51.100.21", "user_agent": BROWSER_B},  # site: the key's
            server_hit(client_ip="nope"),
            server_hit(site="other.vn"),
            server_hit(event="heartbeat"),
            "not an object",
            server_hit(user_agent=GOOGLEBOT),
        ],
    )
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["status"] for r in results] == [200, 200, 400, 403, 204, 400, 200]
    assert results[0]["box"]["page_views"] == 1
    assert "client_ip" in results[2]["detail"]
    assert "other.vn" in results[3]["detail"]
    assert await totals(store) == {"pageviews": 2, "visits": 2}


async def test_a_batch_of_hits_shares_a_few_round_trips(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    key = await new_key(store)
    await post_batch(client, key, [server_hit()])  # the site's config and salt, once
    hits = [server_hit(f"/p/{n}", client_ip=f"198.51.{n // 250}.{n % 250}") for n in range(500)]
    before = await store_calls(client)
    started = time.monotonic()
    answer = await post_batch(client, key, hits)
    elapsed = time.monotonic() - started
    calls = await store_calls(client) - before
    assert [r["status"] for r in answer.json()["results"]] == [200] * 500
    assert (await totals(store))["pageviews"] == 501
    # 500 hits in pipelines of 256 (counter/storage/coalesce.py), and the key's lookup; the
    # worker's replay tick (every TICK_S, real time) may settle its journal meanwhile, one
    # round trip a tick (seen on a loaded CI machine).
    ticks = int(elapsed / TICK_S) + 1
    assert calls <= 4 + ticks, (calls, ticks)


async def test_a_batch_needs_a_key_and_at_most_500_hits(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    key = await new_key(store)
    unkeyed = await client.post("/api/hits", json={"hits": [server_hit()]})
    assert unkeyed.status_code == 401
    assert "ingest key" in unkeyed.json()["detail"]
    too_many = await post_batch(client, key, [server_hit()] * 501)
    assert too_many.status_code == 400
    assert "1 to 500" in too_many.json()["detail"]
    for body in ({"hits": []}, {"hits": "x"}, [server_hit()]):
        refused = await client.post(
            "/api/hits", json=body, headers={"Authorization": f"Bearer {key}"}
        )
        assert refused.status_code == 400, body
    assert (await client.get("/api/hits")).status_code == 405
    assert await totals(store) == {}


# -- keys over the admin API --------------------------------------------------------------------


async def test_keys_are_made_listed_and_revoked_over_the_admin_api_and_stored_hashed(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    made = await client.post(
        "/api/admin/sites/demo.local/keys",
        json={"name": "NukeViet", "scope": "read"},
        headers=ADMIN,
    )
    assert made.status_code == 201
    key = made.json()["key"]
    assert key.startswith("vsr.demo.local.")
    listed = await client.get("/api/admin/sites/demo.local/keys", headers=ADMIN)
    [entry] = listed.json()["keys"]
    assert entry["name"] == "NukeViet" and entry["scope"] == "read"
    assert entry["revoked_at"] is None
    assert "key" not in entry and "hash" not in entry
    # The store holds a hash, never the key or its secret.
    stored = await store.redis.hgetall(store.keys.site("demo.local").access)
    assert key.rpartition(".")[2].encode() not in b"".join(stored.values())
    unknown = await client.delete("/api/admin/sites/demo.local/keys/nosuchid", headers=ADMIN)
    assert unknown.status_code == 404
    assert (await client.get("/api/admin/sites/demo.local/keys")).status_code == 401
    assert (
        await client.post("/api/admin/sites/nosuch.vn/keys", json={}, headers=ADMIN)
    ).status_code == 404


async def test_admin_lists_the_sites(client: httpx.AsyncClient, store: Store, site: Site) -> None:
    answer = await client.get("/api/admin/sites", headers=ADMIN)
    assert answer.status_code == 200
    assert [s["id"] for s in answer.json()["sites"]] == ["demo.local"]
    assert answer.json()["sites"][0]["public_dashboard"] is False
    assert (await client.get("/api/admin/sites")).status_code == 401


# -- caps, outages and privacy, as for a browser's hit ------------------------------------------

VISITOR_CAP = 30  # the default VISITOR_STATS_RATE_PER_VISITOR_PER_MIN


async def excluded_today(store: Store, site: Site) -> dict[str, int]:
    today = store.clock.now().astimezone(site.tz).date()
    raw = await store.redis.hgetall(store.keys.site(site.id).excluded(today))
    return {k.decode(): int(v) for k, v in raw.items()}


async def test_keyed_hits_obey_the_flood_caps_of_the_visitor_the_body_names(
    client: httpx.AsyncClient, store: Store, site: Site, clock: FakeClock
) -> None:
    assert store.settings.rate_per_visitor_per_min == VISITOR_CAP
    clock.set(clock.now().replace(second=0, microsecond=0))
    key = await new_key(store)
    # One visitor flooding, through the CMS: 40 hits in a minute, 30 count, all answered 200.
    flood = [await post_keyed(client, key, server_hit(f"/p/{n % 5}")) for n in range(40)]
    assert [a.status_code for a in flood] == [200] * 40
    assert (await totals(store))["pageviews"] == VISITOR_CAP
    assert await excluded_today(store, site) == {"rate_limited": 40 - VISITOR_CAP}
    # The same in a batch, the next minute: the cap is the visitor's, whatever the route.
    clock.advance(timedelta(minutes=1))
    answer = await post_batch(client, key, [server_hit("/b")] * 40)
    assert [r["status"] for r in answer.json()["results"]] == [200] * 40
    assert (await totals(store))["pageviews"] == 2 * VISITOR_CAP
    assert await excluded_today(store, site) == {"rate_limited": 2 * (40 - VISITOR_CAP)}
    # Forty visitors behind one CMS server are forty visitors, not one over its cap.
    clock.advance(timedelta(minutes=1))
    many = [server_hit("/c", client_ip=f"198.51.100.{n + 1}") for n in range(40)]
    answer = await post_batch(client, key, many)
    assert [r["status"] for r in answer.json()["results"]] == [200] * 40
    assert (await totals(store))["pageviews"] == 2 * VISITOR_CAP + 40


def stored_bytes(values: Any) -> bytes:
    if isinstance(values, bytes):
        return values
    if isinstance(values, dict):
        return b"\0".join(stored_bytes(k) + b"\0" + stored_bytes(v) for k, v in values.items())
    if isinstance(values, (list, tuple, set)):
        return b"\0".join(stored_bytes(v) for v in values)
    return str(values).encode()


async def everything_stored(store: Store) -> bytes:
    """Every key of this test and every value under it, as read back (not DUMP: its strings may
    be LZF-compressed, and a compressed address would pass unseen)."""
    redis = store.redis
    found = []
    async for name in redis.scan_iter(match=f"{store.settings.key_prefix}:*", count=1000):
        kind = (await redis.type(name)).decode()
        if kind == "string":
            value: Any = await redis.get(name)
        elif kind == "hash":
            value = await redis.hgetall(name)
        elif kind == "set":
            value = await redis.smembers(name)
        elif kind == "zset":
            value = await redis.zrange(name, 0, -1, withscores=True)
        elif kind == "list":
            value = await redis.lrange(name, 0, -1)
        elif kind == "stream":
            value = await redis.xrange(name)
        else:
            raise AssertionError(f"{name!r} is a {kind}: read it here too")
        found.append(stored_bytes(name) + b"\0" + stored_bytes(value))
    return b"\n".join(found)


async def test_the_visitors_address_a_cms_sends_is_never_stored_only_its_hash(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    """PRIVACY.md: no client address in any form that can be read back, in keys or values;
    the address counts only through the day's keyed hash."""
    key = await new_key(store)
    v4, v6 = "198.51.100.237", "2001:db8:4:7::1d2"
    assert (await post_keyed(client, key, server_hit(client_ip=v4))).status_code == 200
    answer = await post_batch(
        client, key, [server_hit("/b", client_ip=v6), server_hit("/c", client_ip=v4)]
    )
    assert [r["status"] for r in answer.json()["results"]] == [200, 200]
    assert await totals(store) == {"pageviews": 3, "visits": 2}  # both were counted, by hash
    stored = await everything_stored(store)
    assert stored  # the test reads something
    forms = [v4, v6, "2001:0db8:0004:0007:0000:0000:0000:01d2", "2001:db8:4:7:"]
    for form in forms:
        assert form.encode() not in stored, form
    assert ipaddress.ip_address(v6).packed not in stored
    # The CMS server's own address (the ASGI client) is no visitor, and not kept either.
    assert b"203.0.113.7" not in stored


@pytest.fixture
async def store_away(
    tmp_path: Path, clock: FakeClock
) -> AsyncIterator[tuple[httpx.AsyncClient, Recorder, StoreProcess]]:
    """The app on a store of this test's own, which the test may stop (as tests/faults does)."""
    server = own_store_process(tmp_path / "store").start()
    settings = Settings(
        redis_url=server.url, key_prefix=f"t{secrets.token_hex(6)}", data_dir=tmp_path / "var"
    )
    try:
        app = create_app(settings, clock)
        async with app.fastapi.router.lifespan_context(app.fastapi):
            recorder: Recorder = app.fastapi.state.recorder
            await recorder.store.registry.put(make_site(id="demo.local", domains=["demo.local"]))
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
            async with httpx.AsyncClient(transport=transport, base_url="http://stats.test") as http:
                yield http, recorder, server
    finally:
        server.stop()


async def test_keyed_hits_while_the_store_is_away_are_spooled_202_and_counted_once_back(
    store_away: tuple[httpx.AsyncClient, Recorder, StoreProcess],
) -> None:
    http, recorder, server = store_away
    store = recorder.store
    key = await new_key(store)
    # The key was checked once while the store was up: the worker keeps it (seconds).
    assert (await post_keyed(http, key, server_hit())).status_code == 200
    server.stop()
    one = await post_keyed(http, key, server_hit("/b", client_ip="198.51.100.238"))
    assert (one.status_code, one.json()) == (202, {"accepted": True, "spooled": True})
    batch = await post_batch(http, key, [server_hit(f"/c/{n}") for n in range(3)])
    assert batch.status_code == 200
    assert [r["status"] for r in batch.json()["results"]] == [202] * 3
    assert recorder.spool is not None and recorder.spool.pending == 4
    spooled = b"".join(p.read_bytes() for p in (store.settings.data_dir / "spool").glob("*"))
    assert spooled and b"198.51.100" not in spooled and BROWSER_A.encode() not in spooled
    server.start()  # same port, same AOF
    await tick(recorder)
    assert (await totals(store))["pageviews"] == 5
    assert recorder.spool.pending == 0
