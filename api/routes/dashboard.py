"""The site owner's dashboard (issue 15): ``/dashboard/{site}``, its data and its CSV.

The page itself holds no figures: it is the same shell for everyone, and its script reads
``/api/dashboard/{site}``, which is open when the site chose ``--public-dashboard`` and
otherwise needs the site's read token (or the admin token). The owner's link carries the
token in its fragment (``/dashboard/SITE#token=vsr....``): a fragment never reaches a server,
so the token is in no access log, and the script sends it as ``Authorization: Bearer``.

The chart is uPlot, vendored from npm at a pinned version (``api/static/vendor``) and served
from here: the page loads nothing from elsewhere, and works offline.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib.resources import files
from string import Template
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from starlette.responses import Response

from api.deps import SettingsDep, StatsDep, StoreDep
from api.display import LABELS, ROWS
from api.errors import responses
from api.responses import JSONResponse
from counter.access import KeyRing, KeyScope, bearer
from counter.errors import KeyRefused
from counter.figures.dashboard import EXCLUDED_PERIOD, day_range, site_periods, top_period
from counter.figures.history import MAX_HISTORY_DAYS, export_spans, read_history
from counter.figures.imports import CSV_FIELDS
from counter.figures.top import MAX_LIMIT, TOP_PERIODS, check_period, read_top
from counter.record.verdicts import Exclusion
from counter.sites import Site

UPLOT = "uplot-1.6.32.iife.min.js"
RANGES_DAYS = (7, 30, 90, 365)
DEFAULT_DAYS = 30
ASSET_CACHE = "public, max-age=3600"
VERSIONED_CACHE = "public, max-age=31536000, immutable"
# Its own script and style and the vendored chart; data from this origin only; no frames.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "connect-src 'self'; img-src 'self' data: blob:; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)

TEXTS = {
    "vi": {
        "title": "Bảng thống kê",
        "chart": "Lượt truy cập và lượt xem trang theo ngày",
        "days": "{n} ngày",
        "range": "Khoảng thời gian",
        "visits": "Lượt truy cập",
        "pageviews": "Lượt xem trang",
        "visitors": "Khách",
        "date": "Ngày",
        "rows": "Số liệu từng ngày",
        "top": "Trang được xem nhiều nhất",
        "page": "Trang",
        "views": "Lượt xem",
        "excluded": "Không tính, theo lý do",
        "reason": "Lý do",
        "hits": "Lượt",
        "download": "Tải CSV",
        "token": "Mã đọc",
        "open": "Mở",
        "need_token": "Bảng thống kê của trang này cần mã đọc (read token) của trang.",
        "bad_token": "Mã đọc không đúng, đã bị thu hồi, hoặc là mã của trang khác.",
        "error": "Không tải được số liệu; thử lại sau.",
        "none": "Chưa có dữ liệu",
        "updated": "Cập nhật lúc",
        "stale": "số liệu chưa mới",
    },
    "en": {
        "title": "Dashboard",
        "chart": "Visits and pageviews by day",
        "days": "{n} days",
        "range": "Range",
        "visits": "Visits",
        "pageviews": "Pageviews",
        "visitors": "Visitors",
        "date": "Date",
        "rows": "Daily figures",
        "top": "Most viewed pages",
        "page": "Page",
        "views": "Views",
        "excluded": "Not counted, by reason",
        "reason": "Reason",
        "hits": "Hits",
        "download": "Download CSV",
        "token": "Read token",
        "open": "Open",
        "need_token": "This site's dashboard needs the site's read token.",
        "bad_token": "The read token is wrong, revoked, or another site's.",
        "error": "The figures could not be loaded; try again later.",
        "none": "No data yet",
        "updated": "Updated at",
        "stale": "figures not current",
    },
}
REASONS = {
    "vi": {
        Exclusion.bot: "Bot, trình thu thập",
        Exclusion.prefetch: "Tải trước",
        Exclusion.rate_limited: "Vượt giới hạn",
        Exclusion.origin_rejected: "Nguồn không được phép",
        Exclusion.invalid: "Không hợp lệ",
        Exclusion.spam: "Spam giới thiệu",
        Exclusion.opt_out: "Từ chối theo dõi (GPC/DNT)",
    },
    "en": {
        Exclusion.bot: "Bots and crawlers",
        Exclusion.prefetch: "Prefetches",
        Exclusion.rate_limited: "Over a rate cap",
        Exclusion.origin_rejected: "Origin not allowed",
        Exclusion.invalid: "Invalid",
        Exclusion.spam: "Referrer spam",
        Exclusion.opt_out: "Opted out (GPC/DNT)",
    },
}


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    media_type: str
    version: str

    @classmethod
    def of(cls, body: bytes, media_type: str) -> Asset:
        return cls(body, media_type, hashlib.blake2b(body, digest_size=8).hexdigest())


@dataclass(frozen=True, slots=True)
class DashboardFiles:
    page: Template
    script: Asset
    style: Asset
    chart: Asset


def load_files() -> DashboardFiles:
    static = files("api") / "static"
    js = "text/javascript; charset=utf-8"
    return DashboardFiles(
        page=Template((static / "dashboard.html").read_text(encoding="utf-8")),
        script=Asset.of((static / "dashboard.js").read_bytes(), js),
        style=Asset.of((static / "dashboard.css").read_bytes(), "text/css; charset=utf-8"),
        chart=Asset.of((static / "vendor" / UPLOT).read_bytes(), js),
    )


@asynccontextmanager
async def load_dashboard_files(app: FastAPI) -> AsyncIterator[None]:
    app.state.dashboard_files = load_files()
    yield


router = APIRouter(tags=["dashboard"], lifespan=load_dashboard_files)


def _files(request: Request) -> DashboardFiles:
    loaded: DashboardFiles = request.app.state.dashboard_files
    return loaded


def _asset(request: Request, asset: Asset, v: str | None) -> Response:
    etag = f'"{asset.version}"'
    headers = {
        "Cache-Control": VERSIONED_CACHE if v == asset.version else ASSET_CACHE,
        "ETag": etag,
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match", "").removeprefix("W/") == etag:
        return Response(status_code=304, headers=headers)
    return Response(asset.body, media_type=asset.media_type, headers=headers)


VersionQuery = Annotated[str | None, Query(max_length=32, description="the file's version")]


def _file_answers(media_type: str) -> dict[int | str, dict[str, object]]:
    return {200: {"content": {media_type: {}}}, 304: {"description": "Not modified"}}


@router.get(
    "/dashboard.js",
    summary="The dashboard's script",
    response_class=Response,
    responses=_file_answers("text/javascript"),
)
async def get_dashboard_js(request: Request, v: VersionQuery = None) -> Response:
    return _asset(request, _files(request).script, v)


@router.get(
    "/dashboard.css",
    summary="The dashboard's style",
    response_class=Response,
    responses=_file_answers("text/css"),
)
async def get_dashboard_css(request: Request, v: VersionQuery = None) -> Response:
    return _asset(request, _files(request).style, v)


@router.get(
    f"/vendor/{UPLOT}",
    summary="uPlot 1.6.32 (MIT), vendored from npm",
    response_class=Response,
    responses=_file_answers("text/javascript"),
)
async def get_uplot(request: Request, v: VersionQuery = None) -> Response:
    return _asset(request, _files(request).chart, v)


async def readable_site(
    request: Request, store: StoreDep, settings: SettingsDep, site: str
) -> Site:
    """The site, when its figures may be read: a public dashboard, or the site's read token
    (or the admin token) as ``Authorization: Bearer``. KeyRefused (401) or KeyForbidden (403)."""
    config = await store.sites.get(site)
    if config.public_dashboard:
        return config
    token = bearer(request.headers.get("authorization"))
    if token is None:
        raise KeyRefused(
            f"the dashboard of {config.id!r} is not public: send Authorization: Bearer "
            "<read token> (`visitor-stats sites keys add SITE --scope read`)"
        )
    admin = settings.admin_token
    if admin is not None and hmac.compare_digest(token.encode(), admin.get_secret_value().encode()):
        return config
    keys: KeyRing = request.app.state.access
    await keys.verify(token, KeyScope.read, config.id)
    return config


ReadableSite = Annotated[Site, Depends(readable_site)]
DaysQuery = Annotated[
    int, Query(ge=1, le=MAX_HISTORY_DAYS, description="the last N days up to today")
]
FromQuery = Annotated[
    str | None, Query(alias="from", max_length=10, description="YYYY-MM-DD (instead of days)")
]
ToQuery = Annotated[str | None, Query(alias="to", max_length=10, description="YYYY-MM-DD")]
READ_ERRORS = (400, 401, 403, 404, 503)


@router.get(
    "/api/dashboard/{site}",
    summary="What the dashboard shows: the box's figures, daily rows, top pages, exclusions",
    responses=responses(*READ_ERRORS),
)
async def get_dashboard_data(
    store: StoreDep,
    reader: StatsDep,
    config: ReadableSite,
    days: DaysQuery = DEFAULT_DAYS,
    first: FromQuery = None,
    last: ToQuery = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="top pages")] = 10,
    top: Annotated[
        str | None,
        Query(
            max_length=16,
            description=f"the top pages' period ({', '.join(TOP_PERIODS)}); default: the "
            "shortest that holds the range",
        ),
    ] = None,
) -> JSONResponse:
    periods = await site_periods(store, config.id)
    start, end = day_range(periods.today, days, first, last)
    period = check_period(top) if top is not None else top_period(periods, start, end)
    ranked = await read_top(store, config.id, period, limit)
    summary = await reader.read(config.id)
    return JSONResponse(
        {
            "site": config.id,
            "from": start.isoformat(),
            "to": end.isoformat(),
            "summary": summary,
            "rows": await read_history(store, config.id, start, end),
            "top_period": period,
            "top_pages": ranked["pages"],
            "excluded_period": EXCLUDED_PERIOD,
            "excluded": summary.get("excluded", {}),
        },
        headers={"Cache-Control": "private, no-store"},
    )


@router.get(
    "/api/dashboard/{site}/export",
    summary="The daily history as CSV (date,pageviews,visits,visitors) or JSON",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {}, "application/json": {}}},
        **responses(*READ_ERRORS),
    },
)
async def get_export(
    store: StoreDep,
    config: ReadableSite,
    days: DaysQuery = DEFAULT_DAYS,
    first: FromQuery = None,
    last: ToQuery = None,
    fmt: Annotated[Literal["csv", "json"], Query(alias="format")] = "csv",
) -> Response:
    start, end = day_range((await site_periods(store, config.id)).today, days, first, last)
    rows = []
    for a, b in export_spans(start, end):
        rows += await read_history(store, config.id, a, b)
    name = f"{config.id}-{start.isoformat()}-{end.isoformat()}.{fmt}"
    headers = {
        "Content-Disposition": f'attachment; filename="{name}"',
        "Cache-Control": "private, no-store",
    }
    if fmt == "json":
        return JSONResponse({"site": config.id, "rows": rows}, headers=headers)
    lines = [",".join(CSV_FIELDS), *(",".join(str(r[f]) for f in CSV_FIELDS) for r in rows)]
    return Response("\n".join(lines) + "\n", media_type="text/csv; charset=utf-8", headers=headers)


def render_page(files_: DashboardFiles, site: Site, lang: str) -> str:
    texts = TEXTS[lang]
    config = {
        "site": site.id,
        "lang": lang,
        "grouping": site.grouping,
        "public": site.public_dashboard,
        "texts": texts,
        "labels": LABELS[lang],
        "rows": list(ROWS),
        "reasons": {reason.value: name for reason, name in REASONS[lang].items()},
        "default_days": DEFAULT_DAYS,
    }
    buttons = "".join(
        f'<button type="button" data-days="{n}" aria-pressed="{str(n == DEFAULT_DAYS).lower()}">'
        f"{html.escape(texts['days'].format(n=n))}</button>"
        for n in RANGES_DAYS
    )
    other = "en" if lang == "vi" else "vi"
    return files_.page.substitute(
        lang=lang,
        site=html.escape(site.id),
        title=html.escape(texts["title"]),
        config=json.dumps(config, ensure_ascii=False).replace("</", "<\\/"),
        css_version=files_.style.version,
        js_version=files_.script.version,
        uplot=UPLOT,
        uplot_version=files_.chart.version,
        other_lang=other,
        other_lang_name="English" if other == "en" else "Tiếng Việt",
        range_label=html.escape(texts["range"]),
        range_buttons=buttons,
        chart=html.escape(texts["chart"]),
        download=html.escape(texts["download"]),
        rows=html.escape(texts["rows"]),
        date=html.escape(texts["date"]),
        visits=html.escape(texts["visits"]),
        pageviews=html.escape(texts["pageviews"]),
        visitors=html.escape(texts["visitors"]),
        top=html.escape(texts["top"]),
        page=html.escape(texts["page"]),
        views=html.escape(texts["views"]),
        excluded=html.escape(texts["excluded"]),
        reason=html.escape(texts["reason"]),
        hits=html.escape(texts["hits"]),
        token=html.escape(texts["token"]),
        open=html.escape(texts["open"]),
    )


@router.get(
    "/dashboard/{site}",
    summary="The site owner's dashboard page (its data: /api/dashboard/{site})",
    response_class=Response,
    responses={200: {"content": {"text/html": {}}}, **responses(400, 404, 503)},
)
async def get_dashboard(
    request: Request,
    store: StoreDep,
    site: str,
    lang: Annotated[
        Literal["vi", "en"] | None, Query(description="default: the site's locale")
    ] = None,
) -> Response:
    config = await store.sites.get(site)
    body = render_page(_files(request), config, lang or config.locale)
    return Response(
        body,
        media_type="text/html; charset=utf-8",
        headers={
            "Content-Security-Policy": PAGE_CSP,
            "Cache-Control": "private, max-age=60",
            "Referrer-Policy": "no-referrer",
            "X-Robots-Tag": "noindex",
        },
    )
