from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.errors import InvalidInput, OriginRejected, UnknownSite
from counter.figures.stats import read_stats
from counter.keys import validate_site_id
from counter.record.hit import Event
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import BROWSER_A, BROWSER_B, GOOGLEBOT, hit


async def _day_row(store: Store, site: Site, field: str) -> dict[str, int]:
    keys = store.keys.site(site.id)
    key = {"pageviews": keys.pageviews_by_day, "visits": keys.visits_by_day}[field]
    raw = await store.redis.hgetall(key)
    return {k.decode(): int(v) for k, v in raw.items()}


async def test_three_pageviews_of_one_browser_are_one_visit(
    store: Store, recorder: Recorder, site: Site
) -> None:
    for _ in range(3):
        await hit(recorder, "/a")
    assert await _day_row(store, site, "visits") == {"2026-11-25": 1}
    assert await _day_row(store, site, "pageviews") == {"2026-11-25": 3}


async def test_visit_counted_again_after_session_timeout(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder)
    clock.advance(minutes=29)
    await hit(recorder)
    clock.advance(minutes=31)
    await hit(recorder)
    assert await _day_row(store, site, "visits") == {"2026-11-25": 2}


async def test_online_counts_visitors_within_the_window(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder, ua=BROWSER_A)
    clock.advance(minutes=4)
    result = await hit(recorder, ua=BROWSER_B)
    assert result.box["online"] == 2
    clock.advance(minutes=2)  # A was last seen 6 minutes ago: gone; a heartbeat keeps B
    result = await hit(recorder, ua=BROWSER_B, event=Event.heartbeat)
    assert result.box["online"] == 1


async def test_heartbeat_keeps_presence_but_counts_no_pageview(
    store: Store, recorder: Recorder, site: Site
) -> None:
    await hit(recorder, event=Event.heartbeat)
    assert await _day_row(store, site, "pageviews") == {}


async def test_pageview_answers_its_page_views_and_live_today(
    store: Store, recorder: Recorder, site: Site
) -> None:
    await hit(recorder, "/a", ua=BROWSER_A)
    await hit(recorder, "/b", ua=BROWSER_B)
    result = await hit(recorder, "https://demo.local/a#comments", ua=BROWSER_A)
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
async def test_bots_are_excluded_by_reason_not_counted(
    store: Store, recorder: Recorder, site: Site, ua: str
) -> None:
    result = await hit(recorder, ua=ua)
    assert not result.counted
    assert result.excluded == "bot"
    assert await _day_row(store, site, "pageviews") == {}
    excluded = await store.redis.hgetall(
        store.keys.site(site.id).excluded(store.clock.now().astimezone(site.tz).date())
    )
    assert excluded == {b"bot": b"1"}


async def test_vietnamese_browsers_are_counted(
    store: Store, recorder: Recorder, site: Site
) -> None:
    coc_coc = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) coc_coc_browser/117.0.0 Chrome/111.0.0.0 Safari/537.36"
    zalo = "Mozilla/5.0 (Linux; Android 13; SM-A525F Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/120.0.6099.230 Mobile Safari/537.36 Zalo android/12100734 ZaloTheme/light ZaloLanguage/vi"
    for n, ua in enumerate((coc_coc, zalo)):
        result = await hit(recorder, ua=ua, ip=f"198.51.100.{n + 10}")
        assert result.counted, ua
    assert await _day_row(store, site, "visits") == {"2026-11-25": 2}


async def test_prefetch_is_excluded(store: Store, recorder: Recorder, site: Site) -> None:
    result = await hit(recorder, purpose="prefetch;prerender")
    assert result.excluded == "prefetch"
    assert await _day_row(store, site, "pageviews") == {}


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "", "not a url", "https://demo.local.evil.example"]
)
async def test_foreign_origin_is_rejected_and_counted_as_such(
    store: Store, recorder: Recorder, site: Site, origin: str
) -> None:
    with pytest.raises(OriginRejected):
        await hit(recorder, origin=origin)
    assert await _day_row(store, site, "pageviews") == {}
    excluded = await store.redis.hgetall(
        store.keys.site(site.id).excluded(store.clock.now().astimezone(site.tz).date())
    )
    assert excluded == {b"origin_rejected": b"1"}


async def test_subdomain_admitted_by_wildcard_domain(
    store: Store, recorder: Recorder, site: Site
) -> None:
    assert (await hit(recorder, origin="https://www.demo.local")).counted


async def test_unknown_site_raises(store: Store, recorder: Recorder, site: Site) -> None:
    with pytest.raises(UnknownSite):
        await hit(recorder, site="other.local")


