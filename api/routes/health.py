"""Liveness and readiness."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Request
from redis.exceptions import RedisError

from api.deps import RecorderDep
from api.responses import JSONResponse
from counter.figures.summary import summary_max_age

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> JSONResponse:
    return JSONResponse({"status": "ok"})


@router.get(
    "/readyz",
    summary="Ready: the store answers and the summaries are fresh (ready), or hits spool "
    "(degraded)",
    responses={
        503: {
            "description": 'The store does not answer and hits cannot be spooled ("unavailable")'
        },
    },
)
async def readyz(request: Request, recorder: RecorderDep) -> JSONResponse:
    """While the store is down but the spool takes hits the answer is 200 "degraded": the
    replica still acknowledges every hit, so a load balancer should keep sending them.

    Fresh summaries: the aggregator stamps the end of each successful pass in the store
    (``Keys.last_pass``), read here with one GET that also proves the store answers. Older
    than ``summary_max_age`` (three intervals, at least 15 s) is "stale", answered 200: the
    figures people see are frozen, but this replica still takes every hit, and a 503 would
    take every replica out of its load balancer at once (one dead aggregator refusing all
    hits). Monitors read the status; the aggregator's own metrics and alerts page.

    No pass stamped yet (a fresh deployment, a store just flushed, an aggregator of an older
    release): "ready" for ``summary_max_age`` after this worker's first readiness check, the
    time a starting aggregator needs for its first pass; "stale" after that, so an aggregator
    that never manages one is told too.
    """
    store = recorder.store
    spool = recorder.spool
    spooled = spool.pending if spool is not None else 0
    try:
        raw = await store.redis.get(store.keys.last_pass)
    except (RedisError, OSError) as exc:
        detail = f"store unreachable ({type(exc).__name__}); hits are spooled"
        if spool is None or spool.full:
            return JSONResponse(
                {"status": "unavailable", "detail": "store unreachable and no room to spool"},
                status_code=503,
            )
        return JSONResponse({"status": "degraded", "detail": detail, "spooled": spooled})
    now = store.clock.now()
    max_age = summary_max_age(store.settings.aggregate_interval_s)
    stale = _staleness(raw, now, max_age, _first_check(request, now))
    if stale is not None:
        return JSONResponse({"status": "stale", "detail": stale, "spooled": spooled})
    return JSONResponse({"status": "ready", "spooled": spooled})


def _first_check(request: Request, now: datetime) -> datetime:
    """When this worker (this app) answered its first readiness check: it stands for the
    worker's start, which probes follow within seconds."""
    state = request.app.state
    first: datetime | None = getattr(state, "first_readiness_check", None)
    if first is None:
        first = state.first_readiness_check = now
    return first


def _staleness(
    raw: bytes | str | None, now: datetime, max_age: timedelta, first_check: datetime
) -> str | None:
    """Why the summaries count as stale, or None when they are fresh enough."""
    limit_s = int(max_age.total_seconds())
    if raw is None:
        waited = now - first_check
        if waited <= max_age:
            return None
        return (
            f"no aggregation pass recorded in the {int(waited.total_seconds())} s since this "
            f"worker started (limit {limit_s} s): is the aggregator running?"
        )
    text = raw.decode(errors="replace") if isinstance(raw, bytes) else raw
    try:
        last = datetime.fromisoformat(text)
    except ValueError:
        return f"the last-pass stamp in the store is not an instant ({text[:40]!r})"
    if last.tzinfo is None:
        return f"the last-pass stamp in the store has no UTC offset ({text[:40]!r})"
    age = now - last
    if age <= max_age:
        return None
    return (
        f"the last aggregation pass finished {int(age.total_seconds())} s ago "
        f"(limit {limit_s} s): the figures shown are frozen; is the aggregator running?"
    )
