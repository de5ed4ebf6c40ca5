"""Which user agents are bots. ``crawlerdetect`` costs ~0.4 ms a call, so verdicts are cached."""

from __future__ import annotations

from functools import lru_cache

from crawlerdetect import CrawlerDetect

_DETECTOR = CrawlerDetect()
# Automation that crawlerdetect's list does not name, matched case-insensitively.
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
    return bool(_DETECTOR.isCrawler(ua))
