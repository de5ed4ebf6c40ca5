from __future__ import annotations

from datetime import timedelta

import pytest

from counter.clock import FakeClock
from counter.errors import InvalidInput, OriginRejected, UnknownSite
from counter.hits import Event
from counter.keys import validate_site_id
from counter.sites import Site
from counter.store import Store
from tests.helpers import BROWSER_A, BROWSER_B, GOOGLEBOT, hit


async def _day_row(store: Store, site: Site, field: str) -> dict[str, int]:
    keys = store.keys.site(site.id)
    key = {"pageviews": keys.pageviews_by_day, "visits": keys.visits_by_day}[field]
    raw = await store.redis.hgetall(key)
    return {k.decode(): int(v) for k, v in raw.items()}


async def test_three_pageviews_of_one_browser_are_one_visit(store: Store, site: Site) -> None:
    for _ in range(3):
        await hit(store, "/a")
    assert await _day_row(store, site, "visits") == {"2026-11-25": 1}
    assert await _day_row(store, site, "pageviews") == {"2026-11-25": 3}


async def test_visit_counted_again_after_session_timeout(
    store: Store, site: Site, clock: FakeClock
) -> None:
    await hit(store)
    clock.advance(minutes=29)
    await hit(store)
    clock.advance(minutes=31)
    await hit(store)
    assert await _day_row(store, site, "visits") == {"2026-11-25": 2}


async def test_online_counts_visitors_within_the_window(
    store: Store, site: Site, clock: FakeClock
) -> None:
    await hit(store, ua=BROWSER_A)
    clock.advance(minutes=4)
    result = await hit(store, ua=BROWSER_B)
    assert result.box["online"] == 2
    clock.advance(minutes=2)  # A was last seen 6 minutes ago: gone; a heartbeat keeps B
    result = await hit(store, ua=BROWSER_B, event=Event.heartbeat)
    assert result.box["online"] == 1


async def test_heartbeat_keeps_presence_but_counts_no_pageview(store: Store, site: Site) -> None:
    await hit(store, event=Event.heartbeat)
    assert await _day_row(store, site, "pageviews") == {}


async def test_pageview_answers_its_page_views_and_live_today(store: Store, site: Site) -> None:
    await hit(store, "/a", ua=BROWSER_A)
    await hit(store, "/b", ua=BROWSER_B)
    result = await hit(store, "https://demo.local/a#comments", ua=BROWSER_A)
    assert result.counted
    assert result.box["page_views"] == 2
    assert result.box["today"] == 2  # visits, before any aggregation pass
    assert result.box["online"] == 2


@pytest.mark.parametrize(
    "ua",
    [
        GOOGLEBOT,
        "",
        "Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    ],
)
async def test_bots_are_excluded_by_reason_not_counted(store: Store, site: Site, ua: str) -> None:
    result = await hit(store, ua=ua)
    assert not result.counted
    assert result.excluded == "bot"
    assert await _day_row(store, site, "pageviews") == {}
    excluded = await store.redis.hgetall(
        store.keys.site(site.id).excluded(store.clock.now().astimezone(site.tz).date())
    )
    assert excluded == {b"bot": b"1"}


async def test_vietnamese_browsers_are_counted(store: Store, site: Site) -> None:
    coc_coc = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/117.0.0 Chrome/111.0.0.0 Safari/537.36"
    zalo = "Mozilla/5.0 (Linux; Android 13; SM-A525F Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 Zalo android/12100734 ZaloTheme/light ZaloLanguage/vi"
    for n, ua in enumerate((coc_coc, zalo)):
        result = await hit(store, ua=ua, ip=f"198.51.100.{n + 10}")
        assert result.counted, ua
    assert await _day_row(store, site, "visits") == {"2026-11-25": 2}


async def test_prefetch_is_excluded(store: Store, site: Site) -> None:
    result = await hit(store, purpose="prefetch;prerender")
    assert result.excluded == "prefetch"
    assert await _day_row(store, site, "pageviews") == {}


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "", "not a url", "https://demo.local.evil.example"]
)
async def test_foreign_origin_is_rejected_and_counted_as_such(
    store: Store, site: Site, origin: str
) -> None:
    with pytest.raises(OriginRejected):
        await hit(store, origin=origin)
    assert await _day_row(store, site, "pageviews") == {}
    excluded = await store.redis.hgetall(
        store.keys.site(site.id).excluded(store.clock.now().astimezone(site.tz).date())
    )
    assert excluded == {b"origin_rejected": b"1"}


async def test_subdomain_admitted_by_wildcard_domain(store: Store, site: Site) -> None:
    assert (await hit(store, origin="https://www.demo.local")).counted


async def test_unknown_site_raises(store: Store, site: Site) -> None:
    with pytest.raises(UnknownSite):
        await hit(store, site="other.local")


async def test_page_views_are_per_normalised_path(store: Store, site: Site) -> None:
    for url in (
        "https://DEMO.local/tin-tuc/index.html",
        "/tin-tuc/#top",
        "https://demo.local/tin-tuc/?utm_source=zalo",
    ):
        await hit(store, url)
    views = await store.redis.hgetall(store.keys.site(site.id).page_views)
    assert views == {b"/tin-tuc/": b"3"}


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "relative/path", "/a\r\nSet-Cookie: x", "/" + "a" * 5000]
)
async def test_bad_urls_are_refused(store: Store, site: Site, url: str) -> None:
    with pytest.raises(InvalidInput):
        await hit(store, url)


@pytest.mark.parametrize(
    "raw", ["demo{x}", "a b", "tab\there", "", "x:y", "{demo}", "é.vn", "a" * 101]
)
def test_site_id_that_could_break_a_key_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        validate_site_id(raw)


async def test_neither_ip_nor_user_agent_is_stored(
    store: Store, site: Site, clock: FakeClock
) -> None:
    ip, ua = "198.51.100.77", "Mozilla/5.0 UniqueAgent/9.9 (X11; Linux x86_64)"
    await hit(store, ip=ip, ua=ua)
    clock.advance(timedelta(days=1))
    await hit(store, ip=ip, ua=ua)
    needles = (ip.encode(), b"UniqueAgent")
    async for key in store.redis.scan_iter(match=f"{store.keys.prefix}:*"):
        assert not any(n in key for n in needles)
        kind = (await store.redis.type(key)).decode()
        if kind == "hash":
            blob = b"".join(k + v for k, v in (await store.redis.hgetall(key)).items())
        elif kind == "zset":
            blob = b"".join(m for m, _ in await store.redis.zrange(key, 0, -1, withscores=True))
        elif kind == "set":
            blob = b"".join(await store.redis.smembers(key))
        else:
            blob = await store.redis.dump(key) or b""
        assert not any(n in blob for n in needles), key


async def test_same_browser_is_a_new_visitor_on_a_new_salt_day(
    store: Store, site: Site, clock: FakeClock
) -> None:
    await hit(store)
    clock.advance(timedelta(days=1))
    await hit(store)
    keys = store.keys.site(site.id)
    day1 = await store.redis.zrange(keys.last_seen, 0, -1)
    assert len(day1) == 2  # two ids: the salt rotated, so the days cannot be linked
    ttl = await store.redis.ttl(keys.salt(clock.now().astimezone(site.tz).date()))
    assert 0 < ttl <= 25 * 3600 + 3600
