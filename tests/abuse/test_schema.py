"""Schemathesis over the app's own OpenAPI schema: the real ASGI app on a real store.

Every operation gets a bounded number of generated requests (schema-valid and invalid ones);
none may answer a 5xx, an undocumented status, or a body that breaks its documented schema.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation import GenerationMode
from schemathesis.python.asgi import shutdown_lifespans
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from api.app import create_app
from counter.access import KeyScope, issue_key
from counter.clock import FakeClock
from counter.keys import Keys
from counter.settings import Settings
from counter.sites import SiteRegistry, make_site
from tests.conftest import START

TOKEN = "schema-admin-token-0123456789"
# A schema-violating request may also be refused as too large (413, before it is parsed; 431
# for a query past the cap on a request's head) or as the wrong media type (415): all rejections.
CONFIG = SchemathesisConfig.from_dict(
    {
        "max-stream-events": 1,  # GET /api/stats/stream: its first event, not twenty
        "checks": {
            "negative_data_rejection": {
                "expected-statuses": [400, 401, 403, 404, 405, 413, 415, 431]
            }
        },
    }
)
MAX_EXAMPLES = 50


async def _add_sites(url: str, prefix: str) -> dict[KeyScope, str]:
    """The sites, and an ingest key and a read token of the schema's example site."""
    client = redis.asyncio.Redis.from_url(url)
    try:
        registry = SiteRegistry(client, Keys(prefix))
        for site_id in ("demo.local", "svhttdl.travinh.gov.vn"):
            await registry.put(make_site(id=site_id, domains=[site_id]))
        made = {}
        for scope in KeyScope:
            _, made[scope] = await issue_key(
                client, Keys(prefix), "svhttdl.travinh.gov.vn", scope, "schema", START
            )
        return made
    finally:
        await client.aclose()


@dataclass(frozen=True)
class Schema:
    schema: OpenApiSchema
    keys: dict[KeyScope, str]


def _authorization(path: str, keys: dict[KeyScope, str]) -> dict[str, str]:
    """What each route is called with: the admin token for admin routes, the site's ingest key
    for the batch, its read token for the dashboard's data, none for a browser's hit."""
    if path == "/api/hit":
        return {}  # a browser's hit; with a key it would be a server's (covered by /api/hits)
    if path == "/api/hits":
        return {"Authorization": f"Bearer {keys[KeyScope.ingest]}"}
    if path.startswith("/api/dashboard/"):
        return {"Authorization": f"Bearer {keys[KeyScope.read]}"}
    return {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def api_schema(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Schema]:
    prefix = f"t{secrets.token_hex(6)}"
    settings_ = Settings(
        redis_url=redis_url,
        key_prefix=prefix,
        data_dir=Path(tmp_path_factory.mktemp("schema")) / "var",
        admin_token=TOKEN,
    )
    keys = asyncio.run(_add_sites(redis_url, prefix))
    app = create_app(settings_, FakeClock(START))
    try:
        yield Schema(schemathesis.openapi.from_asgi("/openapi.json", app, config=CONFIG), keys)
    finally:
        shutdown_lifespans()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_answers_as_documented_and_never_a_5xx(
    api_schema: Schema, mode: GenerationMode
) -> None:
    failures: dict[str, str] = {}
    operations = [result.ok() for result in api_schema.schema.get_all_operations()]
    assert len(operations) >= 10  # every route is in the schema

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            # positive_data_acceptance is left out: a schema-valid request can still be refused
            # for what a schema cannot say (an unknown site, a timezone that does not exist, a
            # `from` after `to`), and that refusal is a documented 4xx with a detail.
            case.call_and_validate(
                headers={
                    **_authorization(case.operation.path, api_schema.keys),
                    "Origin": "https://svhttdl.travinh.gov.vn",  # the schema's example site
                },
                excluded_checks=[positive_data_acceptance],
            )

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE, operation.label  # nothing to negate
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - try all; show all
            failures[operation.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
