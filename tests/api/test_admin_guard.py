"""The admin guard (api/routes/admin.py): failed token attempts are limited per address, ten a
minute, then 429; each is logged with the address pseudonymised and never the token."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import httpx
import pytest

from api.app import create_app
from api.routes.admin import FAILURES_PER_MIN
from counter.clock import FakeClock
from counter.settings import Settings
from counter.sites import Site
from counter.storage.store import Store

TOKEN = "test-admin-token-0123456789"  # the one tests/conftest.py configures
WRONG = "Bearer wrong-guess-5f0c2a9e7d41"
GUESSER, OPERATOR = "203.0.113.7", "192.0.2.44"


@pytest.fixture
async def clients(
    settings: Settings, clock: FakeClock, store: Store
) -> AsyncIterator[tuple[httpx.AsyncClient, httpx.AsyncClient]]:
    """One app, reached from two client addresses (neither a trusted proxy)."""
    app = create_app(settings, clock)
    async with app.fastapi.router.lifespan_context(app.fastapi):
        guesser = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(GUESSER, 50000)),
            base_url="http://stats.test",
        )
        operator = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=(OPERATOR, 50000)),
            base_url="http://stats.test",
        )
        async with guesser, operator:
            yield guesser, operator


async def list_sites(http: httpx.AsyncClient, authorization: str) -> httpx.Response:
    return await http.get("/api/admin/sites", headers={"Authorization": authorization})


async def test_ten_wrong_tokens_a_minute_are_refused_401_and_the_eleventh_429(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], site: Site
) -> None:
    guesser, _ = clients
    assert FAILURES_PER_MIN == 10
    answers = [await list_sites(guesser, WRONG) for _ in range(10)]
    assert [a.status_code for a in answers] == [401] * 10
    throttled = await list_sites(guesser, WRONG)
    assert throttled.status_code == 429
    assert "too many failed admin attempts" in throttled.json()["detail"]
    # Even the right token waits out the minute: answering it would let guessing go on.
    assert (await list_sites(guesser, f"Bearer {TOKEN}")).status_code == 429


async def test_a_right_token_from_another_address_still_works(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], site: Site
) -> None:
    guesser, operator = clients
    for _ in range(11):
        await list_sites(guesser, WRONG)
    assert (await list_sites(guesser, WRONG)).status_code == 429
    answer = await list_sites(operator, f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert [s["id"] for s in answer.json()["sites"]] == [site.id]
    # The operator's own mistype is judged on its own count, not the guesser's.
    assert (await list_sites(operator, WRONG)).status_code == 401


async def test_refusals_are_logged_without_the_token_or_the_address(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient],
    site: Site,
    caplog: pytest.LogCaptureFixture,
) -> None:
    guesser, operator = clients
    caplog.set_level(logging.DEBUG)
    for _ in range(11):
        await list_sites(guesser, WRONG)
    await list_sites(operator, f"Bearer {TOKEN}")
    refusals = [r for r in caplog.records if "admin: refused" in r.getMessage()]
    assert len(refusals) == 10
    assert [r.getMessage().rsplit("(", 1)[1] for r in refusals] == [
        f"{n} this minute)" for n in range(1, 11)
    ]
    logged = caplog.text + "".join(r.getMessage() for r in caplog.records)
    secret = WRONG.removeprefix("Bearer ")
    assert secret not in logged and TOKEN not in logged
    assert GUESSER not in logged and OPERATOR not in logged
    # One pseudonym for the one address, so one run's lines can be told apart.
    assert len({r.getMessage().split("client ")[1].split()[0] for r in refusals}) == 1


async def test_attempts_are_allowed_again_in_the_next_minute(
    clients: tuple[httpx.AsyncClient, httpx.AsyncClient], site: Site, clock: FakeClock
) -> None:
    guesser, _ = clients
    for _ in range(10):
        await list_sites(guesser, WRONG)
    throttled = await list_sites(guesser, WRONG)
    assert throttled.status_code == 429
    assert throttled.json()["detail"].endswith("try again in 60 s")  # the clock is at hh:mm:00
    assert throttled.headers["retry-after"] == "60"
    clock.advance(seconds=59)
    assert (await list_sites(guesser, f"Bearer {TOKEN}")).status_code == 429
    clock.advance(seconds=1)
    assert (await list_sites(guesser, f"Bearer {TOKEN}")).status_code == 200
    assert [(await list_sites(guesser, WRONG)).status_code for _ in range(10)] == [401] * 10
    assert (await list_sites(guesser, WRONG)).status_code == 429
