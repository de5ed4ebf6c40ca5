"""A JSON response rendered by orjson, and the ETag of a rendered body."""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from starlette.responses import Response


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


# A CDN or browser may reuse a stats answer a few seconds: the summary changes once a pass.
STATS_CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"


def etag_of(body: bytes) -> str:
    """A strong ETag of a rendered answer."""
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
