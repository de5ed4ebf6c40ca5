"""Reading the numbers: ``GET /api/stats`` and ``GET /api/stats/history``."""

from __future__ import annotations

import hashlib
from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import StoreDep
from api.errors import responses
from api.responses import JSONResponse
from counter.adjustments import list_adjustments
from counter.stats import parse_day, read_history, read_stats

router = APIRouter(tags=["stats"])

# A CDN or browser may reuse an answer a few seconds: the summary changes once a pass anyway.
CACHE_CONTROL = "public, max-age=5, stale-while-revalidate=30"

SiteQuery = Annotated[
    str, Query(max_length=100, description="site id, e.g. svhttdl.travinh.gov.vn")
]


def _cached_json(request: Request, content: object) -> Response:
    body = orjson.dumps(content)
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = {"Cache-Control": CACHE_CONTROL, "ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


@router.get(
    "/api/stats", summary="The box's numbers for a site", responses=responses(400, 404, 503)
)
async def get_stats(
    request: Request,
    store: StoreDep,
    site: SiteQuery,
    url: Annotated[str | None, Query(max_length=2048, description="a page, for its views")] = None,
) -> Response:
    return _cached_json(request, await read_stats(store, site, url))


@router.get(
    "/api/stats/history",
    summary="Daily rows: date, pageviews, visits, visitors",
    responses=responses(400, 404, 503),
)
async def get_history(
    request: Request,
    store: StoreDep,
    site: SiteQuery,
    first: Annotated[str, Query(alias="from", max_length=10, description="YYYY-MM-DD")],
    last: Annotated[str, Query(alias="to", max_length=10, description="YYYY-MM-DD")],
) -> Response:
    rows = await read_history(store, site, parse_day(first, "from"), parse_day(last, "to"))
    return _cached_json(request, {"site": site.strip().lower(), "rows": rows})


@router.get(
    "/api/stats/adjustments",
    summary="The ledger of audited all-time adjustments",
    responses=responses(400, 404, 503),
)
async def get_adjustments(store: StoreDep, site: SiteQuery) -> JSONResponse:
    return JSONResponse(
        {"site": site.strip().lower(), "adjustments": await list_adjustments(store, site)}
    )
