"""``GET /metrics``: the Prometheus exposition of this process, or of every process of `serve`.

A plain function, so FastAPI runs it in its thread pool: in multiprocess mode it reads files.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from api.metrics import ApiMetrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (text exposition format)",
    response_class=Response,
    responses={200: {"description": "Prometheus text format", "content": {"text/plain": {}}}},
)
def metrics(request: Request) -> Response:
    api_metrics: ApiMetrics = request.app.state.metrics
    body, content_type = api_metrics.exposition()
    return Response(body, media_type=content_type)
