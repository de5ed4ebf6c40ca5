"""Domain errors mapped to HTTP in one place; every error body is ``{"detail": "..."}``."""

from __future__ import annotations

import logging
import traceback
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisClusterException, RedisError

from api.responses import JSONResponse
from counter.errors import (
    BodyTooLarge,
    InvalidInput,
    KeyForbidden,
    KeyRefused,
    OriginRejected,
    StoreUnavailable,
    UnknownKey,
    UnknownSite,
    VisitorStatsError,
)

log = logging.getLogger("visitor_stats.api")


class UnsupportedMediaType(VisitorStatsError):
    """A hit body declared as something other than JSON or text/plain."""


class RequestTimedOut(VisitorStatsError):
    """A request's headers or body did not arrive within their timeout."""


class HeadersTooLarge(VisitorStatsError):
    """More header lines, or more header bytes, than the settings allow."""


class AdminDisabled(VisitorStatsError):
    """An admin request to a worker that has no admin token configured."""


class AdminUnauthorized(VisitorStatsError):
    """An admin request without the right bearer token."""


class AdminThrottled(VisitorStatsError):
    """Too many failed admin attempts from one client address this minute."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


STATUS = {
    InvalidInput: 400,
    AdminUnauthorized: 401,
    KeyRefused: 401,
    OriginRejected: 403,
    AdminDisabled: 403,
    KeyForbidden: 403,
    UnknownSite: 404,
    UnknownKey: 404,
    RequestTimedOut: 408,
    BodyTooLarge: 413,
    UnsupportedMediaType: 415,
    AdminThrottled: 429,
    HeadersTooLarge: 431,
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


def error_answer(exc: Exception) -> tuple[int, str]:
    """The status and ``detail`` for a domain error or a store error; 500 for anything else
    (whose message is never shown: it could quote a request's values)."""
    if isinstance(exc, VisitorStatsError):
        return STATUS.get(type(exc), 400), str(exc)
    # redis-py's Cluster errors (a slot without its master) are not all RedisErrors.
    if isinstance(exc, RedisError | RedisClusterException):
        log.error("store error: %s", type(exc).__name__)
        return 503, "the store is unavailable; try again shortly"
    return 500, "internal error"


def responses(*codes: int) -> dict[int | str, dict[str, object]]:
    descriptions = {
        400: "Malformed request",
        401: "Missing or wrong admin token, site key or read token",
        403: "Origin not allowed for the site, admin endpoints disabled, or a key of another "
        "site or scope",
        404: "Unknown site (or key)",
        408: "Headers or body not received within their timeout",
        413: "Body too large",
        415: "Body is neither JSON nor text/plain",
        429: "Too many failed admin attempts from this address; try again next minute",
        431: "Too many headers, or headers too large",
        503: "Store unavailable",
    }
    return {code: {"description": descriptions[code], **ERROR_MODEL} for code in codes}


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{where or 'request'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def redacted_traceback(exc: BaseException) -> str:
    """A traceback with every exception's message withheld: frames (file, line, function,
    source line) only, because a message can quote a request's values (an address, a user
    agent) and logs must never hold them."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    parts = []
    for item in reversed(chain):
        frames = "".join(traceback.format_tb(item.__traceback__))
        parts.append(
            f"Traceback (most recent call last):\n{frames}"
            f"{type(item).__module__}.{type(item).__qualname__}: (message withheld)\n"
        )
    return "\nDuring handling of the above exception, another exception occurred:\n\n".join(parts)


class RedactExceptions(logging.Filter):
    """Replaces a record's traceback text by :func:`redacted_traceback` (messages withheld)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redacted_traceback(record.exc_info[1])
        return True


# Loggers whose records may carry an exception raised while handling a request: ours, and the
# one uvicorn logs "Exception in ASGI application" on. A logger's filter sees only the records
# made on that logger, so the handlers that records propagate to get the filter too.
REDACTED_LOGGERS = ("visitor_stats", "visitor_stats.api", "uvicorn.error", "asyncio")
REDACTED_HANDLERS_OF = ("", "uvicorn", "uvicorn.error")  # "" is the root logger


def _add_once(target: logging.Filterer) -> None:
    if not any(isinstance(f, RedactExceptions) for f in target.filters):
        target.addFilter(RedactExceptions())


def redact_logged_exceptions() -> None:
    """Attach :class:`RedactExceptions` to the loggers and handlers above, once per process."""
    for name in REDACTED_LOGGERS:
        _add_once(logging.getLogger(name))
    for name in REDACTED_HANDLERS_OF:
        for handler in logging.getLogger(name).handlers:
            _add_once(handler)


def document_validation_as_400(schema: dict[str, Any]) -> dict[str, Any]:
    """FastAPI documents a 422 for every route with parameters; this app answers its
    validation errors 400 (see ``_validation``), so the schema says 400 instead."""
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            answers = operation.get("responses") if isinstance(operation, dict) else None
            if answers and answers.pop("422", None) is not None:
                answers.setdefault("400", {"description": "Malformed request", **ERROR_MODEL})
    return schema


def install(app: FastAPI, extra_paths: dict[str, Any]) -> None:
    """Map errors to answers, and describe ``extra_paths`` (routes served outside FastAPI's
    routing, as raw OpenAPI path items) in the app's schema beside its own routes."""
    redact_logged_exceptions()
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            schema["paths"] = {**extra_paths, **schema.get("paths", {})}
            app.openapi_schema = document_validation_as_400(schema)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(VisitorStatsError)
    @app.exception_handler(RedisError)
    @app.exception_handler(RedisClusterException)
    async def _mapped(_: Request, exc: Exception) -> JSONResponse:
        status, detail = error_answer(exc)
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _validation_message(exc)}, status_code=400)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        # Starlette re-raises after this answer, so the server still logs it (redacted).
        return JSONResponse({"detail": "internal error"}, status_code=500)
