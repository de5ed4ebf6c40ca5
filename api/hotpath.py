"""The two routes every page view calls, ``POST /api/hit`` and ``GET /api/stats``, as plain ASGI.

Every portal page sends a hit and many read the stats, so these two answer before FastAPI's
routing, dependency solving and middleware layers, which cost more per request than the
whole hit (bench/hits.py, one worker: 1.7k hits/s through FastAPI, 2.9k in front of it; a
bare ASGI app 40k). They keep the same contract: the error mapping of :mod:`api.errors`,
the request metrics, CORS for any origin, and an OpenAPI description
(:data:`OPENAPI_PATHS`, merged into the app's schema). Everything else, lifespan included,
passes through to the FastAPI app.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import orjson
from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from api.errors import UnsupportedMediaType, error_answer, responses
from api.intake import (
    MAX_FIELD_CHARS,
    check_content_type,
    checked_text,
    header_map,
    make_hit,
    parse_hit_body,
)
from api.metrics import METHODS, ApiMetrics
from api.responses import cacheable_json
from counter.errors import BodyTooLarge, InvalidInput
from counter.hits import Event, record_hit
from counter.stats import read_stats
from counter.store import Store

log = logging.getLogger("visitor_stats.api")

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body
Route = Callable[[Store, Scope, Receive], Awaitable[Answer]]

# The snippet calls from every tracked portal; no cookies cross, so any origin may read.
# Whether a hit's origin belongs to its site is checked per hit.
CORS = (b"access-control-allow-origin", b"*")
JSON = (b"content-type", b"application/json")
NO_STORE = (b"cache-control", b"no-store")
SPOOLED = b'{"accepted":true,"spooled":true}'


# What nginx logs for a client that left before its answer: timed as a 4xx, never answered.
CLIENT_GONE = 499


class ClientGone(Exception):
    """The client disconnected before its request's body was complete."""


class HotPath:
    """Answers ``POST /api/hit`` and ``GET /api/stats``; passes every other request on."""

    def __init__(self, app: FastAPI) -> None:
        self.fastapi = app
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
        started = time.perf_counter()
        status = 500
        self.metrics.in_flight.inc()
        try:
            try:
                store: Store = self.fastapi.state.store
                status, headers, body = await route(store, scope, receive)
            except ClientGone:
                status = CLIENT_GONE  # nobody to answer; nothing was recorded
                return
            except Exception as exc:  # every error answers JSON, as in api.errors
                status, detail = error_answer(exc)
                if status == 500:
                    log.error("unexpected error on %s", scope["path"], exc_info=exc)
                headers, body = [JSON], orjson.dumps({"detail": detail})
            await _answer(send, status, headers, body)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.request_duration.labels(
                scope["path"],
                scope["method"] if scope["method"] in METHODS else "other",
                f"{status // 100}xx",
            ).observe(time.perf_counter() - started)


async def _hit(store: Store, scope: Scope, receive: Receive) -> Answer:
    headers = header_map(scope["headers"])
    try:
        check_content_type(headers)
        body = await _read_body(receive, headers, store.settings.max_body_bytes)
        site, url, event, referrer = parse_hit_body(body)
    except (InvalidInput, BodyTooLarge, UnsupportedMediaType):
        store.observe(None, "invalid")
        raise
    client = scope.get("client")
    hit = make_hit(
        headers,
        client[0] if client else None,
        store.settings.trusted_proxies,
        site,
        url,
        event,
        referrer,
    )
    result = await record_hit(store, hit)
    if result.spooled:
        return 202, [JSON, NO_STORE], SPOOLED
    if event is Event.heartbeat:
        return 204, [], b""
    return 200, [JSON, NO_STORE], orjson.dumps(result.box)


async def _stats(store: Store, scope: Scope, _: Receive) -> Answer:
    query = dict(parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True))
    if "site" not in query:
        raise InvalidInput("site is required, e.g. ?site=svhttdl.travinh.gov.vn")
    site = checked_text("site", query["site"])
    url = checked_text("url", query["url"]) if "url" in query else None
    answer = await read_stats(store, site, url)
    status, headers, body = cacheable_json(
        answer, header_map(scope["headers"]).get("if-none-match")
    )
    return status, [(name.encode(), value.encode()) for name, value in headers.items()], body


def _method_not_allowed(allowed: str) -> Route:
    async def answer(store: Store, scope: Scope, _: Receive) -> Answer:
        detail = f"method {scope['method'][:16]} is not allowed on {scope['path']}; use {allowed}"
        return 405, [JSON, (b"allow", allowed.encode())], orjson.dumps({"detail": detail})

    return answer


async def _read_body(receive: Receive, headers: dict[str, str], limit: int) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body is larger than {limit} bytes")
    body = b""
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


async def _answer(send: Send, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
    head = [CORS, *headers]
    if status not in (204, 304):
        head.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


HIT_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["site", "url"],
    "properties": {
        "site": {
            "type": "string",
            "maxLength": MAX_FIELD_CHARS["site"],
            "example": "svhttdl.travinh.gov.vn",
        },
        "url": {
            "type": "string",
            "maxLength": MAX_FIELD_CHARS["url"],
            "example": "https://svhttdl.travinh.gov.vn/a",
        },
        "referrer": {"type": "string", "maxLength": MAX_FIELD_CHARS["referrer"]},
        "event": {"type": "string", "enum": ["pageview", "heartbeat"], "default": "pageview"},
    },
}
BOX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        k: {"type": "integer"} for k in ("page_views", "online", "today", "week", "month", "total")
    },
}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): answer for code, answer in responses(*codes).items()}


OPENAPI_PATHS: dict[str, Any] = {
    "/api/hit": {
        "post": {
            "tags": ["hits"],
            "summary": "Record a pageview or heartbeat",
            "description": "Bots, prefetches, opted-out visitors (`Sec-GPC: 1`, `DNT: 1`), "
            "referrer spam and hits over a flood cap are answered like any pageview (200 with "
            "the box) but not counted: they show up by reason in the `excluded` figures of "
            "`/api/stats`.",
            "operationId": "post_hit_api_hit_post",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": HIT_BODY_SCHEMA},
                    "text/plain": {
                        "schema": {
                            "type": "string",
                            "description": "the same JSON, as navigator.sendBeacon sends it",
                        }
                    },
                },
            },
            "responses": {
                "200": {
                    "description": "Pageview recorded; the box's numbers",
                    "content": {"application/json": {"schema": BOX_SCHEMA}},
                },
                "202": {
                    "description": "The store is unreachable: the hit is kept in the spool and "
                    "counted when the store is back",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "accepted": {"type": "boolean"},
                                    "spooled": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                "204": {"description": "Heartbeat recorded"},
                **_errors(400, 403, 404, 413, 415, 503),
            },
        }
    },
    "/api/stats": {
        "get": {
            "tags": ["stats"],
            "summary": "The box's numbers for a site",
            "operationId": "get_stats_api_stats_get",
            "parameters": [
                {
                    "name": "site",
                    "in": "query",
                    "required": True,
                    "description": "site id, e.g. svhttdl.travinh.gov.vn",
                    "schema": {"type": "string", "maxLength": MAX_FIELD_CHARS["site"]},
                },
                {
                    "name": "url",
                    "in": "query",
                    "required": False,
                    "description": "a page, for its views",
                    "schema": {"type": "string", "maxLength": MAX_FIELD_CHARS["url"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "The summary: every period of every measure, the day's "
                    "exclusions, the definitions, and whether it is stale",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                **_errors(400, 404, 503),
            },
        }
    },
}
