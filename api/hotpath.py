"""The two routes every page view calls, ``POST /api/hit`` and ``GET /api/stats``, as plain ASGI
(and ``POST /api/hits``, the batch a site's server sends with its key, which shares their
intake).

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

import orjson
from fastapi import FastAPI
from starlette.datastructures import State
from starlette.types import Message, Receive, Scope, Send

from api.errors import RequestTimedOut, UnsupportedMediaType, error_answer
from api.intake import (
    check_content_type,
    checked_text,
    header_map,
    make_hit,
    make_server_hit,
    parse_batch,
    parse_hit_fields,
    parse_json_object,
    parse_server_hit,
    query_pairs,
    request_header,
)
from api.limits import CLOSE, check_headers, declared_length
from api.metrics import ApiMetrics
from api.ready import STATE_KEY as READY_STATE_KEY
from api.ready import ReadyAnswers
from api.responses import JSON, answer_headers, cacheable_json
from counter.access import KeyRing, KeyScope, bearer, same_site
from counter.errors import BodyTooLarge, InvalidInput, KeyRefused
from counter.figures.page_views import MAX_PAGES, read_page_views
from counter.figures.stats import LAST_ANSWERS, StatsReader
from counter.periods import local_date
from counter.record.hit import Event, Hit
from counter.record.recorder import STORE_DOWN, HitResult, Recorder
from counter.settings import Settings
from counter.sites import Site

log = logging.getLogger("visitor_stats.api")

Answer = tuple[int, list[tuple[bytes, bytes]], bytes]  # status, headers, body
# A route reads what the app's lifespan made (``app.state.recorder``, ``app.state.stats``).
Route = Callable[[State, Scope, Receive], Awaitable[Answer]]

NO_STORE = (b"cache-control", b"no-store")
SPOOLED = b'{"accepted":true,"spooled":true}'


# The GET routes that count a view: a HEAD of them (a link checker, a monitor) stays 405, so
# that it counts nothing. Every other GET route answers HEAD as GET, without the body.
COUNTS = frozenset({"/api/hit.gif", "/busuanzi"})

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
        app.state.ready = ReadyAnswers(app.state, self.metrics, LAST_ANSWERS)
        self.routes: dict[str, tuple[str, Route]] = {
            "/api/hit": ("POST", _hit),
            "/api/hits": ("POST", _hits),
            "/api/stats": ("GET", _stats),
            "/api/stats/pages": ("GET", _pages),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan" and "state" in scope:
            # The server's state, given to each connection's protocol (api/limits.py).
            scope["state"][READY_STATE_KEY] = self.fastapi.state.ready
        if scope["type"] == "http" and scope["method"] == "HEAD" and scope["path"] not in COUNTS:
            await self(_as_get(scope), receive, _headless(send))
            return
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


def _as_get(scope: Scope) -> Scope:
    """A HEAD request, routed as the GET it asks about (every route, hot path or FastAPI's)."""
    return {**scope, "method": "GET"}


def _headless(send: Send) -> Send:
    """The GET's answer with its status and headers (Content-Length, ETag, Cache-Control) and
    no body, as HEAD answers (RFC 9110 §9.3.2); the body ends at its first part."""
    ended = False

    async def send_head(message: Message) -> None:
        nonlocal ended
        if message["type"] == "http.response.body":
            if ended:
                return
            ended = True
            message = {"type": "http.response.body", "body": b"", "more_body": False}
        await send(message)

    return send_head


async def _hit(state: State, scope: Scope, receive: Receive) -> Answer:
    recorder: Recorder = state.recorder
    settings = recorder.store.settings
    headers = header_map(scope["headers"])
    try:
        check_content_type(headers)
        body = await _read_body(
            receive, declared_length(headers), settings.max_body_bytes, settings.body_timeout_s
        )
        token = bearer(headers.get("authorization"))
        if token is None:
            fields = parse_hit_fields(body)
    except (InvalidInput, BodyTooLarge, UnsupportedMediaType, RequestTimedOut):
        recorder.observe(None, "invalid")
        raise
    if token is not None:
        hit = await _server_hit(state, token, body)
    else:
        client = scope.get("client")
        hit = make_hit(
            headers,
            client[0] if client else None,
            settings.trusted_proxies,
            fields.site,
            fields.url,
            fields.event,
            fields.referrer,
            fields.title,
        )
    result = await recorder.record(hit)
    if result.spooled:
        return 202, [JSON, NO_STORE], SPOOLED
    if hit.event is Event.heartbeat:
        return 204, [], b""
    return 200, [JSON, NO_STORE], orjson.dumps(result.box)


async def _server_hit(state: State, token: str, body: bytes) -> Hit:
    """The hit a site's server sends with its ingest key: the key first (401/403 before the
    body is judged), then the visitor's address and user agent from the body; no Origin."""
    recorder: Recorder = state.recorder
    key_site = await _keys(state).verify(token, KeyScope.ingest)
    try:
        fields = parse_server_hit(parse_json_object(body), site_required=True)
    except InvalidInput:
        recorder.observe(None, "invalid")
        raise
    same_site(key_site, fields.site)
    return make_server_hit(await recorder.store.sites.get(key_site), fields)


async def _hits(state: State, scope: Scope, receive: Receive) -> Answer:
    """``POST /api/hits``: up to 500 hits of one site, sent by its server with its ingest key;
    one answer per hit, in order. All of them reach the recorder in one event-loop turn, so
    the Coalescer sends them to the store together (pipelines of up to 256 calls)."""
    recorder: Recorder = state.recorder
    settings = recorder.store.settings
    headers = header_map(scope["headers"])
    check_content_type(headers)
    body = await _read_body(
        receive, declared_length(headers), settings.max_batch_body_bytes, settings.body_timeout_s
    )
    token = bearer(headers.get("authorization"))
    if token is None:
        raise KeyRefused("POST /api/hits needs Authorization: Bearer <the site's ingest key>")
    key_site = await _keys(state).verify(token, KeyScope.ingest)
    items = parse_batch(body)
    site = await recorder.store.sites.get(key_site)
    await _warm_salt(recorder, site)
    answers = await asyncio.gather(*(_batch_item(recorder, site, item) for item in items))
    return 200, [JSON, NO_STORE], orjson.dumps({"results": answers})


async def _warm_salt(recorder: Recorder, site: Site) -> None:
    """Fetch the site's salt of the day before the batch, so that its hits do not each ask
    for it (and so wait for the store one by one) when this process has not had it yet."""
    store = recorder.store
    if recorder.outage.open:
        return  # the hits spool at once; a salt is not needed
    now = store.clock.now()
    try:
        async with asyncio.timeout(store.settings.hit_budget_s):
            await recorder.salts.salt(
                store.redis, store.keys.site(site.id), site, local_date(now, site.tz), now
            )
    except STORE_DOWN:
        pass  # each hit meets the outage itself, and spools


async def _batch_item(recorder: Recorder, site: Site, item: object) -> dict[str, object]:
    """One hit of a batch and its answer: the status and body ``POST /api/hit`` would give."""
    try:
        try:
            fields = parse_server_hit(item, site_required=False)
        except InvalidInput:
            recorder.observe(None, "invalid")
            raise
        same_site(site.id, fields.site)
        result = await recorder.record(make_server_hit(site, fields))
    except Exception as exc:  # each hit is answered as the single route would answer it
        status, detail = error_answer(exc)
        if status == 500:
            log.error("unexpected error on a hit of a batch", exc_info=exc)
        return {"status": status, "detail": detail}
    return _item_answer(result, fields.event)


def _item_answer(result: HitResult, event: Event) -> dict[str, object]:
    if result.spooled:
        return {"status": 202, "accepted": True, "spooled": True}
    if event is Event.heartbeat:
        return {"status": 204}
    return {"status": 200, "box": result.box}


def _keys(state: State) -> KeyRing:
    keys: KeyRing = state.access
    return keys


async def _stats(state: State, scope: Scope, _: Receive) -> Answer:
    reader: StatsReader = state.stats
    query = dict(query_pairs(scope["query_string"]))
    if "site" not in query:
        raise InvalidInput("site is required, e.g. ?site=svhttdl.travinh.gov.vn")
    site = checked_text("site", query["site"])
    url = checked_text("url", query["url"]) if "url" in query else None
    answer = await reader.read(site, url)
    ready: ReadyAnswers = state.ready
    made = ready.made((site, url), answer)
    if scope["method"] == "GET" and reader.at_once(site, url) is answer:
        # The next requests for this target, while the reader has their answer at hand, are
        # written by the worker's protocol itself (api/ready.py).
        ready.keep(_target(scope), made)
    return made.to(request_header(scope["headers"], b"if-none-match"))


def _target(scope: Scope) -> bytes:
    """The request target as the client sent it (origin form), which the protocol sees:
    uvicorn puts its ``root_path`` before the path it was sent."""
    query: bytes = scope["query_string"]
    path: bytes = scope.get("raw_path") or scope["path"].encode()
    root = scope.get("root_path", "").encode()
    if root and path.startswith(root):
        path = path[len(root) :]
    return path + b"?" + query if query else path


async def _pages(state: State, scope: Scope, _: Receive) -> Answer:
    """``GET /api/stats/pages?site=S&url=U1&url=U2…``: the views of up to 100 pages."""
    reader: StatsReader = state.stats
    pairs = query_pairs(scope["query_string"])
    sites = [value for name, value in pairs if name == "site"]
    if len(sites) != 1:
        raise InvalidInput("give one site, e.g. ?site=svhttdl.travinh.gov.vn&url=/tin-tuc/1")
    urls = [value for name, value in pairs if name == "url"]
    if len(urls) > MAX_PAGES:  # before judging each of them
        raise InvalidInput(f"at most {MAX_PAGES} urls at once, got {len(urls)}")
    answer = await read_page_views(
        reader.store, checked_text("site", sites[0]), [checked_text("url", u) for u in urls]
    )
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
    head = answer_headers(status, headers, body)
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})
