"""The two routes every page view calls, ``POST /api/hit`` and ``GET /api/stats``, as plain ASGI.

Every portal page sends a hit and many read the stats, so these two answer before FastAPI's
routing, dependency solving and middleware layers, which cost more per request than the
whole hit (bench/hits.py, one worker: 1.7k hits/s through FastAPI, 2.9k in front of it; a
bare ASGI app 40k). They keep the same contract: the error mapping of :mod:`api.errors`,
the request metrics, CORS for any origin, and an OpenAPI description
(:mod:`api.openapi`, merged into the app's schema). Everything else, lifespan included,
passes through to the FastAPI app.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from starlette.datastructures import State
from starlette.types import Receive, Scope, Send

from api.errors import RequestTimedOut, UnsupportedMediaType, error_answer
from api.intake import check_content_type, checked_text, header_map, make_hit, parse_hit_body
from api.limits import CLOSE, check_headers, declared_length
from api.metrics import ApiMetrics
from api.responses import CORS_HEADER, cacheable_json
from counter.errors import BodyTooLarge, InvalidInput
from counter.figures.stats import StatsReader
from counter.record.hit import Event
from counter.record.recorder import Recorder
from counter.settings import Settings

log = logging.getLogger("visitor_stats.api")

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body
# A route reads what the app's lifespan made (``app.state.recorder``, ``app.state.stats``).
Route = Callable[[State, Scope, Receive], Awaitable[Answer]]

CORS = (CORS_HEADER[0].encode(), CORS_HEADER[1].encode())
JSON = (b"content-type", b"application/json")
NO_STORE = (b"cache-control", b"no-store")
SPOOLED = b'{"accepted":true,"spooled":true}'


# What nginx logs for a client that left before its answer: timed as a 4xx, never answered.
CLIENT_GONE = 499


class ClientGone(Exception):
    """The client disconnected before its request's body was complete."""


class HotPath:
    """Answers ``POST /api/hit`` and ``GET /api/stats``; passes every other request on."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.fastapi = app
        self.max_headers = settings.max_headers
        self.max_header_bytes = settings.max_header_bytes
        self.metrics: ApiMetrics = app.state.metrics
        self.routes: dict[str, tuple[str, Route]] = {
            "/api/hit": ("POST", _hit),
            "/api/stats": ("GET", _stats),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        # CORS preflights (OPTIONS) are the CORS middleware's, inside the FastAPI app.
        if found is None or scope["method"] == "OPTIONS":
            await self.fastapi(scope, receive, send)
            return
        method, route = found
        if scope["method"] != method:
            route = _method_not_allowed(method)
        status = 500
        started = self.metrics.request_started()
        try:
            try:
                check_headers(scope, self.max_headers, self.max_header_bytes)
                status, headers, body = await route(self.fastapi.state, scope, receive)
            except ClientGone:
                status = CLIENT_GONE  # nobody to answer; nothing was recorded
                return
            except Exception as exc:  # every error answers JSON, as in api.errors
                status, detail = error_answer(exc)
                if status == 500:
                    log.error("unexpected error on %s", scope["path"], exc_info=exc)
                headers, body = [JSON], orjson.dumps({"detail": detail})
                if status in (408, 413):  # the rest of the body is not read: see api.limits
                    headers.append(CLOSE)
            await _answer(send, status, headers, body)
        finally:
            self.metrics.request_finished(scope["path"], scope["method"], status, started)


async def _hit(state: State, scope: Scope, receive: Receive) -> Answer:
    recorder: Recorder = state.recorder
    settings = recorder.store.settings
    headers = header_map(scope["headers"])
    try:
        check_content_type(headers)
        body = await _read_body(
            receive, declared_length(headers), settings.max_body_bytes, settings.body_timeout_s
        )
        site, url, event, referrer = parse_hit_body(body)
    except (InvalidInput, BodyTooLarge, UnsupportedMediaType, RequestTimedOut):
        recorder.observe(None, "invalid")
        raise
    client = scope.get("client")
    hit = make_hit(
        headers,
        client[0] if client else None,
        settings.trusted_proxies,
        site,
        url,
        event,
        referrer,
    )
    result = await recorder.record(hit)
    if result.spooled:
        return 202, [JSON, NO_STORE], SPOOLED
    if event is Event.heartbeat:
        return 204, [], b""
    return 200, [JSON, NO_STORE], orjson.dumps(result.box)


async def _stats(state: State, scope: Scope, _: Receive) -> Answer:
    reader: StatsReader = state.stats
    query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    if "site" not in query:
        raise InvalidInput("site is required, e.g. ?site=svhttdl.travinh.gov.vn")
    site = checked_text("site", query["site"])
    url = checked_text("url", query["url"]) if "url" in query else None
    answer = await reader.read(site, url)
    status, headers, body = cacheable_json(
        answer, header_map(scope["headers"]).get("if-none-match")
    )
    return status, [(name.encode(), value.encode()) for name, value in headers.items()], body


def _method_not_allowed(allowed: str) -> Route:
    async def answer(_state: State, scope: Scope, _: Receive) -> Answer:
        detail = f"method {scope['method'][:16]} is not allowed on {scope['path']}; use {allowed}"
        return 405, [JSON, (b"allow", allowed.encode())], orjson.dumps({"detail": detail})

    return answer


async def _read_body(receive: Receive, declared: int | None, limit: int, timeout_s: float) -> bytes:
    """The whole body, or :class:`BodyTooLarge` as soon as it passes ``limit`` (at once for a
    larger Content-Length), or :class:`RequestTimedOut` when it is not whole ``timeout_s`` on."""
    if declared is not None and declared > limit:
        raise BodyTooLarge(f"body is larger than {limit} bytes")
    body = b""
    try:
        # One timer for the whole body: a trickle of a byte a second is as late as silence.
        async with asyncio.timeout(timeout_s):
            while True:
                message = await receive()
                if message["type"] != "http.request":
                    raise ClientGone  # a part of a body is not a hit
                chunk: bytes = message.get("body", b"")
                body += chunk
                if len(body) > limit:
                    raise BodyTooLarge(f"body is larger than {limit} bytes")
                if not message.get("more_body", False):
                    return body
    except TimeoutError:
        raise RequestTimedOut(f"the body did not arrive within {timeout_s:g} s") from None


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    head = [CORS, *headers]
    if status not in (204, 304):
        head.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
