"""Reading what the box shows: the precomputed summary (and a page's views), for many
readers at once."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from typing import Any

from redis.exceptions import RedisError

from counter.errors import StoreRestoring, StoreUnavailable, UnknownSite
from counter.figures.summary import decode_summary, empty_summary, is_stale, summary_max_age
from counter.lru import Recent, put_bounded
from counter.periods import Periods
from counter.sites import Site
from counter.storage.store import Store
from counter.urls import normalize_path

log = logging.getLogger("visitor_stats.stats")

LAST_ANSWERS = 10_000

# One read: a site, and the counted path of one of its pages (None: the site's box alone).
Wanted = tuple[Site, str | None]


async def read_stats(store: Store, site_id: str, url: str | None = None) -> dict[str, Any]:
    """What ``GET /api/stats`` answers, read now: the summary, its staleness, a page's views."""
    site = await store.sites.get(site_id)
    path = normalize_path(url, site.keep_query) if url is not None else None
    (answer,) = await read_many(store, [(site, path)])
    return answer


async def read_many(store: Store, wanted: Sequence[Wanted]) -> list[dict[str, Any]]:
    """The answers of many reads in one round trip: each site's summary once, and each site's
    pages with one HMGET of their views and one ZMSCORE of their readers online."""
    pages: dict[str, dict[str, None]] = {}  # per site, its distinct paths in order
    sites: dict[str, Site] = {}
    for site, path in wanted:
        sites[site.id] = site
        listed = pages.setdefault(site.id, {})
        if path is not None:
            listed[path] = None
    async with store.redis.pipeline(transaction=False) as pipe:
        for site_id, paths in pages.items():
            keys = store.keys.site(site_id)
            pipe.get(keys.summary)
            if paths:
                pipe.hmget(keys.page_views, list(paths))
                pipe.zmscore(keys.online_pages, list(paths))
        replies = iter(await pipe.execute())
    now = store.clock.now()
    boxes: dict[str, dict[str, Any]] = {}
    figures: dict[tuple[str, str], tuple[int, int]] = {}
    for site_id, paths in pages.items():
        boxes[site_id] = _box(store, sites[site_id], next(replies), now)
        if paths:
            views, online = next(replies), next(replies)
            for path, n, readers in zip(paths, views, online, strict=True):
                figures[site_id, path] = (int(n or 0), int(readers or 0))
    answers = []
    for site, path in wanted:
        if path is None:
            answers.append(boxes[site.id])
            continue
        page_views, page_online = figures[site.id, path]
        # Visitors online whose last pageview or heartbeat was on this page (SiteKeys.online_pages).
        answers.append({**boxes[site.id], "page_views": page_views, "page_online": page_online})
    return answers


def _box(store: Store, site: Site, raw: bytes | None, now: datetime) -> dict[str, Any]:
    summary = decode_summary(raw)
    if summary is None:
        summary = empty_summary(site, Periods.of(now, site.tz, site.first_weekday), now)
    summary.pop("date", None)
    summary["stale"] = is_stale(summary, now, summary_max_age(store.settings.aggregate_interval_s))
    return summary


