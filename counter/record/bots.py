"""Which user agents are bots: two maintained lists, empty agents and headless markers.

``crawlerdetect`` (JayBizzle's Crawler-Detect patterns) and ``crawler-user-agents``
(monperrus/crawler-user-agents, the list many analytics tools share) each miss crawlers the
other names; a hit is a bot when either matches. Each costs ~0.1 ms a call, so verdicts are
cached per user agent in a bounded LRU.
"""

from __future__ import annotations

from functools import lru_cache

import crawleruseragents  # type: ignore[import-untyped]
from crawlerdetect import CrawlerDetect

_DETECTOR = CrawlerDetect()
# Automation that neither list names, matched case-insensitively.
_HEADLESS_MARKERS = ("headlesschrome", "phantomjs", "puppeteer", "playwright", "selenium")


@lru_cache(maxsize=8192)
def is_bot(user_agent: str) -> bool:
    """True for crawlers, headless automation and empty user agents."""
    ua = user_agent.strip()
    if not ua:
        return True
    lowered = ua.lower()
    if any(marker in lowered for marker in _HEADLESS_MARKERS):
        return True
    return bool(_DETECTOR.isCrawler(ua)) or bool(crawleruseragents.is_crawler(ua))