async def test_page_views_are_per_normalised_path(
    store: Store, recorder: Recorder, site: Site
) -> None:
    for url in (
        "https://DEMO.local/tin-tuc/index.html",
        "/tin-tuc/#top",
        "https://demo.local/tin-tuc/?utm_source=zalo",
    ):
        await hit(recorder, url)
    views = await store.redis.hgetall(store.keys.site(site.id).page_views)
    assert views == {b"/tin-tuc/": b"3"}


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "relative/path", "/a\r\nSet-Cookie: x", "/" + "a" * 5000]
)
async def test_bad_urls_are_refused(store: Store, recorder: Recorder, site: Site, url: str) -> None:
    with pytest.raises(InvalidInput):
        await hit(recorder, url)


@pytest.mark.parametrize(
    "raw", ["demo{x}", "a b", "tab\there", "", "x:y", "{demo}", "é.vn", "a" * 101]
)
def test_site_id_that_could_break_a_key_is_refused(raw: str) -> None:
    with pytest.raises(InvalidInput):
        validate_site_id(raw)


async def test_neither_ip_nor_user_agent_is_stored(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    ip, ua = "198.51.100.77", "Mozilla/5.0 UniqueAgent/9.9 (X11; Linux x86_64)"
    await hit(recorder, ip=ip, ua=ua)
    clock.advance(timedelta(days=1))
    await hit(recorder, ip=ip, ua=ua)
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
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder)
    clock.advance(timedelta(days=1))
    await hit(recorder)
    keys = store.keys.site(site.id)
    day1 = await store.redis.zrange(keys.last_seen, 0, -1)
    assert len(day1) == 2  # two ids: the salt rotated, so the days cannot be linked
    ttl = await store.redis.ttl(keys.salt(clock.now().astimezone(site.tz).date()))
    assert 0 < ttl <= 25 * 3600 + 3600


def _excluded_today(store: Store, site: Site) -> object:
    return store.redis.hgetall(
        store.keys.site(site.id).excluded(store.clock.now().astimezone(site.tz).date())
    )


async def test_visitor_over_the_cap_is_acknowledged_not_counted(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))  # the start of a minute: one fixed window
    results = [await hit(recorder, "/a") for _ in range(40)]
    assert [r.counted for r in results] == [True] * 30 + [False] * 10
    assert {r.excluded for r in results[30:]} == {"rate_limited"}
    # Answered as if counted (issue 12: a flood must not see the cap), stored as they stand.
    assert [r.box["page_views"] for r in results[29:]] == list(range(30, 41))
    assert int(await store.redis.hget(store.keys.site(site.id).page_views, "/a")) == 30
    assert await _day_row(store, site, "pageviews") == {"2026-11-25": 30}
    assert await _excluded_today(store, site) == {b"rate_limited": b"10"}
    clock.advance(minutes=1)  # a new window
    assert (await hit(recorder, "/a")).counted


