"""The OpenAPI description of the two hot-path routes (:mod:`api.hotpath`), which answer
outside FastAPI's routing: merged into the app's schema beside its own routes."""

from __future__ import annotations

from typing import Any

from api.errors import responses
from api.intake import MAX_FIELD_CHARS
from counter.periods import CURRENT
from counter.record.hit import Event

HIT_BODY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["site", "url"],
    "properties": {
        "site": {
            "type": "string",
            "maxLength": MAX_FIELD_CHARS["site"],
            "example": "svhttdl.travinh.gov.vn",
        },
        "url": {
            "type": "string",
            "maxLength": MAX_FIELD_CHARS["url"],
            "example": "https://svhttdl.travinh.gov.vn/a",
        },
        "referrer": {"type": "string", "maxLength": MAX_FIELD_CHARS["referrer"]},
        "event": {
            "type": "string",
            "enum": [e.value for e in Event],
            "default": Event.pageview.value,
        },
    },
}
BOX_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {k: {"type": "integer"} for k in ("page_views", "online", *CURRENT)},
}


def _errors(*codes: int) -> dict[str, Any]:
    return {str(code): answer for code, answer in responses(*codes).items()}


OPENAPI_PATHS: dict[str, Any] = {
    "/api/hit": {
        "post": {
            "tags": ["hits"],
            "summary": "Record a pageview or heartbeat",
            "description": "Bots, prefetches, opted-out visitors (`Sec-GPC: 1`, `DNT: 1`), "
            "referrer spam and hits over a flood cap are answered like any pageview (200 with "
            "the box) but not counted: they show up by reason in the `excluded` figures of "
            "`/api/stats`.",
            "operationId": "post_hit_api_hit_post",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": HIT_BODY_SCHEMA},
                    "text/plain": {
                        "schema": {
                            "type": "string",
                            "description": "the same JSON, as navigator.sendBeacon sends it",
                        }
                    },
                },
            },
            "responses": {
                "200": {
                    "description": "Pageview recorded; the box's numbers",
                    "content": {"application/json": {"schema": BOX_SCHEMA}},
                },
                "202": {
                    "description": "The store is unreachable: the hit is kept in the spool and "
                    "counted when the store is back",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "accepted": {"type": "boolean"},
                                    "spooled": {"type": "boolean"},
                                },
                            }
                        }
                    },
                },
                "204": {"description": "Heartbeat recorded"},
                **_errors(400, 403, 404, 413, 415, 503),
            },
        }
    },
    "/api/stats": {
        "get": {
            "tags": ["stats"],
            "summary": "The box's numbers for a site",
            "operationId": "get_stats_api_stats_get",
            "parameters": [
                {
                    "name": "site",
                    "in": "query",
                    "required": True,
                    "description": "site id, e.g. svhttdl.travinh.gov.vn",
                    "schema": {"type": "string", "maxLength": MAX_FIELD_CHARS["site"]},
                },
                {
                    "name": "url",
                    "in": "query",
                    "required": False,
                    "description": "a page, for its views",
                    "schema": {"type": "string", "maxLength": MAX_FIELD_CHARS["url"]},
                },
            ],
            "responses": {
                "200": {
                    "description": "The summary: every period of every measure, the day's "
                    "exclusions, the definitions, and whether it is stale",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                **_errors(400, 404, 503),
            },
        }
    },
}
