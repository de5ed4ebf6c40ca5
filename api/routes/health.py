"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import RedisError

from api.deps import StoreDep
from api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="The store answers",
    responses={503: {"description": "The store does not answer"}},
)
async def readyz(store: StoreDep) -> JSONResponse:
    try:
        await store.redis.ping()
    except RedisError as exc:
        return JSONResponse(
            {"status": "degraded", "detail": f"store unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    return JSONResponse({"status": "ready"})
