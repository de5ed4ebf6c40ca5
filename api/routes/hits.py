"""``GET /api/hit.gif``: a pageview from a page without JavaScript (an ``<img>`` in
``<noscript>``). ``POST /api/hit``, which the snippet calls, is on the hot path
(:mod:`api.hotpath`)."""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import SettingsDep, StoreDep
from api.errors import responses
from api.intake import header_map, make_hit
from counter.errors import InvalidInput
from counter.hits import Event, record_hit

router = APIRouter(tags=["hits"])

GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


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
    headers = header_map(request.headers.raw)
    page = url or headers.get("referer")
    if not page:
        store.observe(None, "invalid")
        raise InvalidInput("url is required when the request has no Referer")
    peer = request.client.host if request.client else None
    hit = make_hit(headers, peer, settings.trusted_proxies, site, page, Event.pageview, None)
    await record_hit(store, hit)
    return Response(GIF, media_type="image/gif", headers={"Cache-Control": "no-store"})
