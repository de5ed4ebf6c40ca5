"""The OpenAPI description of the two hot-path routes (:mod:`api.hotpath`), which answer
outside FastAPI's routing: merged into the app's schema beside its own routes."""

from __future__ import annotations

from typing import Any

import orjson

from api.errors import responses
from api.intake import MAX_BATCH_HITS, MAX_FIELD_CHARS
from counter.figures.page_views import MAX_PAGES
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
        "title": {
            "type": "string",
            "maxLength": MAX_FIELD_CHARS["title"],
            "pattern": "^[^\\x00-\\x1f\\x7f-\\x9f]*$",
            "description": "the page's title (document.title), for the most viewed lists; "
            "no control characters",
        },
        "event": {
            "type": "string",
            "enum": [e.value for e in Event],
            "default": Event.pageview.value,
        },
    },
}
# What a site's server adds with its ingest key (Authorization: Bearer vsk....): the visitor's
# address and user agent, as it saw them. Without a key these fields are ignored.
SERVER_FIELDS: dict[str, Any] = {
    "client_ip": {
        "type": "string",
        "maxLength": MAX_FIELD_CHARS["client_ip"],
        "example": "203.0.113.7",
        "description": "with a site key (required then): the visitor's IP address",
    },
    "user_agent": {
        "type": "string",
        "maxLength": MAX_FIELD_CHARS["user_agent"],
        "description": "with a site key (required then): the visitor's User-Agent",
    },
    "purpose": {
        "type": "string",
        "maxLength": MAX_FIELD_CHARS["purpose"],
        "description": "with a site key: the visitor's Sec-Purpose (prefetches are not views)",
    },
    "opt_out": {
        "type": "boolean",
        "description": "with a site key: the visitor sent Sec-GPC: 1 or DNT: 1",
    },
}
HIT_BODY_SCHEMA["properties"].update(SERVER_FIELDS)
SERVER_HIT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["url", "client_ip", "user_agent"],
    "properties": {
        **HIT_BODY_SCHEMA["properties"],
        "site": {
            **HIT_BODY_SCHEMA["properties"]["site"],
            "description": "default: the key's site",
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
            "`/api/stats`. From a site's own server: `Authorization: Bearer <ingest key>` and "
            "the visitor's `client_ip` and `user_agent` in the body; no Origin needed.",
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
                **_errors(400, 401, 403, 404, 413, 415, 503),
            },
        }
    },
    "/api/hits": {
        "post": {
            "tags": ["hits"],
            "summary": "Record a batch of hits from a site's server (its ingest key)",
            "description": f"`Authorization: Bearer <ingest key>`; 1 to {MAX_BATCH_HITS} hits, "
            "each with the visitor's `client_ip` and `user_agent`. Each hit is answered on its "
            "own, in order, with the status and body `POST /api/hit` would give it.",
            "operationId": "post_hits_api_hits_post",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["hits"],
                            "properties": {
                                "hits": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": MAX_BATCH_HITS,
                                    # Each hit is judged on its own: one that breaks
                                    # SERVER_HIT_SCHEMA gets its own 400 in `results`, and
                                    # the others count. So the batch itself imposes nothing
                                    # on an item, and the item's schema is told, not imposed.
                                    "items": {
                                        "description": "a hit: "
                                        + orjson.dumps(SERVER_HIT_SCHEMA).decode(),
                                        "example": {
                                            "url": "https://svhttdl.travinh.gov.vn/a",
                                            "client_ip": "203.0.113.7",
                                            "user_agent": "Mozilla/5.0",
                                        },
                                    },
                                }
                            },
                        }
                    }
                },
            },
            "responses": {
                "200": {
                    "description": "One answer per hit, in order: `status` (200, 202, 204, "
                    "or an error's 4xx/503) with the box or the `detail`",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["results"],
                                "properties": {
                                    "results": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "required": ["status"],
                                            "properties": {
                                                "status": {"type": "integer"},
                                                "box": BOX_SCHEMA,
                                                "detail": {"type": "string"},
                                                "spooled": {"type": "boolean"},
                                            },
                                        },
                                    }
                                },
                            }
                        }
                    },
                },
                **_errors(400, 401, 403, 404, 408, 413, 415, 503),
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
    "/api/stats/pages": {
        "get": {
            "tags": ["stats"],
            "summary": "Many pages' views at once (a list page's 'Lượt xem')",
            "description": f"1 to {MAX_PAGES} `url`s, each a path or a URL on one of the "
            "site's domains, normalised as a hit of it is. Reading never counts.",
            "operationId": "get_pages_api_stats_pages_get",
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
                    "required": True,
                    "style": "form",
                    "explode": True,
                    "description": "a page (repeat for each), e.g. /tin-tuc/1",
                    "schema": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": MAX_PAGES,
                        "items": {"type": "string", "maxLength": MAX_FIELD_CHARS["url"]},
                    },
                },
            ],
            "responses": {
                "200": {
                    "description": "Each url as given, with its page's all-time views",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["site", "page_views"],
                                "properties": {
                                    "site": {"type": "string"},
                                    "page_views": {
                                        "type": "object",
                                        "additionalProperties": {"type": "integer"},
                                    },
                                },
                            }
                        }
                    },
                },
                "304": {"description": "Not modified (If-None-Match matched the ETag)"},
                # 100 long urls can pass the cap on a request's line and headers.
                **_errors(400, 404, 431, 503),
            },
        }
    },
}
