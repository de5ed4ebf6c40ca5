from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from counter.clock import FakeClock
from counter.record.visitor import SaltBook, address_id, client_ip, visitor_id
from counter.sites import Site, make_site
from counter.storage.store import Store

LOOPBACK = ["127.0.0.1/8", "::1/128"]


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: the header is ignored
        ("127.0.0.1", "1.2.3.4", "1.2.3.4"),  # our proxy: believe it
        ("127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client wrote the left part
        ("127.0.0.1", "1.2.3.4, 127.0.0.2", "1.2.3.4"),  # two trusted hops
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, header: str | None, expected: str
) -> None:
    assert client_ip(peer, header, LOOPBACK) == expected


def test_visitor_id_depends_on_salt_site_ip_and_agent() -> None:
    base = visitor_id(b"s" * 32, "a.vn", "1.2.3.4", "UA")
    assert base == visitor_id(b"s" * 32, "a.vn", "1.2.3.4", "UA")
    others = {
        visitor_id(b"t" * 32, "a.vn", "1.2.3.4", "UA"),
        visitor_id(b"s" * 32, "b.vn", "1.2.3.4", "UA"),
        visitor_id(b"s" * 32, "a.vn", "1.2.3.5", "UA"),
        visitor_id(b"s" * 32, "a.vn", "1.2.3.4", "UA2"),
    }
    assert base not in others
    assert len(others) == 4


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1.2.3.4:5678", "1.2.3.4"),  # a proxy that adds the port
        ("[2001:db8::1]:443", "2001:db8::1"),
        ("2001:DB8:0::1", "2001:db8::1"),  # canonical text
        ("not-an-ip", "127.0.0.1"),  # garbage: the peer stands
        ("1.2.3.4, not-an-ip", "127.0.0.1"),  # the walk stops at garbage
        ("999.1.1.1", "127.0.0.1"),
        ("", "127.0.0.1"),
        (" , ,", "127.0.0.1"),
        ("1.2.3.4\r\nX-Evil: 1", "127.0.0.1"),
        (", ".join(f"10.0.{n // 250}.{n % 250}" for n in range(5000)) + ", 5.6.7.8", "5.6.7.8"),
        ("5.6.7.8, " + ", ".join(["127.0.0.9"] * 5000), "127.0.0.9"),  # cut: never the far left
    ],
)
def test_forwarded_for_garbage_never_becomes_the_client(header: str, expected: str) -> None:
    assert client_ip("127.0.0.1", header, LOOPBACK) == expected


def test_address_id_is_a_salted_hash_per_ipv4_and_per_ipv6_64() -> None:
    salt = b"s" * 32
    v4 = address_id(salt, "a.vn", "198.51.100.7")
    assert "198" not in v4 and len(v4) == 25
    assert v4 != address_id(salt, "a.vn", "198.51.100.8")
    assert v4 != address_id(b"t" * 32, "a.vn", "198.51.100.7")
    assert address_id(salt, "a.vn", "2001:db8:1:2::1") == address_id(
        salt, "a.vn", "2001:db8:1:2:ffff::9"
    )
    assert address_id(salt, "a.vn", "2001:db8:1:2::1") != address_id(
        salt, "a.vn", "2001:db8:1:3::1"
    )
    assert address_id(salt, "a.vn", "1.2.3.4") != visitor_id(salt, "a.vn", "1.2.3.4", "")


@pytest.mark.parametrize(
    ("timezone", "local_instant"),
    [
        ("Asia/Ho_Chi_Minh", "2026-11-25T00:00:01"),  # just after midnight: the longest
        ("Asia/Ho_Chi_Minh", "2026-11-25T23:59:59"),
        ("Europe/Berlin", "2026-10-25T00:00:01"),  # a 25-hour day (DST ends)
        ("America/St_Johns", "2026-11-01T00:30:00"),
        ("Pacific/Kiritimati", "2026-11-25T00:00:01"),
    ],
)
async def test_daily_salt_is_destroyed_within_48_hours(
    store: Store, clock: FakeClock, timezone: str, local_instant: str
) -> None:
    site = make_site(id="demo.local", domains=["demo.local"], timezone=timezone)
    await store.registry.put(site)
    clock.set(datetime.fromisoformat(local_instant).replace(tzinfo=ZoneInfo(timezone)))
    day = clock.now().astimezone(site.tz).date()
    keys = store.keys.site(site.id)
    salts = SaltBook()
    first = await salts.salt(store.redis, keys, site, day, clock.now())
    ttl_s = await store.redis.ttl(keys.salt(day))
    assert 0 < ttl_s <= 26 * 3600  # the rest of the local day and an hour: far inside 48 h
    # The salt lives through its whole local day (and an hour): ids stay stable all day ...
    end_of_day = datetime.combine(day + timedelta(days=1), datetime.min.time(), site.tz)
    assert clock.now() + timedelta(seconds=ttl_s) >= end_of_day
    # ... and the next day gets a new one, never the old one.
    clock.set(end_of_day + timedelta(seconds=1))
    second = await salts.salt(store.redis, keys, site, day + timedelta(days=1), clock.now())
    assert first != second
    assert len(first) == len(second) == 32


async def test_every_process_agrees_on_the_days_salt(
    store: Store, site: Site, clock: FakeClock
) -> None:
    keys = store.keys.site(site.id)
    day = clock.now().astimezone(site.tz).date()
    first = await SaltBook().salt(store.redis, keys, site, day, clock.now())
    second = await SaltBook().salt(store.redis, keys, site, day, clock.now())
    assert first == second
