"""Admin (sites, adjustments, site keys and read tokens), guarded by
``VISITOR_STATS_ADMIN_TOKEN``.

The token is checked before a body is read: by :class:`api.limits.RequestLimits` in front of
the app (FastAPI reads a route's body before it solves the route's dependencies), and again
by :func:`require_admin` on the router itself.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from api.deps import StoreDep
from api.errors import AdminDisabled, AdminThrottled, AdminUnauthorized, responses
from api.intake import header_map
from api.responses import JSONResponse
from counter.access import KeyScope, issue_key, list_keys, revoke_key
from counter.clock import Clock
from counter.figures.adjustments import adjust_total
from counter.lru import Recent
from counter.record.visitor import client_ip
from counter.settings import Settings
from counter.sites import Measure, make_site

log = logging.getLogger("visitor_stats.api")

PATH_PREFIX = "/api/admin/"
# Ten guesses a minute per address: an operator who mistyped gets a few more tries, a guesser
# of a >= 16-character token gets nowhere. Counted per worker (N workers: up to N x 10).
FAILURES_PER_MIN = 10
# Addresses remembered at once; a flood from more of them forgets the oldest first.
REMEMBERED_ADDRESSES = 4096


class AdminGuard:
    """One worker's admin token check, with its count of failed attempts per client address.

    Failures are logged without the token and without the address: the address appears as a
    short keyed hash whose key is made at start and never stored, so one run's lines can be
    told apart while the addresses cannot be recovered.
    """

    def __init__(self, settings: Settings, clock: Clock) -> None:
        self.token = settings.admin_token
        self.trusted_proxies = settings.trusted_proxies
        self.clock = clock
        self._failures: Recent[str, int] = Recent(REMEMBERED_ADDRESSES)
        self._key = secrets.token_bytes(16)

    def check(self, headers: Mapping[str, str], peer: str | None) -> None:
        """Pass, or raise :class:`AdminDisabled` (403), :class:`AdminUnauthorized` (401) or
        :class:`AdminThrottled` (429)."""
        if self.token is None:
            raise AdminDisabled("admin endpoints are disabled: set VISITOR_STATS_ADMIN_TOKEN")
        now = self.clock.now()
        minute = int(now.timestamp()) // 60
        who = self._pseudonym(client_ip(peer, headers.get("x-forwarded-for"), self.trusted_proxies))
        seen = self._failures.get(who)
        failures = seen[1] if seen is not None and int(seen[0].timestamp()) // 60 == minute else 0
        if failures >= FAILURES_PER_MIN:
            # Even the right token waits: answering it would let guessing go on at full speed.
            wait_s = 60 - now.second
            raise AdminThrottled(
                f"too many failed admin attempts from this address; try again in {wait_s} s",
                wait_s,
            )
        scheme, _, given = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            given.strip().encode(), self.token.get_secret_value().encode()
        ):
            self._failures.put(who, now, failures + 1)
            log.warning(
                "admin: refused a missing or wrong token from client %s (%d this minute)",
                who,
                failures + 1,
            )
            raise AdminUnauthorized("send Authorization: Bearer <VISITOR_STATS_ADMIN_TOKEN>")

    def _pseudonym(self, address: str) -> str:
        return hashlib.blake2b(address.encode(), key=self._key, digest_size=4).hexdigest()


async def require_admin(request: Request) -> None:
    guard: AdminGuard = request.app.state.admin_guard
    guard.check(header_map(request.headers.raw), request.client.host if request.client else None)


router = APIRouter(prefix="/api/admin", tags=["admin"], dependencies=[Depends(require_admin)])
ERRORS = (400, 401, 403, 408, 413, 429, 431)


class SiteIn(BaseModel):
    id: str = Field(max_length=100)
    domains: list[str] = Field(min_length=1, max_length=50)
    timezone: str = Field(default="Asia/Ho_Chi_Minh", max_length=64)
    week_start: str = Field(default="monday", max_length=16)
    measure: Measure = Measure.visits
    locale: Literal["vi", "en"] = "vi"
    grouping: Literal[".", ","] = "."
    keep_query: bool = False
    public_dashboard: bool = False


class KeyIn(BaseModel):
    scope: KeyScope = KeyScope.ingest
    name: str = Field(default="", max_length=100)


class AdjustmentIn(BaseModel):
    total: int = Field(ge=0, le=10**15)
    reason: str = Field(min_length=1, max_length=500)


@router.post(
    "/sites", summary="Add or update a site", status_code=201, responses=responses(*ERRORS)
)
async def put_site(store: StoreDep, body: SiteIn) -> JSONResponse:
    site = make_site(**body.model_dump())
    await store.registry.put(site)
    store.sites.forget(site.id)
    return JSONResponse(site.model_dump(mode="json"), status_code=201)


@router.delete("/sites/{site}", summary="Remove a site", responses=responses(*ERRORS, 404))
async def delete_site(store: StoreDep, site: str) -> JSONResponse:
    await store.registry.remove(site)
    store.sites.forget(site)
    return JSONResponse({"removed": site})


@router.post(
    "/sites/{site}/adjustments",
    summary="Set the all-time figure (audited)",
    status_code=201,
    responses=responses(*ERRORS, 404),
)
async def post_adjustment(store: StoreDep, site: str, body: AdjustmentIn) -> JSONResponse:
    return JSONResponse(await adjust_total(store, site, body.total, body.reason), status_code=201)


@router.get("/sites", summary="List the sites and their settings", responses=responses(*ERRORS))
async def get_sites(store: StoreDep) -> JSONResponse:
    return JSONResponse({"sites": [s.model_dump(mode="json") for s in await store.registry.all()]})


@router.post(
    "/sites/{site}/keys",
    summary="Make an ingest key or a read token for a site (the key is shown only here)",
    status_code=201,
    responses=responses(*ERRORS, 404),
)
async def post_key(store: StoreDep, site: str, body: KeyIn) -> JSONResponse:
    config = await store.registry.get(site)
    record, key = await issue_key(
        store.redis, store.keys, config.id, body.scope, body.name, store.clock.now()
    )
    return JSONResponse({**record.public(), "key": key}, status_code=201)


@router.get(
    "/sites/{site}/keys",
    summary="A site's keys and read tokens (never the keys themselves)",
    responses=responses(*ERRORS, 404),
)
async def get_keys(store: StoreDep, site: str) -> JSONResponse:
    config = await store.registry.get(site)
    keys = await list_keys(store.redis, store.keys, config.id)
    return JSONResponse({"site": config.id, "keys": [k.public() for k in keys]})


@router.delete(
    "/sites/{site}/keys/{key_id}",
    summary="Revoke a key (every worker refuses it within 5 s)",
    responses=responses(*ERRORS, 404),
)
async def delete_key(store: StoreDep, site: str, key_id: str) -> JSONResponse:
    config = await store.registry.get(site)
    record = await revoke_key(store.redis, store.keys, config.id, key_id, store.clock.now())
    return JSONResponse(record.public())