class StatsReader:
    """A worker's stats reads: each answer is given again for a moment without asking the
    store, and served, marked stale, while the store does not answer.

    Under load the reads that miss those copies arrive together (a Zipf of pages: most are
    read rarely). The ones asked while the event loop runs one turn go to the store together
    as one :func:`read_many`, and readers of one page in that turn share one read: a round
    trip per request was most of a read's cost.

    A page's copy past ``stats_cache_s`` but within ``stats_stale_s`` gives its figures at
    once, with the site's box as fresh as ever, and the page is read anew in the background
    (stale-while-revalidate): the reader of a page read now and then does not wait for the
    store, and the next reader gets its new figures. The copies due in one turn are read
    together. The box alone (``url`` None: the widget, the live streams) keeps its window,
    so no pass is skipped over."""

    def __init__(self, store: Store) -> None:
        self.store = store
        # The last answer per (site, page) and when it was read.
        self._answers: Recent[tuple[str, str | None], dict[str, Any]] = Recent(LAST_ANSWERS)
        # The reads of this turn, by (site id, path), each with the answer it will get.
        self._waiting: dict[tuple[str, str | None], tuple[Wanted, asyncio.Future[Any]]] = {}
        # The stale copies to read anew at the end of this turn, and those being read anew.
        self._due: set[tuple[str, str | None]] = set()
        self._reading: set[tuple[str, str | None]] = set()
        # Per page: the fresh box and stale page copy its last stale answer was made of.
        self._composed: dict[
            tuple[str, str | None], tuple[dict[str, Any], dict[str, Any], dict[str, Any]]
        ] = {}
        self._sending: set[asyncio.Task[None]] = set()

    async def read(self, site_id: str, url: str | None = None) -> dict[str, Any]:
        """:func:`read_stats`, or the answer read less than ``stats_cache_s`` ago (never
        longer than one aggregation interval, so no pass is skipped over), or for a page read
        less than ``stats_stale_s`` ago its figures with the box, while the page is read
        anew. While the store does not answer, the last answer this process gave, marked
        ``"stale": true``; with none at hand, StoreUnavailable."""
        answer = self.at_once(site_id, url)
        if answer is not None:
            return answer
        store = self.store
        now: datetime = store.clock.now()
        # As given: "Demo.Local" and "demo.local" keep two copies of one answer, and an id
        # that is not valid is never kept (the site's lookup refuses it).
        key = (site_id, url)
        last = self._answers.get(key)
        if (
            last is not None
            and url is not None
            and 0 <= (now - last[0]).total_seconds() < store.settings.stats_stale_s
        ):
            # The page's copy stands, but the box is not at hand: it is read first.
            try:
                box = await self.read(site_id)  # the box itself is never older than a pass
            except StoreRestoring:
                raise
            except StoreUnavailable:  # and no box at hand: the page's copy, marked
                return {**last[1], "stale": True}
            return self._with_box(key, box, last[1])
        site = await store.sites.get(site_id)
        path = normalize_path(url, site.keep_query) if url is not None else None
        try:
            answer = await self._together(site, path)
        except RedisError:
            if last is None:
                raise StoreUnavailable(
                    "the store is unavailable and no earlier answer is at hand"
                ) from None
            return {**last[1], "stale": True}
        return self._keep(key, now, answer, last)

    def at_once(self, site_id: str, url: str | None = None) -> dict[str, Any] | None:
        """The answer :meth:`read` gives without waiting for the store, or None: the copy
        read less than ``stats_cache_s`` ago, or a page's copy within ``stats_stale_s`` with
        the box at hand (the page is then read anew in the background). The worker's
        protocol writes the answer itself while it can have it so (api/ready.py)."""
        key = (site_id, url)
        last = self._answers.get(key)
        if last is None:
            return None
        age = (self.store.clock.now() - last[0]).total_seconds()
        settings = self.store.settings
        if 0 <= age < min(settings.stats_cache_s, settings.aggregate_interval_s):
            return last[1]
        if url is None or not 0 <= age < settings.stats_stale_s:
            return None
        box = self.at_once(site_id)
        return None if box is None else self._with_box(key, box, last[1])

    def _with_box(
        self, key: tuple[str, str | None], box: dict[str, Any], page: dict[str, Any]
    ) -> dict[str, Any]:
        """A page's stale copy given with the box, and read anew in the background."""
        self._revalidate(key)
        return self._on_box(key, box, page)

    async def drain(self) -> None:
        """Wait for the reads under way (the background ones included)."""
        while self._sending or self._due:
            await asyncio.gather(*self._sending)
            await asyncio.sleep(0)  # the turn's reads are sent at the end of the turn

    def _keep(
        self,
        key: tuple[str, str | None],
        now: datetime,
        answer: dict[str, Any],
        last: tuple[datetime, dict[str, Any]] | None,
    ) -> dict[str, Any]:
        """Keep ``answer``, read at ``now``, as the copy of ``key``; the answer to give."""
        if answer["updated_at"] is None and last is not None and last[1]["updated_at"]:
            # The store holds no summary, yet this worker has shown one: the store lost its
            # data and the aggregator is restoring it. The figures shown must not drop to 0.
            return {**last[1], "stale": True}
        if last is not None and answer == last[1]:
            # Read anew and unchanged (most pages between two passes): the very same answer,
            # so that nothing made of it (its encoding, ETag, ready response) is made again.
            answer = last[1]
        self._answers.put(key, now, answer)
        return answer

    def _on_box(
        self, key: tuple[str, str | None], box: dict[str, Any], page: dict[str, Any]
    ) -> dict[str, Any]:
        """A page's stale figures with the site's fresh box: the very same answer while
        neither changes, so that it is encoded once (api/responses.py)."""
        made = self._composed.get(key)
        if made is not None and made[0] is box and made[1] is page:
            return made[2]
        answer = {**box, "page_views": page["page_views"], "page_online": page["page_online"]}
        if answer == page:
            # The page's copy holds this box already (no pass since it was read): the same
            # answer as while the copy was fresh, not an equal one made again.
            answer = page
        put_bounded(self._composed, key, (box, page, answer), LAST_ANSWERS)
        return answer

    def _revalidate(self, key: tuple[str, str | None]) -> None:
        """Read ``key`` anew in the background, once however many readers find it stale."""
        if key in self._due or key in self._reading:
            return
        if not self._due and not self._reading:  # else the read under way takes it after
            asyncio.get_running_loop().call_soon(self._start, self._refresh)
        self._due.add(key)

    async def _refresh(self) -> None:
        """Read the stale copies due together, one read at a time: those found stale while
        one is under way go in the next, so that under load each read takes many (a read
        for each turn's few was most of what the background cost)."""
        try:
            while self._due:
                keys, self._due = list(self._due), set()
                self._reading.update(keys)
                try:
                    store = self.store
                    read: list[tuple[tuple[str, str | None], Wanted]] = []
                    for key in keys:
                        site_id, url = key
                        try:
                            site = await store.sites.get(site_id)
                        except UnknownSite:
                            self._answers.forget(key)  # removed: its readers get the 404 now
                            continue
                        path = normalize_path(url, site.keep_query) if url is not None else None
                        read.append((key, (site, path)))
                    now = store.clock.now()
                    answers = await read_many(store, [wanted for _, wanted in read])
                except (RedisError, StoreUnavailable):
                    # The copies age on; a reader past stats_stale_s reads (and is told) itself.
                    return
                except Exception:  # no reader waits for it: said, and let go
                    log.warning("reading stale stats copies anew failed", exc_info=True)
                    return
                finally:
                    self._reading.difference_update(keys)
                for (key, _), answer in zip(read, answers, strict=True):
                    self._keep(key, now, answer, self._answers.get(key))
        finally:
            # However it ended, none is left waiting for a read that will not come: the next
            # reader to find its copy stale starts one.
            self._due.clear()

    async def _together(self, site: Site, path: str | None) -> dict[str, Any]:
        """This read's answer, from the one read of this turn's misses."""
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._flush)
        waiting = self._waiting.get((site.id, path))
        if waiting is None:
            waiting = ((site, path), loop.create_future())
            # Marked seen: if every reader left, a store error here is no one's to raise.
            waiting[1].add_done_callback(_seen)
            self._waiting[site.id, path] = waiting
        # Shielded: a reader who leaves (its client went away) must not cancel the others'.
        answer: dict[str, Any] = await asyncio.shield(waiting[1])
        return answer

    def _flush(self) -> None:
        batch = list(self._waiting.values())
        self._waiting = {}
        self._start(lambda: self._send(batch))

    def _start(self, work: Callable[[], Coroutine[Any, Any, None]]) -> None:
        task = asyncio.ensure_future(work())
        self._sending.add(task)  # held until done: the loop keeps only weak references
        task.add_done_callback(self._sending.discard)

    async def _send(self, batch: list[tuple[Wanted, asyncio.Future[Any]]]) -> None:
        try:
            answers = await read_many(self.store, [wanted for wanted, _ in batch])
        except Exception as exc:  # noqa: BLE001 - handed to every reader of the batch
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), answer in zip(batch, answers, strict=True):
            if not future.done():
                future.set_result(answer)


def _seen(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()
