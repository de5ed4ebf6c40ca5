"""Turning an HTTP request into a :class:`Hit`: content type, body size, field limits, headers.

Shared by the hot path's ``POST /api/hit`` and the ``GET /api/hit.gif`` route. Works on plain
header maps (lower-case names), so neither needs a framework request object.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from api.errors import UnsupportedMediaType
from counter.errors import InvalidInput
from counter.record.hit import Event, Hit
from counter.record.visitor import client_ip

MAX_FIELD_CHARS = {"site": 100, "url": 2048, "referrer": 2048, "event": 16}
MAX_USER_AGENT_CHARS = 512
MAX_HEADER_CHARS = 2048  # Origin, Referer, Sec-Purpose: longer values are cut before use
# JSON as fetch() sends it, text/plain as navigator.sendBeacon(string) sends it, or none.
# The body is always parsed as JSON. text/plain is what sendBeacon sends; form-urlencoded is
# what `curl -d` sends by default, so a hand-typed test works too. Anything else is a mistake.
BODY_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded", "")
# Headers a proxy chain may repeat: their values are joined, as RFC 9110 allows.
JOINED_HEADERS = frozenset({"x-forwarded-for"})


def header_map(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    """ASGI's raw header list as a dict of lower-case names; the first value of a repeated
    header wins, except X-Forwarded-For, whose values are joined."""
    headers: dict[str, str] = {}
    for raw_name, raw_value in raw:
        name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
        if name not in headers:
            headers[name] = value
        elif name in JOINED_HEADERS:
            headers[name] += "," + value
    return headers


def check_content_type(headers: Mapping[str, str]) -> None:
    declared = headers.get("content-type", "")
    media_type = declared.partition(";")[0].strip().lower()
    if media_type not in BODY_TYPES:
        raise UnsupportedMediaType(
            f"content type {declared[:100]!r} is not accepted; send application/json or "
            "text/plain (what navigator.sendBeacon sends)"
        )


def _field(data: dict[str, Any], name: str, required: bool) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name} is required")
        return None
    return checked_text(name, value)


def checked_text(name: str, value: object) -> str:
    """A request field as text within its limit: a string, no NUL, valid Unicode."""
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
        names = " or ".join(repr(e.value) for e in Event)
        raise InvalidInput(f"event must be {names}") from None


def parse_hit_body(body: bytes) -> tuple[str, str, Event, str | None]:
    """``(site, url, event, referrer)`` from a hit's JSON body, or InvalidInput saying why."""
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


def _header(headers: Mapping[str, str], *names: str) -> str | None:
    """The first of these headers that is present and not empty, cut to a sane length."""
    for name in names:
        value = headers.get(name)
        if value:
            return value[:MAX_HEADER_CHARS]
    return None


def _opted_out(headers: Mapping[str, str]) -> bool:
    """Global Privacy Control (``Sec-GPC: 1``) or Do Not Track (``DNT: 1``)."""
    return any(headers.get(name, "").strip() == "1" for name in ("sec-gpc", "dnt"))


def make_hit(
    headers: Mapping[str, str],
    peer: str | None,
    trusted_proxies: list[str],
    site: str,
    url: str,
    event: Event,
    referrer: str | None,
) -> Hit:
    return Hit(
        site=site,
        url=url,
        event=event,
        referrer=referrer,
        client_ip=client_ip(peer, headers.get("x-forwarded-for"), trusted_proxies),
        user_agent=headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS],
        origin=_header(headers, "origin", "referer"),
        purpose=_header(headers, "sec-purpose", "purpose"),
        opt_out=_opted_out(headers),
    )
