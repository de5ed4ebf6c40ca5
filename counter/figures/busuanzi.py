"""The numbers Busuanzi's callers expect (``api/routes/busuanzi.py``): ``site_pv`` the site's
pageviews all time, ``site_uv`` its visitors all time, ``page_pv`` the page's views; and which
site a page is of when the call names none (the original's call carries only the Referer)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from redis.exceptions import RedisError

from counter.clock import Clock
from counter.errors import InvalidInput
from counter.figures.stats import StatsReader
from counter.sites import SITE_CACHE_TTL, Site, SiteRegistry


class SitesByHost:
    """Which configured site a page's host belongs to (the site whose domains include it), for
    the Busuanzi call that names no site: the themes call ``/busuanzi?jsonpCallback=…`` with
    only a Referer. The sites are re-read from the registry at most every SITE_CACHE_TTL, as
    the hit path's SiteCache does, so a call costs no extra round trip most of the time."""

    def __init__(self, registry: SiteRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self._sites: list[Site] = []
        self._read_at: datetime | None = None

    async def site_of(self, *pages: str | None) -> str:
        """The id of the site of the first of ``pages`` (``url``, then the Referer) that is a
        URL with a host; InvalidInput saying why when there is none, or no site has its host.
        A domain named exactly wins over a ``*.`` one; among equals, the lowest site id."""
        host = ""
        for page in pages:
            try:
                host = (urlsplit(page or "").hostname or "").rstrip(".")
            except ValueError:
                continue
            if host:
                break
        if not host:
            raise InvalidInput("site is required when neither url nor the Referer has a host")
        now = self._clock.now()
        if self._read_at is None or now - self._read_at > SITE_CACHE_TTL:
            self._sites = sorted(await self._registry.all(), key=lambda s: s.id)
            self._read_at = now
        exact = [s for s in self._sites if host in s.domains]
        matched = exact or [s for s in self._sites if s.allows_host(host)]
        if not matched:
            raise InvalidInput(
                f"no site has the domain {host!r}: give site=, or add the domain to the site "
                "(`visitor-stats sites add`)"
            )
        return matched[0].id


# What the original's answers say; themes never read it, some scripts log it.
VERSION = 2.4


async def busuanzi_numbers(
    reader: StatsReader, site_id: str, url: str | None, page_views: int | None = None
) -> dict[str, int | float]:
    """``page_views``: the page's views as the hit just counted answered them; None reads them.

    site_pv is read live (the totals and their offset, one round trip): the summary is of the
    last pass, and a reader whose own pageview is missing from the figure beside it would see
    the count stand still. Visitors are an estimate of the pass anyway; the summary's stays."""
    stats = await reader.read(site_id, url if page_views is None else None)
    site_pv = int(stats["pageviews"]["total"])
    store = reader.store
    keys = store.keys.site((await store.sites.get(site_id)).id)
    try:
        async with store.redis.pipeline(transaction=False) as pipe:
            pipe.hget(keys.totals, "pageviews")
            pipe.hget(keys.offsets, "pageviews")
            counted, offset = await pipe.execute()
        site_pv = max(site_pv, int(counted or 0) + int(offset or 0))
    except RedisError:
        pass  # the store is away: the last summary (marked stale by the reader) stands
    return {
        "site_pv": site_pv,
        "site_uv": int(stats["visitors"]["total"]),
        "page_pv": int(stats.get("page_views", 0)) if page_views is None else page_views,
        "version": VERSION,
    }
