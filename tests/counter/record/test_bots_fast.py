"""The fast verdict (Hyperscan) gives the slow reference's verdict, and the reference is the
two libraries' own verdict.

Compared on every corpus (the whole crawler-user-agents list with its examples, the clients,
the real browsers) and on agents made by Hypothesis from the tokens the patterns care about.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import crawleruseragents  # type: ignore[import-untyped]
import pytest
from crawlerdetect import CrawlerDetect
from hypothesis import given, settings
from hypothesis import strategies as st

from counter.record.botrules import BotRules, Corrections, bot_rules
from counter.record.bots import BotFilter, default_filter
from tests.counter.record.corpora import browsers, crawler_user_agents_instances, crawlers

RULES = bot_rules()
FAST = default_filter()
UNCORRECTED = bot_rules(Corrections())

# Pieces of agents: browser tokens crawlerdetect cuts out, bits of crawler names, separators.
TOKENS = [
    "Mozilla/5.0 ",
    "(",
    ")",
    "; ",
    " ",
    "/",
    ".",
    "1",
    "537.36",
    "_",
    "Windows NT 10.0",
    "Win64",
    "x64",
    "X11",
    "Linux",
    "Android 14",
    "Build/",
    "AppleWebKit/537.36",
    "KHTML, like Gecko",
    "like ",
    "Gecko",
    "Gecko/20100101",
    "Chrome/131.0.0.0",
    " Chrome",
    "Safari/537.36",
    "Mobile",
    "Version/4.0",
    "CPU iPhone OS 17_5 like Mac OS X",
    "Mac OS X",
    "Macintosh;",
    "Intel",
    "rv:133.0",
    "Firefox/133.0",
    "Opera",
    "Opera Mini/7.1.32/12.",
    "compatible",
    "bot",
    "Bot",
    "spider",
    "crawl",
    "Yandex",
    "Search",
    "YandexSearch",
    "cubot",
    "; M bot",
    "Dalvik/2.1.0",
    "curl/",
    "python-requests/",
    "Google",
    "facebookexternalhit/",
    "Ruby",
    "Java/",
    "x86_64",
    "i686",
    "WOW64",
    "Zalo",
    "Viber",
    "HeadlessChrome",
    "k",
]
agents_from_tokens = st.lists(st.sampled_from(TOKENS), max_size=14).map("".join)


def fast_is_bot(agent: str) -> bool:
    return FAST.is_bot(agent)


@pytest.mark.parametrize(
    "corpus", [crawler_user_agents_instances, crawlers, browsers], ids=lambda c: c.__name__
)
def test_fast_verdict_equals_the_reference_on_every_corpus(
    corpus: Callable[[], tuple[str, ...]],
) -> None:
    agents = corpus()
    differ = [a for a in agents if fast_is_bot(a) != RULES.reference_is_bot(a)]
    assert differ == []


@settings(max_examples=1500, deadline=None)
@given(agents_from_tokens)
def test_fast_verdict_equals_the_reference_on_made_up_agents(agent: str) -> None:
    assert fast_is_bot(agent) == RULES.reference_is_bot(agent)


@settings(max_examples=1500, deadline=None)
@given(agents_from_tokens)
def test_browser_tokens_are_cut_as_re_sub_cuts_them(agent: str) -> None:
    assert FAST._cutter.cut(agent) == RULES.exclusions_re.sub("", agent)


def test_browser_tokens_of_every_corpus_are_cut_as_re_sub_cuts_them() -> None:
    agents = [a for a in browsers() + crawlers() if a.isascii()]
    assert [a for a in agents if FAST._cutter.cut(a) != RULES.exclusions_re.sub("", a)] == []


def test_the_reference_without_corrections_is_the_two_libraries() -> None:
    detector = CrawlerDetect()
    for agent in crawler_user_agents_instances() + browsers():
        libraries = bool(detector.is_crawler(agent)) or bool(crawleruseragents.is_crawler(agent))
        assert UNCORRECTED.reference_is_bot(agent) == libraries, agent


def test_a_look_ahead_pattern_is_confirmed_not_just_prefiltered() -> None:
    # crawlerdetect's Yandex(?!Search): Hyperscan cannot compile the look-ahead exactly.
    assert "Yandex(?!Search)" in RULES.after_exclusions
    assert fast_is_bot("Yandex/1.0")
    assert not fast_is_bot("YandexSearch/1.0")
    assert not RULES.reference_is_bot("YandexSearch/1.0")


def test_an_agent_that_is_not_ascii_gets_the_reference_verdict() -> None:
    # re folds Unicode case (the Kelvin sign K is k), Hyperscan only ASCII: no such agent is
    # scanned by it.
    agent = "Mozilla/5.0 (compatible; \u212a12bot)"
    assert fast_is_bot(agent) == RULES.reference_is_bot(agent)
    assert fast_is_bot("Mozilla/5.0 (Linux; Android 14) Cốc Cốc/1.0") is False


def test_blank_agents_are_bots() -> None:
    assert fast_is_bot("")
    assert fast_is_bot(" \t ")


def test_a_filter_built_from_other_rules_follows_them() -> None:
    rules = BotRules(case_sensitive=("Zalo",), caseless=(), exclusions=(), after_exclusions=())
    mine = BotFilter(rules)
    assert mine.is_bot("Mozilla/5.0 Zalo iOS/24.6.1")
    assert not mine.is_bot("Mozilla/5.0 zalo iOS/24.6.1")  # case-sensitive, as that list is
    assert not mine.is_bot("Mozilla/5.0 (compatible; Googlebot/2.1)")


def test_threads_scan_with_their_own_scratch_space() -> None:
    agents = list(browsers()[:300] + crawlers()[:300])
    expected = [RULES.reference_is_bot(a) for a in agents]
    results: dict[int, list[bool]] = {}

    def work(n: int) -> None:
        results[n] = [fast_is_bot(a) for a in agents]

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(results[n] == expected for n in range(4))


@pytest.mark.parametrize("agent", [" Chromelike Gecko", "Mozilla/5.0 Chromelike Gecko/20100101"])
def test_a_token_hidden_by_an_overlapping_match_is_still_cut(agent: str) -> None:
    """Found by the property above: ' Chromel' is cut first, and 'like Gecko', which overlaps
    it, hid its pattern's own later match 'Gecko' from the compiled scan."""
    assert FAST._cutter.cut(agent) == RULES.exclusions_re.sub("", agent)
