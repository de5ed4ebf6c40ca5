"""A read token never appears in a log line (issue 15): not when it opens the dashboard's data
or its export, not when it is wrong, revoked, another site's or used where it does not belong,
neither in the app's log records nor in the running service's log."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from counter.access import KeyScope, issue_key, revoke_key
from counter.sites import Site, make_site
from counter.storage.store import Store
from tests.helpers import BROWSER_A
from tests.system.conftest import Service


def secret_of(token: str) -> str:
    """The part of ``vsr.<site>.<id>.<secret>`` that opens the figures (the id is listed)."""
    secret = token.rpartition(".")[2]
    assert len(secret) >= 40, token
    return secret


def leaks(token: str, text: str, window: int = 12) -> bool:
    """Whether ``text`` holds the token's secret, or any ``window`` characters of it in a row
    (a log line that cuts a token short still gives most of it away)."""
    secret = secret_of(token)
    return any(secret[i : i + window] in text for i in range(len(secret) - window + 1))


def logged(caplog: pytest.LogCaptureFixture) -> str:
    """Every record as a handler would write it: message, arguments, exception and stack."""
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in caplog.records)


async def uses_of_a_token(client: httpx.AsyncClient, token: str) -> list[int]:
    """The token in every place a client may send it, right and wrong; the statuses."""
    bearer = {"Authorization": f"Bearer {token}"}
    calls = [
        client.get("/api/dashboard/demo.local", headers=bearer),
        client.get("/api/dashboard/demo.local", params={"days": 99_999}, headers=bearer),
        client.get("/api/dashboard/demo.local/export", params={"format": "json"}, headers=bearer),
        client.get("/api/dashboard/other.vn", headers=bearer),  # another site's dashboard
        client.get("/api/dashboard/demo.local", headers={"Authorization": token}),  # no Bearer
        client.get("/api/dashboard/demo.local", headers={"Authorization": f"Bearer {token}x"}),
        client.get("/api/admin/sites", headers=bearer),  # a read token is no admin token
        client.post(
            "/api/hit",
            json={
                "site": "demo.local",
                "url": "https://demo.local/a",
                "client_ip": "198.51.100.30",
                "user_agent": BROWSER_A,
            },
            headers=bearer,
        ),
        client.post("/api/hits", json={"hits": [{"url": "/a"}]}, headers=bearer),
    ]
    return [(await call).status_code for call in calls]


async def test_a_read_token_reaches_no_log_record_however_it_is_used(
    client: httpx.AsyncClient, store: Store, site: Site, caplog: pytest.LogCaptureFixture
) -> None:
    await store.registry.put(make_site(id="other.vn", domains=["other.vn"]))
    record, token = await issue_key(
        store.redis, store.keys, site.id, KeyScope.read, "owner", store.clock.now()
    )
    caplog.set_level(logging.DEBUG)
    statuses = await uses_of_a_token(client, token)
    assert statuses == [200, 400, 200, 403, 401, 401, 401, 403, 403], statuses
    await revoke_key(store.redis, store.keys, site.id, record.id, store.clock.now())
    store.clock.advance(seconds=60)  # past the worker's copy of the key
    revoked = await client.get(
        "/api/dashboard/demo.local", headers={"Authorization": f"Bearer {token}"}
    )
    assert revoked.status_code == 401
    assert caplog.records  # the app did log: at DEBUG, the requests and the refusals
    text = logged(caplog)
    assert not leaks(token, text)
    assert not leaks(token, (await client.get("/metrics")).text)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    with Service.running(tmp_path / "var") as running:
        yield running


@pytest.mark.system
def test_a_read_token_is_in_no_line_of_the_running_services_log(service: Service) -> None:
    for site in ("demo.local", "other.vn"):
        added = service.cli("sites", "add", site, "--domain", site)
        assert added.returncode == 0, added.stderr
    made = service.cli("sites", "keys", "add", "demo.local", "--scope", "read")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=service.base, timeout=10) as http:
        assert http.get("/api/dashboard/demo.local", headers=bearer).status_code == 200
        assert http.get("/api/dashboard/demo.local/export", headers=bearer).status_code == 200
        assert http.get("/api/dashboard/other.vn", headers=bearer).status_code == 403
        wrong = {"Authorization": f"Bearer {token}x"}
        assert http.get("/api/dashboard/demo.local", headers=wrong).status_code == 401
        # A token where none is read: in a query string and a path, as a careless link has it.
        http.get("/api/dashboard/demo.local", params={"token": token})
        http.get(f"/dashboard/demo.local/{token}")
    listed = service.cli("sites", "keys", "list", "demo.local")
    assert listed.returncode == 0, listed.stderr
    service.stop()  # its last lines written
    log = service.log.read_text()
    assert log.strip()  # the service logged (its start, its workers)
    assert not leaks(token, log)
    assert not leaks(token, listed.stdout + listed.stderr)
