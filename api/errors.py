"""Domain errors mapped to HTTP in one place; every error body is ``{"detail": "..."}``."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError

from api.responses import JSONResponse
from counter.errors import (
    BodyTooLarge,
    InvalidInput,
    OriginRejected,
    RateLimited,
    StoreUnavailable,
    UnknownSite,
    VisitorStatsError,
)

log = logging.getLogger("visitor_stats.api")

STATUS = {
    InvalidInput: 400,
    OriginRejected: 403,
    UnknownSite: 404,
    BodyTooLarge: 413,
    RateLimited: 429,
    StoreUnavailable: 503,
}

# Documented on every route that can answer them (OpenAPI `responses=`).
ERROR_MODEL = {
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {"detail": {"type": "string"}},
                "required": ["detail"],
            }
        }
    }
}


def responses(*codes: int) -> dict[int | str, dict[str, object]]:
    descriptions = {
        400: "Malformed request",
        401: "Missing or wrong admin token",
        403: "Origin not allowed for the site, or admin endpoints disabled",
        404: "Unknown site",
        413: "Body too large",
        429: "Rate limited",
        503: "Store unavailable",
    }
    return {code: {"description": descriptions[code], **ERROR_MODEL} for code in codes}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def install(app: FastAPI) -> None:
    @app.exception_handler(VisitorStatsError)
    async def _domain(_: Request, exc: VisitorStatsError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=STATUS.get(type(exc), 400))

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=400)

    @app.exception_handler(RedisError)
    async def _store(_: Request, exc: RedisError) -> JSONResponse:
        log.error("store error: %s", type(exc).__name__)
        return JSONResponse(
            {"detail": "the store is unavailable; try again shortly"}, status_code=503
        )
