"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from redis.exceptions import RedisError

from api.deps import RecorderDep
from api.responses import JSONResponse

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="Ready to take hits: the store answers (ready), or hits spool (degraded)",
    responses={
        503: {"description": "The store does not answer and hits cannot be spooled"},
    },
)
async def readyz(recorder: RecorderDep) -> JSONResponse:
    """While the store is down but the spool takes hits the answer is 200 "degraded": the
    replica still acknowledges every hit, so a load balancer should keep sending them."""
    spool = recorder.spool
    spooled = spool.pending if spool is not None else 0
    try:
        await recorder.store.redis.ping()
    except (RedisError, OSError) as exc:
        detail = f"store unreachable ({type(exc).__name__}); hits are spooled"
        if spool is None or spool.full:
            return JSONResponse(
                {"status": "unavailable", "detail": "store unreachable and no room to spool"},
                status_code=503,
            )
        return JSONResponse({"status": "degraded", "detail": detail, "spooled": spooled})
    return JSONResponse({"status": "ready", "spooled": spooled})