async def test_rotating_user_agents_from_one_address_meet_the_address_cap(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    store.settings.rate_per_address_per_min = 50
    results = [await hit(recorder, ua=f"{BROWSER_A} r{n}", ip="198.51.100.9") for n in range(60)]
    assert sum(r.counted for r in results) == 50
    # ... and no presence either: "online" cannot be inflated by made-up agents.
    assert await store.redis.zcard(store.keys.site(site.id).last_seen) == 50
    other = await hit(recorder, ua=f"{BROWSER_A} r0", ip="198.51.100.10")
    assert other.counted


async def test_ipv6_addresses_share_the_cap_of_their_64_network(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    store.settings.rate_per_address_per_min = 5
    results = [await hit(recorder, ip=f"2001:db8:1:2::{n:x}") for n in range(1, 8)]
    assert sum(r.counted for r in results) == 5
    assert (await hit(recorder, ip="2001:db8:1:3::1")).counted


async def test_site_ceiling_stops_a_distributed_flood(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    store.settings.rate_per_site_per_min = 20
    results = [await hit(recorder, ip=f"198.51.100.{n}") for n in range(25)]
    assert sum(r.counted for r in results) == 20
    assert await _excluded_today(store, site) == {b"rate_limited": b"5"}
    clock.advance(minutes=1)
    assert (await hit(recorder, ip="198.51.100.99")).counted


async def test_caps_of_zero_switch_the_limits_off(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    store.settings.rate_per_visitor_per_min = 0
    store.settings.rate_per_address_per_min = 0
    store.settings.rate_per_site_per_min = 0
    store.settings.rate_visitors_per_address_per_min = 0
    store.settings.rate_per_page_per_address_per_min = 0
    store.settings.rate_new_pages_per_address_per_min = 0
    results = [await hit(recorder) for _ in range(50)]
    assert all(r.counted for r in results)
    assert not [k async for k in store.redis.scan_iter(match=f"{store.keys.prefix}:*:rate:*")]


async def test_heartbeats_do_not_use_up_the_pageview_cap(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    clock.set(clock.now().replace(second=0))
    for _ in range(40):
        await hit(recorder, event=Event.heartbeat)
    assert (await hit(recorder)).counted


async def test_rate_key_expires_by_itself(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    await hit(recorder)
    minute = int(clock.now().timestamp()) // 60
    ttl = await store.redis.ttl(store.keys.site(site.id).rate(minute))
    assert 60 <= ttl <= 120


async def test_opted_out_visitor_is_excluded_as_opt_out(
    store: Store, recorder: Recorder, site: Site
) -> None:
    result = await hit(recorder, opt_out=True)
    assert (result.counted, result.excluded) == (False, "opt_out")
    assert await _day_row(store, site, "pageviews") == {}
    assert await store.redis.zcard(store.keys.site(site.id).last_seen) == 0
    assert await _excluded_today(store, site) == {b"opt_out": b"1"}


@pytest.mark.parametrize(
    ("referrer", "spam"),
    [
        ("https://semalt.com/", True),
        ("http://www.semalt.com/crawler?x=1", True),
        ("https://SEO.Darodar.com./", True),
        ("https://buttons-for-website.com", True),
        ("https://www.google.com/", False),
        ("https://notsemalt.com/", False),
        ("https://semalt.com.vn/", False),
        ("https://zalo.me/", False),
        ("not a url", False),
        ("", False),
    ],
)
async def test_referrer_spam_is_excluded_as_spam(
    store: Store, recorder: Recorder, site: Site, referrer: str, spam: bool
) -> None:
    result = await hit(recorder, referrer=referrer)
    assert result.counted is not spam
    assert result.excluded == ("spam" if spam else None)


async def test_every_outcome_is_observed(store: Store, site: Site, clock: FakeClock) -> None:
    seen: list[tuple[str | None, str]] = []
    recorder = Recorder(store, on_outcome=lambda site_id, outcome: seen.append((site_id, outcome)))
    store.settings.rate_per_visitor_per_min = 1
    await hit(recorder)
    await hit(recorder)
    await hit(recorder, ua=GOOGLEBOT)
    await hit(recorder, purpose="prefetch")
    with pytest.raises(OriginRejected):
        await hit(recorder, origin="https://evil.example")
    with pytest.raises(InvalidInput):
        await hit(recorder, url="javascript:x")
    with pytest.raises(UnknownSite):
        await hit(recorder, site="nope.local")
    assert [o for _, o in seen] == [
        "counted",
        "rate_limited",
        "bot",
        "prefetch",
        "origin_rejected",
        "invalid",
        "unknown_site",
    ]


async def test_exclusions_by_reason_reach_the_summary(
    store: Store, recorder: Recorder, site: Site, clock: FakeClock
) -> None:
    store.settings.rate_per_visitor_per_min = 1
    await hit(recorder)
    await hit(recorder)
    await hit(recorder, ua="")
    await hit(recorder, ip="198.51.100.2", ua=BROWSER_B, opt_out=True)
    await run_pass(store, clock.now())
    summary = await read_stats(store, "demo.local")
    assert summary["excluded"] == {
        "bot": 1,
        "prefetch": 0,
        "rate_limited": 1,
        "origin_rejected": 0,
        "invalid": 0,
        "spam": 0,
        "opt_out": 1,
    }


async def test_hits_recorded_together_each_get_their_own_answer(
    store: Store, recorder: Recorder, site: Site
) -> None:
    results = await asyncio.gather(
        *(hit(recorder, "/shared", ua=f"{BROWSER_A} n{i}") for i in range(25)),
        *(hit(recorder, f"/own{i}", ua=f"{BROWSER_B} n{i}") for i in range(5)),
    )
    assert all(r.counted for r in results)
    # Each hit saw the page's views as its own script left them: 1..25 on the shared page.
    assert sorted(r.box["page_views"] for r in results[:25]) == list(range(1, 26))
    assert [r.box["page_views"] for r in results[25:]] == [1] * 5
    assert await _day_row(store, site, "visits") == {"2026-11-25": 30}


async def test_a_hit_is_counted_after_the_store_forgot_its_scripts(
    store: Store, recorder: Recorder, site: Site
) -> None:
    assert (await hit(recorder, "/a")).counted
    await store.redis.script_flush()  # as after a restart: the script cache is empty
    together = await asyncio.gather(
        hit(recorder, "/a", ua=BROWSER_B), hit(recorder, "/a", ua=GOOGLEBOT)
    )
    assert together[0].counted and together[0].box["page_views"] == 2
    assert together[1].excluded is not None
    assert await _day_row(store, site, "pageviews") == {"2026-11-25": 2}
