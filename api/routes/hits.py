"""``GET /api/hit.gif``: a pageview from a page without JavaScript (an ``<img>`` in
``<noscript>``). ``POST /api/hit``, which the snippet calls, is on the hot path
(:mod:`api.hotpath`)."""

from __future__ import annotations

import base64
import dataclasses
from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import RecorderDep, SettingsDep
from api.errors import responses
from api.intake import MAX_FIELD_CHARS, header_map, make_hit
from counter.errors import InvalidInput
from counter.record.hit import Event
from counter.urls import host_of

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
    recorder: RecorderDep,
    settings: SettingsDep,
    site: Annotated[str, Query(max_length=MAX_FIELD_CHARS["site"])],
    url: Annotated[
        str | None, Query(max_length=MAX_FIELD_CHARS["url"], description="default: the Referer")
    ] = None,
) -> Response:
    headers = header_map(request.headers.raw)
    page = url or headers.get("referer")
    if not page:
        recorder.observe(None, "invalid")
        raise InvalidInput("url is required when the request has no Referer")
    peer = request.client.host if request.client else None
    hit = make_hit(headers, peer, settings.trusted_proxies, site, page, Event.pageview, None)
    if hit.origin is None and url is not None and host_of(url) is not None:
        # No Origin and no Referer (<meta name="referrer" content="no-referrer">, an e-mail,
        # a privacy extension): the pixel's own absolute url names its site's page instead,
        # and the same domain check applies to it.
        hit = dataclasses.replace(hit, origin=url)
    await recorder.record(hit)
    return Response(GIF, media_type="image/gif", headers={"Cache-Control": "no-store"})
