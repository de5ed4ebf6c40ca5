"""The live box's fan-out (``GET /api/stats/stream``): one worker's open streams, fed by one
read per watched site per aggregation interval, whatever the number of listeners.

Each site with listeners has one watcher task; it reads the site's answer (what
``GET /api/stats`` answers), and when that changed, offers it to every listener's mailbox.
A mailbox holds only the newest answer: each is a whole snapshot, so a slow listener loses
nothing by skipping to the latest, and memory stays one answer per listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Final

from redis.exceptions import RedisError

from counter.errors import VisitorStatsError

log = logging.getLogger("visitor_stats.stream")

Answer = dict[str, Any]
Read = Callable[[str], Awaitable[Answer]]

# Put in a mailbox when the hub closes (the app shuts down): the stream ends.
CLOSED: Final[Answer] = {}


class StreamsUnavailable(VisitorStatsError):
    """No room for another stream in this worker (or it is shutting down)."""


def _figures(answer: Answer) -> Answer:
    # Every pass rewrites ``updated_at``; listeners hear of it only when a figure (or the
    # staleness, which follows from it) moved, not every interval.
    return {k: v for k, v in answer.items() if k != "updated_at"}


class Listener:
    """One open stream's mailbox: the newest answer not yet sent, or CLOSED."""

    def __init__(self, site_id: str) -> None:
        self.site_id = site_id
        self._mailbox: asyncio.Queue[Answer] = asyncio.Queue(maxsize=1)

    def offer(self, answer: Answer) -> None:
        if self._mailbox.full():
            self._mailbox.get_nowait()  # the older snapshot, never sent: the newer replaces it
        self._mailbox.put_nowait(answer)

    async def next(self, timeout_s: float) -> Answer | None:
        """The next answer to send, CLOSED, or None after ``timeout_s`` of quiet."""
        try:
            return await asyncio.wait_for(self._mailbox.get(), timeout_s)
        except TimeoutError:
            return None


@dataclass
class _Watch:
    """One site's watcher: its listeners, the last answer read, and its stop event."""

    listeners: set[Listener] = field(default_factory=set)
    latest: Answer | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None


class StatsHub:
    """A worker's open streams. ``read`` gives a site's answer (``StatsReader.read``);
    ``interval_s`` is the aggregation interval; at most ``max_listeners`` streams at once."""

    def __init__(
        self, read: Read, interval_s: float, max_listeners: int, keep_alive_s: float = 15
    ) -> None:
        self._read = read
        self.interval_s = interval_s
        self.max_listeners = max_listeners
        self.keep_alive_s = keep_alive_s
        self._watches: dict[str, _Watch] = {}
        self._listeners = 0
        self._closed = False
        self.reads = 0  # store reads made, for tests and for the curious

    @property
    def open_streams(self) -> int:
        return self._listeners

    def open(self, site_id: str) -> Listener:
        """A listener of ``site_id`` (an id already checked); its first answer comes at once
        if the site is watched, else after the watcher's first read."""
        if self._closed:
            raise StreamsUnavailable("the server is shutting down; reconnect shortly")
        if self._listeners >= self.max_listeners:
            raise StreamsUnavailable(
                f"this worker has its {self.max_listeners} live streams open; "
                "retry shortly or poll /api/stats"
            )
        listener = Listener(site_id)
        watch = self._watches.get(site_id)
        if watch is None:
            watch = self._watches[site_id] = _Watch()
            watch.task = asyncio.create_task(self._watch(site_id, watch))
        elif watch.latest is not None:
            listener.offer(watch.latest)
        watch.listeners.add(listener)
        self._listeners += 1
        return listener

    def leave(self, listener: Listener) -> None:
        """Forget ``listener`` (safe to repeat); the site's watcher stops with its last one."""
        watch = self._watches.get(listener.site_id)
        if watch is None or listener not in watch.listeners:
            return
        watch.listeners.discard(listener)
        self._listeners -= 1
        if not watch.listeners:
            watch.stop.set()
            del self._watches[listener.site_id]

    async def poll(self, site_id: str) -> None:
        """One read of a watched site; its listeners get the answer if it changed. The
        watcher calls it once per interval; tests call it to stand for an interval."""
        watch = self._watches.get(site_id)
        if watch is None:
            return
        self.reads += 1
        try:
            answer = await self._read(site_id)
        except (RedisError, VisitorStatsError) as exc:
            # The store is down with no answer at hand, or the site was removed: listeners
            # keep what they show, and the next interval tries again.
            log.warning("live stream read of a site failed: %s", type(exc).__name__)
            return
        if watch.latest is not None and _figures(watch.latest) == _figures(answer):
            return
        watch.latest = answer
        for listener in watch.listeners:
            listener.offer(answer)

    async def _watch(self, site_id: str, watch: _Watch) -> None:
        # Stopped by its event, never only by a cancel: redis-py can swallow a cancel that
        # lands inside a command (redis/redis-py#2028), and the loop would then run on.
        while not watch.stop.is_set():
            await self.poll(site_id)
            with contextlib.suppress(TimeoutError):  # the interval passed
                await asyncio.wait_for(watch.stop.wait(), self.interval_s)

    async def aclose(self) -> None:
        """End every stream at once and wait for the watchers (the app's shutdown)."""
        self._closed = True
        watches = list(self._watches.values())
        self._watches.clear()
        self._listeners = 0
        for watch in watches:
            watch.stop.set()
            for listener in watch.listeners:
                listener.offer(CLOSED)
        await asyncio.gather(*(w.task for w in watches if w.task is not None))
