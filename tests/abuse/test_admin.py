"""The admin surface: writes need the token (compared in constant time), reads stay public,
and the schema documents every endpoint and error."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError

from api.app import create_app
from counter.clock import FakeClock
from counter.settings import PLACEHOLDER_SECRETS, Settings
from counter.sites import Site
from counter.storage.store import Store

TOKEN = "test-admin-token-0123456789"
NEW_SITE = {"id": "new.vn", "domains": ["new.vn"]}
WRITES = [
    ("POST", "/api/admin/sites", NEW_SITE),
    ("DELETE", "/api/admin/sites/demo.local", None),
    ("POST", "/api/admin/sites/demo.local/adjustments", {"total": 5, "reason": "x"}),
]


@pytest.fixture
async def tokenless_client(
    settings: Settings, clock: FakeClock, store: Store
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings.model_copy(update={"admin_token": None}), clock)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://stats.test") as http:
            yield http


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
async def test_writes_are_refused_403_when_no_token_is_configured(
    tokenless_client: httpx.AsyncClient,
    store: Store,
    site: Site,
    method: str,
    path: str,
    payload: object,
) -> None:
    answer = await tokenless_client.request(
        method, path, json=payload, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert answer.status_code == 403
    assert "VISITOR_STATS_ADMIN_TOKEN" in answer.json()["detail"]
    assert await store.registry.ids() == ["demo.local"]


@pytest.mark.parametrize(("method", "path", "payload"), WRITES)
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token-wrong-token",
        f"Basic {TOKEN}",
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer " + "x" * 5000,
    ],
)
async def test_writes_with_a_missing_or_wrong_token_are_refused_401(
    client: httpx.AsyncClient,
    store: Store,
    site: Site,
    method: str,
    path: str,
    payload: object,
    authorization: str | None,
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    answer = await client.request(method, path, json=payload, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["detail"]
    assert await store.registry.ids() == ["demo.local"]
    assert await store.redis.llen(store.keys.site("demo.local").adjustments) == 0


async def test_the_right_token_writes(client: httpx.AsyncClient, store: Store, site: Site) -> None:
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert (await client.post("/api/admin/sites", json=NEW_SITE, headers=good)).status_code == 201
    assert (await client.delete("/api/admin/sites/new.vn", headers=good)).status_code == 200
    assert await store.registry.ids() == ["demo.local"]


async def test_reads_need_no_token(client: httpx.AsyncClient, site: Site) -> None:
    for path, params in [
        ("/api/stats", {"site": "demo.local"}),
        ("/api/stats/history", {"site": "demo.local", "from": "2026-11-24", "to": "2026-11-25"}),
        ("/api/stats/adjustments", {"site": "demo.local"}),
    ]:
        assert (await client.get(path, params=params)).status_code == 200


@pytest.mark.parametrize(
    "token", [*sorted(PLACEHOLDER_SECRETS), "ChangeMe", " secret ", "short-token"]
)
def test_placeholder_or_short_tokens_are_refused_by_the_settings(
    token: str, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="VISITOR_STATS_ADMIN_TOKEN"):
        Settings(admin_token=token, data_dir=tmp_path)


def test_the_token_comes_from_the_environment_and_never_shows(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("VISITOR_STATS_ADMIN_TOKEN", TOKEN)
    settings = Settings(data_dir=tmp_path)
    assert settings.admin_token is not None
    assert settings.admin_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())


async def test_openapi_documents_every_endpoint_and_its_errors(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    for path in (
        "/api/hit",
        "/api/hit.gif",
        "/api/stats",
        "/api/stats/history",
        "/api/stats/adjustments",
        "/api/admin/sites",
        "/api/admin/sites/{site}",
        "/api/admin/sites/{site}/adjustments",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    for path, item in paths.items():
        for method, operation in item.items():
            answers = operation["responses"]
            assert "422" not in answers, f"{method} {path}: this app answers 400, not 422"
            for code, answer in answers.items():
                if code.startswith(("4", "5")) and path.startswith("/api/"):
                    body = answer["content"]["application/json"]["schema"]
                    assert body["required"] == ["detail"], (method, path, code)
    assert {"400", "403", "404", "413", "415", "503"} <= set(paths["/api/hit"]["post"]["responses"])
    for path in ("/api/admin/sites", "/api/admin/sites/{site}/adjustments"):
        assert {"401", "403"} <= set(paths[path]["post"]["responses"])
    assert {"401", "403"} <= set(paths["/api/admin/sites/{site}"]["delete"]["responses"])
