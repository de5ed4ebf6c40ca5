"""Bots out, browsers in: a maintained crawler list's fixtures against real browser agents.

Crawlers: every example agent (``instances``) of the crawler-user-agents package, the list
monperrus/crawler-user-agents maintains, plus an empty agent, headless automation and the
Vietnamese crawlers. Browsers: ``data/browsers.txt`` (real-world agents) and
``data/browsers-vn.txt`` (Cốc Cốc, Zalo, Facebook, Messenger, TikTok, ...).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import crawleruseragents  # type: ignore[import-untyped]
import httpx
import pytest
from crawlerdetect import CrawlerDetect

from counter.record.bots import is_bot
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
from tests.helpers import hit

DATA = Path(__file__).parent / "data"
EXTRA_BOTS = [
    "",
    "   ",
    "Mozilla/5.0 (compatible; coccocbot-web/1.0; +http://help.coccoc.com/searchengine)",
    "Mozilla/5.0 (compatible; coccocbot-image/1.0; +http://help.coccoc.com/searchengine)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Unknown; Linux x86_64) AppleWebKit/538.1 (KHTML, like Gecko) PhantomJS/2.1.1 Safari/538.1",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "python-requests/2.32.3",
    "curl/8.5.0",
]


def read_agents(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def crawler_corpus() -> list[str]:
    instances = {
        agent
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        for agent in entry["instances"]
    }
    return sorted(instances) + EXTRA_BOTS


BROWSERS = read_agents("browsers.txt")
VIETNAMESE = read_agents("browsers-vn.txt")


def test_corpora_are_large_enough_to_measure_the_rates() -> None:
    assert len(crawler_corpus()) > 2000
    assert len(BROWSERS) + len(VIETNAMESE) > 800
    assert len(VIETNAMESE) >= 30


def test_at_least_99_percent_of_crawlers_are_bots() -> None:
    corpus = crawler_corpus()
    missed = [agent for agent in corpus if not is_bot(agent)]
    detector = CrawlerDetect()
    alone = sum(bool(detector.isCrawler(a)) for a in corpus if a.strip())
    print(
        f"crawlers: {len(corpus)}, excluded {len(corpus) - len(missed)} "
        f"({1 - len(missed) / len(corpus):.2%}); crawlerdetect alone {alone / len(corpus):.2%}"
    )
    assert len(missed) <= 0.01 * len(corpus), missed[:20]


def test_at_most_a_thousandth_of_real_browsers_are_dropped() -> None:
    corpus = BROWSERS + VIETNAMESE
    dropped = [agent for agent in corpus if is_bot(agent)]
    print(f"browsers: {len(corpus)}, dropped {len(dropped)} ({len(dropped) / len(corpus):.3%})")
    assert len(dropped) <= 0.001 * len(corpus), dropped


@pytest.mark.parametrize("agent", VIETNAMESE, ids=range(len(VIETNAMESE)))
def test_vietnamese_and_in_app_browsers_are_people(agent: str) -> None:
    assert not is_bot(agent)


async def test_crawlers_posted_to_the_app_count_as_none(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    corpus = crawler_corpus()
    for start in range(0, len(corpus), 100):
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/hit",
                    json={"site": "demo.local", "url": "/a"},
                    headers={"Origin": "https://demo.local", "User-Agent": agent},
                )
                for agent in corpus[start : start + 100]
            )
        )
        assert {a.status_code for a in answers} == {200}
    keys = store.keys.site(site.id)
    assert await store.redis.hget(keys.totals, "pageviews") is None
    excluded = await store.redis.hgetall(
        keys.excluded(store.clock.now().astimezone(site.tz).date())
    )
    assert excluded == {b"bot": str(len(corpus)).encode()}


async def test_real_browsers_are_each_counted_once(
    store: Store, recorder: Recorder, site: Site
) -> None:
    corpus = BROWSERS + VIETNAMESE
    results = []
    for start in range(0, len(corpus), 100):  # bursts within the client's connection pool
        results += await asyncio.gather(
            *(
                hit(recorder, ua=agent, ip=f"10.0.{n // 256}.{n % 256}")
                for n, agent in enumerate(corpus[start : start + 100], start)
            )
        )
    assert sum(r.counted for r in results) == len(corpus)
    keys = store.keys.site(site.id)
    assert int(await store.redis.hget(keys.totals, "visits") or 0) == len(corpus)
