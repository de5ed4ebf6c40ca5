"""``GET /api/stats/stream?site=S``: the live box, as Server-Sent Events.

An ``event: stats`` with what ``GET /api/stats`` answers when the stream opens and whenever
the site's figures change (at most once per aggregation interval: the hub reads each watched
site once per interval for all of a worker's listeners, counter/figures/stream.py).
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import FrameType
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from api.deps import StoreDep
from api.errors import responses
from api.responses import JSONResponse
from api.routes.stats import SiteQuery
from counter.figures.stats import StatsReader
from counter.figures.stream import CLOSED, Listener, StatsHub, StreamsUnavailable
from counter.settings import Settings

router = APIRouter(tags=["stats"])

# EventSource reconnects this long after a stream drops (its default is browser-defined).
RETRY_MS = 3000
# A refused stream is worth retrying about when another may have closed.
RETRY_AFTER_S = 5
STREAM_HEADERS = {
    "cache-control": "no-store",
    "x-accel-buffering": "no",  # nginx would otherwise hold the events in its buffer
}
EVENT_STREAM_DOC: dict[str, Any] = {
    "description": "An endless event stream: `retry:`, then `event: stats` events whose "
    "`data` is the JSON object GET /api/stats answers, and `: keep-alive` comments when idle",
    "content": {"text/event-stream": {"schema": {"type": "string"}}},
}


async def _events(hub: StatsHub, listener: Listener) -> AsyncIterator[bytes]:
    yield f"retry: {RETRY_MS}\n\n".encode()
    while True:
        answer = await listener.next(hub.keep_alive_s)
        if answer is CLOSED:
            return
        if answer is None:
            # Idle: a comment keeps proxies and load balancers from closing the connection.
            yield b": keep-alive\n\n"
            continue
        yield b"event: stats\ndata: " + orjson.dumps(answer) + b"\n\n"


class EventStream(StreamingResponse):
    """The stream of one listener, which leaves the hub however the response ends (the
    client gone before the first byte, a disconnect, the hub closed)."""

    def __init__(self, hub: StatsHub, listener: Listener) -> None:
        super().__init__(
            _events(hub, listener), media_type="text/event-stream", headers=STREAM_HEADERS
        )
        self.hub = hub
        self.listener = listener

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.hub.leave(self.listener)


@router.get(
    "/api/stats/stream",
    summary="The live box: an event with /api/stats's answer whenever the figures change",
    response_class=StreamingResponse,
    responses={200: EVENT_STREAM_DOC, **responses(400, 404, 503)},
)
async def get_stream(request: Request, store: StoreDep, site: SiteQuery) -> Response:
    config = await store.sites.get(site)  # 400 or 404 before the stream starts
    hub: StatsHub = request.app.state.streams
    try:
        listener = hub.open(config.id)
    except StreamsUnavailable as exc:
        return JSONResponse(
            {"detail": str(exc)}, status_code=503, headers={"retry-after": str(RETRY_AFTER_S)}
        )
    return EventStream(hub, listener)


def _close_on_exit_signal(hub: StatsHub) -> Callable[[], None]:
    """Chain the hub's closing onto the server's SIGTERM and SIGINT handlers.

    uvicorn waits for open responses to finish BEFORE it runs the lifespan's shutdown
    (``Server.shutdown``), so an endless stream would hold the shutdown for ever if only the
    lifespan's end closed it. Its signal handler only sets a flag; ours also ends the streams.
    Returns what puts the handlers back."""
    loop = asyncio.get_running_loop()
    chained: dict[int, Any] = {}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        loop.call_soon_threadsafe(lambda: asyncio.ensure_future(hub.aclose()))
        previous = chained[signum]
        previous(signum, frame)

    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only; nothing to chain here
    for signum in (signal.SIGTERM, signal.SIGINT):
        current = signal.getsignal(signum)
        if callable(current):  # a server caught it; SIG_DFL would end the process anyway
            chained[signum] = current
            signal.signal(signum, on_signal)

    def restore() -> None:
        for signum, previous in chained.items():
            if signal.getsignal(signum) is on_signal:
                signal.signal(signum, previous)

    return restore


@asynccontextmanager
async def live_streams(reader: StatsReader, settings: Settings) -> AsyncIterator[StatsHub]:
    """The worker's stream hub, for the app's lifespan: every stream ends when a shutdown
    signal arrives, and at the lifespan's end at the latest."""
    hub = StatsHub(reader.read, settings.aggregate_interval_s, settings.streams_per_worker)
    restore = _close_on_exit_signal(hub)
    try:
        yield hub
    finally:
        restore()
        await hub.aclose()
