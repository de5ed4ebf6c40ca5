"""A JSON response rendered by orjson, the cacheable answers of the stats reads, and the
CORS policy every answer follows."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.responses import Response

from counter.lru import put_bounded

# The snippet calls from every tracked portal; no cookies cross, so any origin may read.
# Whether a hit's origin belongs to its site is checked per hit, not here.
CORS_POLICY: dict[str, Any] = {
    "allow_origins": ["*"],
    "allow_methods": ["GET", "POST"],
    "allow_headers": ["Content-Type"],
    "max_age": 86400,
}
# What the policy adds to a simple (not preflighted) answer; the hot path sends it itself.
CORS_HEADER = ("access-control-allow-origin", ", ".join(CORS_POLICY["allow_origins"]))
# The same, and the JSON media type, as ASGI header pairs (the hot path, the protocol).
CORS = (CORS_HEADER[0].encode(), CORS_HEADER[1].encode())
JSON = (b"content-type", b"application/json")
Header = tuple[bytes, bytes]


def answer_headers(status: int, headers: list[Header], body: bytes) -> list[Header]:
    """The headers the hot path sends with an answer (uvicorn puts its own, Date and Server,
    first)."""
    head = [CORS, *headers]
    if status not in (204, 304):
        head.append((b"content-length", str(len(body)).encode()))
    return head


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# A CDN or browser may reuse a stats answer a few seconds: the summary changes once a pass.
STATS_CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"


class RenderedAnswers:
    """The encoded body and ETag of each stats answer a worker hands out, made once per answer
    rather than once per request: the reader gives the very same answer object again while it
    is fresh (counter/figures/stats.py), so an identity check says when to encode anew."""

    def __init__(self, size: int) -> None:
        self._last: dict[Any, tuple[object, str, bytes]] = {}
        self.size = size

    def render(self, key: Any, content: object) -> tuple[str, bytes]:
        """``(etag, body)`` of ``content``, the answer read for ``key``."""
        last = self._last.get(key)
        if last is not None and last[0] is content:
            return last[1], last[2]
        body = orjson.dumps(content)
        etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        put_bounded(self._last, key, (content, etag, body), self.size)
        return etag, body


def cacheable_json(content: object, if_none_match: str | None) -> tuple[int, dict[str, str], bytes]:
    """``(status, headers, body)`` of a stats read: 200 with its ETag and Cache-Control, or
    304 with no body when the client already holds that very answer."""
    body = orjson.dumps(content)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"cache-control": STATS_CACHE_CONTROL, "etag": etag}
    if if_none_match == etag:
        return 304, headers, b""
    return 200, {"content-type": "application/json", **headers}, body
