"""Reading the numbers: ``GET /api/stats/history``, the most viewed pages
(``GET /api/stats/top``) and the adjustments ledger (``GET /api/stats`` is on the hot path,
:mod:`api.hotpath`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from api.deps import StoreDep
from api.errors import responses
from api.intake import MAX_FIELD_CHARS
from api.responses import JSONResponse, cacheable_json
from counter.figures.adjustments import list_adjustments
from counter.figures.history import history_span, parse_day, read_history
from counter.figures.top import DEFAULT_LIMIT, MAX_LIMIT, TOP_PERIODS, read_live, read_top
from counter.keys import validate_site_id
from counter.periods import local_date

router = APIRouter(tags=["stats"])

SiteQuery = Annotated[
    str,
    Query(max_length=MAX_FIELD_CHARS["site"], description="site id, e.g. svhttdl.travinh.gov.vn"),
]


def _cached_json(request: Request, content: object) -> Response:
    status, headers, body = cacheable_json(content, request.headers.get("if-none-match"))
    return Response(body, status_code=status, headers=headers)


@router.get(
    "/api/stats/history",
    summary="Daily rows: date, pageviews, visits, visitors (default: the last 30 days)",
    responses=responses(400, 404, 503),
)
async def get_history(
    request: Request,
    store: StoreDep,
    site: SiteQuery,
    first: Annotated[
        str | None,
        Query(alias="from", max_length=10, description="YYYY-MM-DD; default: 30 days before to"),
    ] = None,
    last: Annotated[
        str | None,
        Query(alias="to", max_length=10, description="YYYY-MM-DD; default: the site's today"),
    ] = None,
) -> Response:
    config = await store.sites.get(site)
    start, end = history_span(
        local_date(store.clock.now(), config.tz),
        parse_day(first, "from") if first is not None else None,
        parse_day(last, "to") if last is not None else None,
    )
    rows = await read_history(store, config.id, start, end)
    return _cached_json(request, {"site": config.id, "rows": rows})


PeriodQuery = Annotated[
    str,
    Query(
        max_length=16,
        description=f"one of {', '.join(TOP_PERIODS)}",
        json_schema_extra={"enum": list(TOP_PERIODS)},
    ),
]
LimitQuery = Annotated[
    int, Query(ge=1, le=MAX_LIMIT, description=f"how many pages, 1 to {MAX_LIMIT}")
]


@router.get(
    "/api/stats/top",
    summary="The most viewed pages of a period, with their titles (Tin xem nhiều)",
    responses=responses(400, 404, 503),
)
async def get_top(
    request: Request,
    store: StoreDep,
    site: SiteQuery,
    period: PeriodQuery = "today",
    limit: LimitQuery = DEFAULT_LIMIT,
) -> Response:
    return _cached_json(request, await read_top(store, site, period, limit))


@router.get(
    "/api/stats/live",
    summary="The pages being read now: most readers online first",
    responses=responses(400, 404, 503),
)
async def get_live(
    request: Request, store: StoreDep, site: SiteQuery, limit: LimitQuery = DEFAULT_LIMIT
) -> Response:
    return _cached_json(request, await read_live(store, site, limit))


@router.get(
    "/api/stats/adjustments",
    summary="The ledger of audited all-time adjustments",
    responses=responses(400, 404, 503),
)
async def get_adjustments(store: StoreDep, site: SiteQuery) -> JSONResponse:
    return JSONResponse(
        {"site": validate_site_id(site), "adjustments": await list_adjustments(store, site)}
    )
