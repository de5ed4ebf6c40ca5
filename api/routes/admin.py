"""Admin writes (sites, adjustments), guarded by ``VISITOR_STATS_ADMIN_TOKEN``."""

from __future__ import annotations

import hmac
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel, Field

from api.deps import SettingsDep, StoreDep
from api.errors import responses
from api.responses import JSONResponse
from counter.figures.adjustments import adjust_total
from counter.sites import Measure, make_site


async def require_admin(
    settings: SettingsDep, authorization: Annotated[str | None, Header()] = None
) -> None:
    expected = settings.admin_token
    if expected is None:
        raise HTTPException(403, "admin endpoints are disabled: set VISITOR_STATS_ADMIN_TOKEN")
    scheme, _, given = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), expected.get_secret_value().encode()
    ):
        raise HTTPException(401, "send Authorization: Bearer <VISITOR_STATS_ADMIN_TOKEN>")


router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])


class SiteIn(BaseModel):
    id: str = Field(max_length=100)
    domains: list[str] = Field(min_length=1, max_length=50)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    week_start: str = Field(default="monday", max_length=16)
    measure: Measure = Measure.visits
    locale: Literal["vi", "en"] = "vi"
    grouping: Literal[".", ","] = "."
    keep_query: bool = False


class AdjustmentIn(BaseModel):
    total: int = Field(ge=0, le=10**15)
    reason: str = Field(min_length=1, max_length=500)


@router.post("/sites", summary="Add or update a site", responses=responses(400, 401, 403))
async def put_site(store: StoreDep, body: SiteIn) -> JSONResponse:
    site = make_site(**body.model_dump())
    await store.registry.put(site)
    store.sites.forget(site.id)
    return JSONResponse(site.model_dump(mode="json"), status_code=201)


@router.delete("/sites/{site}", summary="Remove a site", responses=responses(400, 401, 403, 404))
async def delete_site(store: StoreDep, site: str) -> JSONResponse:
    await store.registry.remove(site)
    store.sites.forget(site)
    return JSONResponse({"removed": site})


@router.post(
    "/sites/{site}/adjustments",
    summary="Set the all-time figure (audited)",
    responses=responses(400, 401, 403, 404),
)
async def post_adjustment(store: StoreDep, site: str, body: AdjustmentIn) -> JSONResponse:
    return JSONResponse(await adjust_total(store, site, body.total, body.reason), status_code=201)
