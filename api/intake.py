"""Turning an HTTP request into a :class:`Hit`: content type, body size, field limits, headers.

Shared by the hot path's ``POST /api/hit`` and the ``GET /api/hit.gif`` route. Works on plain
header maps (lower-case names), so neither needs a framework request object.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple
from urllib.parse import unquote_plus

import orjson

from api.errors import UnsupportedMediaType
from counter.errors import InvalidInput
from counter.record.hit import Event, Hit
from counter.record.visitor import client_ip
from counter.sites import Site
from counter.urls import CONTROL_CHARS, host_of

MAX_FIELD_CHARS = {
    "site": 100,
    "url": 2048,
    "referrer": 2048,
    "event": 16,
    # A site's server (issue 15) sends what its visitor's browser sent it.
    "client_ip": 64,
    "user_agent": 2048,
    "purpose": 64,
    # The snippet sends document.title cut to this; the service keeps the latest per page.
    "title": 200,
}
MAX_USER_AGENT_CHARS = 512
# POST /api/hits: a CMS that buffers its hits, or replays its access log, sends this many at
# most in one request; the Coalescer sends them to the store in pipelines of 256.
MAX_BATCH_HITS = 500
MAX_HEADER_CHARS = 2048  # Origin, Referer, Sec-Purpose: longer values are cut before use
# JSON as fetch() sends it, text/plain as navigator.sendBeacon(string) sends it, or none.
# The body is always parsed as JSON. text/plain is what sendBeacon sends; form-urlencoded is
# what `curl -d` sends by default, so a hand-typed test works too. Anything else is a mistake.
BODY_TYPES = ("application/json", "text/plain", "application/x-www-form-urlencoded", "")
# Headers a proxy chain may repeat: their values are joined, as RFC 9110 allows.
JOINED_HEADERS = frozenset({"x-forwarded-for"})


# One search in C, not a Python loop over each character: every hit checks its fields.
_SURROGATE = re.compile("[\ud800-\udfff]")


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


def query_pairs(raw: bytes) -> list[tuple[str, str]]:
    """A query string's ``(name, value)`` pairs, as ``parse_qsl(raw.decode("latin-1"),
    keep_blank_values=True)`` gives them, with no decoding for the plain parts: every stats
    read parses one, and the general parser cost a fifth of a cached read."""
    pairs = []
    for part in raw.decode("latin-1").split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        pairs.append((_unquoted(name), _unquoted(value)))
    return pairs


def _unquoted(text: str) -> str:
    return unquote_plus(text) if "%" in text or "+" in text else text


def request_header(raw: Iterable[tuple[bytes, bytes]], name: bytes) -> str | None:
    """One header's first value (``name`` in lower case, as ASGI gives names), without
    building the whole map."""
    for raw_name, raw_value in raw:
        if raw_name == name:
            return raw_value.decode("latin-1")
    return None


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
    if _SURROGATE.search(value):
        raise InvalidInput(f"{name} holds an unpaired surrogate (not valid Unicode)")
    return value


def _title(data: dict[str, Any]) -> str | None:
    """The page's title, if the hit carries one: text within its limit and, as it is shown in
    the "most viewed" lists, without control characters (document.title has none)."""
    title = _field(data, "title", required=False)
    if title is not None and CONTROL_CHARS.search(title):
        raise InvalidInput("title holds a control character")
    return title or None


def _event(raw: str | None) -> Event:
    if raw is None:
        return Event.pageview
    try:
        return Event(raw)
    except ValueError:
        names = " or ".join(repr(e.value) for e in Event)
        raise InvalidInput(f"event must be {names}") from None


def parse_json_object(body: bytes) -> dict[str, Any]:
    """A request body that must be one JSON object, or InvalidInput saying why not."""
    if not body.strip():
        raise InvalidInput('body is empty; send JSON like {"site": ..., "url": ...}')
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"body is not valid JSON: {exc.msg}") from None
    if not isinstance(data, dict):
        raise InvalidInput("body must be a JSON object")
    return data


class HitFields(NamedTuple):
    site: str
    url: str
    event: Event
    referrer: str | None
    title: str | None


def parse_hit_fields(body: bytes) -> HitFields:
    """A browser hit's fields from its JSON body, or InvalidInput saying why. Fields a
    browser cannot vouch for (``client_ip``, ``user_agent``) are ignored here: only a hit
    with a site key (:func:`parse_server_hit`) may name its visitor."""
    data = parse_json_object(body)
    return HitFields(
        site=_field(data, "site", required=True) or "",
        url=_field(data, "url", required=True) or "",
        event=_event(_field(data, "event", required=False)),
        referrer=_field(data, "referrer", required=False),
        title=_title(data),
    )


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
    title: str | None = None,
) -> Hit:
    return Hit(
        site=site,
        url=url,
        event=event,
        referrer=referrer,
        title=title,
        client_ip=client_ip(peer, headers.get("x-forwarded-for"), trusted_proxies),
        user_agent=headers.get("user-agent", "")[:MAX_USER_AGENT_CHARS],
        origin=_header(headers, "origin", "referer"),
        purpose=_header(headers, "sec-purpose", "purpose"),
        opt_out=_opted_out(headers),
    )


@dataclass(frozen=True, slots=True)
class ServerHit:
    """A hit as a site's own server sends it with its ingest key: the visitor's address and
    user agent in the body, as the server saw them (issue 15)."""

    site: str | None  # None: the key's site
    url: str
    event: Event
    referrer: str | None
    client_ip: str
    user_agent: str
    purpose: str | None  # the visitor's Sec-Purpose / Purpose header: prefetches are not views
    opt_out: bool  # the visitor sent Sec-GPC: 1 or DNT: 1
    title: str | None = None  # the page's title


def _address(raw: str) -> str:
    try:
        return str(ipaddress.ip_address(raw.strip()))
    except ValueError:
        raise InvalidInput(
            "client_ip must be the visitor's IP address, such as 203.0.113.7 or 2001:db8::7"
        ) from None


def parse_server_hit(data: object, site_required: bool) -> ServerHit:
    """One hit of a site's server: the browser hit's fields, plus ``client_ip`` and
    ``user_agent`` (both required: without them every visitor of the CMS would be the CMS
    itself), ``purpose`` and ``opt_out``."""
    if not isinstance(data, dict):
        raise InvalidInput("each hit must be a JSON object")
    opt_out = data.get("opt_out", False)
    if not isinstance(opt_out, bool):
        raise InvalidInput("opt_out must be true or false")
    for name in ("client_ip", "user_agent"):
        if data.get(name) is None:
            raise InvalidInput(
                f"{name} is required with a site key: the visitor's, as your server saw it"
            )
    return ServerHit(
        site=_field(data, "site", required=site_required),
        url=_field(data, "url", required=True) or "",
        event=_event(_field(data, "event", required=False)),
        referrer=_field(data, "referrer", required=False),
        client_ip=_address(checked_text("client_ip", data["client_ip"])),
        user_agent=checked_text("user_agent", data["user_agent"])[:MAX_USER_AGENT_CHARS],
        purpose=_field(data, "purpose", required=False),
        opt_out=opt_out,
        title=_title(data),
    )


def parse_batch(body: bytes) -> list[object]:
    """The hits of a ``POST /api/hits`` body, ``{"hits": [...]}``, unparsed: each one is
    judged on its own, and answered on its own."""
    hits = parse_json_object(body).get("hits")
    if not isinstance(hits, list):
        raise InvalidInput('body must be {"hits": [ {...}, ... ]}')
    if not 1 <= len(hits) <= MAX_BATCH_HITS:
        raise InvalidInput(f"a batch holds 1 to {MAX_BATCH_HITS} hits, not {len(hits)}")
    return hits


def make_server_hit(site: Site, fields: ServerHit) -> Hit:
    """The Hit of a keyed request. The key vouched for the site, so no browser's Origin is
    needed: the hit carries one of the site's own domains as its origin (the url's host when it
    is one of them), and the recorder's checks (the url's host, bots, caps) run as for any
    hit."""
    url_host = host_of(fields.url)
    if url_host is None or not site.allows_host(url_host):
        url_host = site.domains[0].removeprefix("*.")
    return Hit(
        site=site.id,
        url=fields.url,
        event=fields.event,
        referrer=fields.referrer,
        client_ip=fields.client_ip,
        user_agent=fields.user_agent,
        origin=f"https://{url_host}",
        purpose=fields.purpose,
        opt_out=fields.opt_out,
        title=fields.title,
    )
