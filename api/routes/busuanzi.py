"""The Busuanzi drop-in: ``/busuanzi.js``, loaded instead of the original script with
``data-site``, and the JSONP endpoint it (and the original's protocol) speaks,
``/busuanzi?jsonpCallback=NAME`` answering ``NAME({"site_pv", "site_uv", "page_pv",
"version"})``: site_pv is the site's pageviews all time, site_uv its visitors all time,
page_pv the page's views. The original's call names no site (themes send only the Referer):
without ``site``, the site is the one whose domains include the page's host.

A request counts the page as ``/api/hit.gif`` does (the same recorder, origin check and
exclusions), unless ``count=0``; the callback name is checked against a strict identifier
pattern, so the answer can only ever call a function.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from typing import Annotated

import orjson
from fastapi import APIRouter, FastAPI, Query, Request
from starlette.responses import Response

from api.deps import RecorderDep, SettingsDep, StatsDep, StoreDep
from api.errors import responses
from api.intake import MAX_FIELD_CHARS, header_map, make_hit
from api.routes.embed import Asset, VersionQuery, _script, compact_js
from counter.errors import InvalidInput
from counter.figures.busuanzi import SitesByHost, busuanzi_numbers
from counter.record.hit import Event

CALLBACK = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@asynccontextmanager
async def load_busuanzi(app: FastAPI) -> AsyncIterator[None]:
    source = (files("api") / "static" / "busuanzi.js").read_text(encoding="utf-8")
    app.state.busuanzi_js = Asset.of(compact_js(source), "text/javascript; charset=utf-8")
    app.state.busuanzi_hosts = None  # a SitesByHost, made on the first call on this process' store
    yield


def _sites_by_host(request: Request, store: StoreDep) -> SitesByHost:
    hosts: SitesByHost | None = request.app.state.busuanzi_hosts
    if hosts is None:
        hosts = request.app.state.busuanzi_hosts = SitesByHost(store.registry, store.clock)
    return hosts


router = APIRouter(tags=["busuanzi"], lifespan=load_busuanzi)


@router.get(
    "/busuanzi.js",
    summary="The Busuanzi drop-in: fills busuanzi_value_* spans, shows busuanzi_container_*",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}, 304: {"description": "Not modified"}},
)
async def get_busuanzi_js(request: Request, v: VersionQuery = None) -> Response:
    asset: Asset = request.app.state.busuanzi_js
    return _script(request, asset, v)


@router.get(
    "/busuanzi",
    summary="Busuanzi's JSONP: counts the page and calls NAME with its numbers",
    response_class=Response,
    responses={
        200: {"description": "NAME({...})", "content": {"application/javascript": {}}},
        **responses(400, 403, 404, 503),
    },
)
async def get_busuanzi(
    request: Request,
    recorder: RecorderDep,
    reader: StatsDep,
    settings: SettingsDep,
    store: StoreDep,
    callback: Annotated[str, Query(alias="jsonpCallback", max_length=64)],
    site: Annotated[
        str | None,
        Query(
            max_length=MAX_FIELD_CHARS["site"],
            description="default: the site whose domains include the page's host",
        ),
    ] = None,
    url: Annotated[
        str | None, Query(max_length=MAX_FIELD_CHARS["url"], description="default: the Referer")
    ] = None,
    count: Annotated[bool, Query(description="false: read only, count nothing")] = True,
) -> Response:
    if not CALLBACK.fullmatch(callback):
        raise InvalidInput("jsonpCallback must be an identifier: letters, digits and '_'")
    headers = header_map(request.headers.raw)
    page = url or headers.get("referer")
    if not page:
        raise InvalidInput(
            "url is required when the request has no Referer"
            + ("" if site else " (and site, which the page's host would give)")
        )
    if not site:
        site = await _sites_by_host(request, store).site_of(url, headers.get("referer"))
    page_views = None
    if count:
        peer = request.client.host if request.client else None
        hit = make_hit(headers, peer, settings.trusted_proxies, site, page, Event.pageview, None)
        page_views = int((await recorder.record(hit)).box.get("page_views", 0))
    numbers = await busuanzi_numbers(reader, site, page, page_views)
    body = f"try{{{callback}({orjson.dumps(numbers).decode()});}}catch(e){{}}"
    return Response(
        body,
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )
