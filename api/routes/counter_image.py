"""``GET /counter/{site}.svg``: the image counter (api/badge.py). Reading it never counts."""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.badge import (
    FIGURES,
    MAX_DIGITS,
    MAX_LABEL_CHARS,
    MIN_DIGITS,
    Style,
    checked_label,
    checked_period,
    figure_of,
    render_svg,
)
from api.deps import StatsDep, StoreDep
from api.errors import responses
from api.intake import MAX_FIELD_CHARS, checked_text
from api.responses import STATS_CACHE_CONTROL
from counter.record.recorder import page_path

router = APIRouter(tags=["embed"])

SVG = "image/svg+xml"
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"


@router.get(
    "/counter/{site}.svg",
    summary="The counter as an image (SVG), for pages without JavaScript; never counts",
    response_class=Response,
    responses={
        200: {"content": {SVG: {}}},
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        **responses(400, 404, 503),
    },
)
async def get_counter_svg(
    request: Request,
    store: StoreDep,
    reader: StatsDep,
    site: str,
    url: Annotated[
        str | None,
        Query(max_length=MAX_FIELD_CHARS["url"], description="a page: its all-time views"),
    ] = None,
    period: Annotated[
        str | None, Query(max_length=16, description=f"{', '.join(FIGURES)}; default total")
    ] = None,
    label: Annotated[
        str | None,
        Query(max_length=MAX_LABEL_CHARS, description="default: the figure's name; empty: none"),
    ] = None,
    lang: Annotated[
        Literal["vi", "en"] | None, Query(description="default: the site's locale")
    ] = None,
    style: Style = Style.flat,
    digits: Annotated[
        int, Query(ge=MIN_DIGITS, le=MAX_DIGITS, description="odometer: wheels shown")
    ] = 8,
) -> Response:
    config = await store.sites.get(site)
    figure = checked_period(period, page=url is not None)
    if url is not None:
        page_path(config, checked_text("url", url))  # the host check a hit of it meets
    stats = await reader.read(config.id, url)
    display = stats.get("display") or {"locale": config.locale, "grouping": config.grouping}
    locale = lang or display["locale"]
    body = render_svg(
        figure_of(stats, figure),
        checked_label(label, figure, locale),
        style,
        display["grouping"],
        digits,
    ).encode()
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {
        "Cache-Control": STATS_CACHE_CONTROL,
        "ETag": etag,
        "Content-Security-Policy": SVG_CSP,
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=SVG, headers=headers)
