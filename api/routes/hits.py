"""Hit intake: ``POST /api/hit`` (JSON or sendBeacon's text/plain) and ``GET /api/hit.gif``."""

from __future__ import annotations

import base64
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import SettingsDep, StoreDep
from api.errors import UnsupportedMediaType, responses
from api.responses import JSONResponse
from counter.errors import BodyTooLarge, InvalidInput
from counter.hits import Event, Hit, record_hit
from counter.visitor import client_ip

router = APIRouter(tags=["hits"])

MAX_FIELD_CHARS = {"site": 100, "url": 2048, "referrer": 2048, "event": 16}
MAX_USER_AGENT_CHARS = 512
MAX_HEADER_CHARS = 2048  # Origin, Referer, Sec-Purpose: longer values are cut before use
# JSON as fetch() sends it, text/plain as navigator.sendBeacon(string) sends it, or none.
# The body is always parsed as JSON. text/plain is what sendBeacon sends; form-urlencoded is
# what `curl -d` sends by default, so a hand-typed test works too. Anything else is a mistake.
BODY_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded", "")
# While the store is unreachable: the hit is kept on disk and counted when it is back.
SPOOLED = {"accepted": True, "spooled": True}
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

HIT_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["site", "url"],
    "properties": {
        "site": {"type": "string", "maxLength": 100, "example": "svhttdl.travinh.gov.vn"},
        "url": {"type": "string", "maxLength": 2048, "example": "https://svhttdl.travinh.gov.vn/a"},
        "referrer": {"type": "string", "maxLength": 2048},
        "event": {"type": "string", "enum": ["pageview", "heartbeat"], "default": "pageview"},
    },
}
BOX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        k: {"type": "integer"} for k in ("page_views", "online", "today", "week", "month", "total")
    },
}


async def _read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge(f"body is larger than {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge(f"body is larger than {limit} bytes")
    return bytes(body)


def _field(data: dict[str, Any], name: str, required: bool) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{name} must be a string")
    if len(value) > MAX_FIELD_CHARS[name]:
        raise InvalidInput(f"{name} is longer than {MAX_FIELD_CHARS[name]} characters")
    if "\x00" in value:
        raise InvalidInput(f"{name} holds a NUL character")
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise InvalidInput(f"{name} holds an unpaired surrogate (not valid Unicode)")
    return value


def _event(raw: str | None) -> Event:
    if raw is None:
        return Event.pageview
    try:
        return Event(raw)
    except ValueError:
        raise InvalidInput("event must be 'pageview' or 'heartbeat'") from None


def _header(request: Request, *names: str) -> str | None:
    """The first of these headers that is present and not empty, cut to a sane length."""
    for name in names:
        value = request.headers.get(name)
        if value:
            return value[:MAX_HEADER_CHARS]
    return None


def _opted_out(request: Request) -> bool:
    """Global Privacy Control (``Sec-GPC: 1``) or Do Not Track (``DNT: 1``)."""
    return any(request.headers.get(name, "").strip() == "1" for name in ("sec-gpc", "dnt"))


def _hit(
    request: Request, settings: SettingsDep, site: str, url: str, event: Event, referrer: str | None
) -> Hit:
    headers = request.headers
    peer = request.client.host if request.client else None
    return Hit(
        site=site,
        url=url,
        event=event,
        referrer=referrer,
        client_ip=client_ip(peer, headers.get("x-forwarded-for"), settings.trusted_proxies),
        user_agent=headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS],
        origin=_header(request, "origin", "referer"),
        purpose=_header(request, "sec-purpose", "purpose"),
        opt_out=_opted_out(request),
    )


def _check_content_type(request: Request) -> None:
    declared = request.headers.get("content-type", "")
    media_type = declared.partition(";")[0].strip().lower()
    if media_type not in BODY_TYPES:
        raise UnsupportedMediaType(
            f"content type {declared[:100]!r} is not accepted; send application/json or "
            "text/plain (what navigator.sendBeacon sends)"
        )


@router.post(
    "/api/hit",
    summary="Record a pageview or heartbeat",
    responses={
        200: {
            "description": "Pageview recorded; the box's numbers",
            "content": {"application/json": {"schema": BOX_SCHEMA}},
        },
        202: {
            "description": "The store is unreachable: the hit is kept in the spool and counted "
            "when the store is back",
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
        204: {"description": "Heartbeat recorded"},
        **responses(400, 403, 404, 413, 415, 503),
    },
    openapi_extra={
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
        }
    },
)
async def post_hit(request: Request, store: StoreDep, settings: SettingsDep) -> Response:
    """Bots, prefetches, opted-out visitors (`Sec-GPC: 1`, `DNT: 1`), referrer spam and hits
    over a flood cap are answered like any pageview (200 with the box) but not counted: they
    show up by reason in the `excluded` figures of `/api/stats`."""
    try:
        _check_content_type(request)
        site, url, event, referrer = _parse_hit(await _read_body(request, settings.max_body_bytes))
    except (InvalidInput, BodyTooLarge, UnsupportedMediaType):
        store.observe(None, "invalid")
        raise
    hit = _hit(request, settings, site, url, event, referrer)
    result = await record_hit(store, hit)
    if result.spooled:
        return JSONResponse(SPOOLED, status_code=202, headers={"Cache-Control": "no-store"})
    if event is Event.heartbeat:
        return Response(status_code=204)
    return JSONResponse(result.box, headers={"Cache-Control": "no-store"})


def _parse_hit(body: bytes) -> tuple[str, str, Event, str | None]:
    if not body.strip():
        raise InvalidInput('body is empty; send JSON like {"site": ..., "url": ...}')
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object")
    site = _field(data, "site", required=True) or ""
    url = _field(data, "url", required=True) or ""
    event = _event(_field(data, "event", required=False))
    return site, url, event, _field(data, "referrer", required=False)


@router.get(
    "/api/hit.gif",
    summary="Record a pageview from a page without JavaScript (an <img> in <noscript>)",
    response_class=Response,
    responses={
        200: {"description": "A 1x1 transparent GIF", "content": {"image/gif": {}}},
        **responses(400, 403, 404, 503),
    },
)
async def get_hit_gif(
    request: Request,
    store: StoreDep,
    settings: SettingsDep,
    site: Annotated[str, Query(max_length=100)],
    url: Annotated[str | None, Query(max_length=2048, description="default: the Referer")] = None,
) -> Response:
    page = url or request.headers.get("referer")
    if not page:
        store.observe(None, "invalid")
        raise InvalidInput("url is required when the request has no Referer")
    hit = _hit(request, settings, site, page, Event.pageview, None)
    await record_hit(store, hit)
    return Response(GIF, media_type="image/gif", headers={"Cache-Control": "no-store"})
