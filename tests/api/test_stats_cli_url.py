"""`visitor-stats stats SITE --url /x` prints the page's views beside the box."""

from __future__ import annotations

import asyncio

import pytest
from typer.testing import CliRunner

from api.cli import app
from counter.clock import SystemClock
from counter.record.recorder import Recorder
from counter.settings import Settings
from counter.sites import Site
from counter.storage.connection import connect
from counter.storage.store import Store
from tests.helpers import BROWSER_A, BROWSER_B, hit


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command line on this test's store (its own key prefix)."""
    assert settings.redis_url is not None
    monkeypatch.setenv("VISITOR_STATS_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("VISITOR_STATS_KEY_PREFIX", settings.key_prefix)
    monkeypatch.setenv("VISITOR_STATS_DATA_DIR", str(settings.data_dir))
    return CliRunner()


def record(settings: Settings, *pages: tuple[str, str]) -> None:
    """Pageviews of (url, user agent), through the real hit path, on the CLI's own clock."""

    async def main() -> None:
        assert settings.redis_url is not None
        store = Store(connect(settings, settings.redis_url), settings, SystemClock())
        try:
            recorder = Recorder(store)
            for url, ua in pages:
                assert (await hit(recorder, url, ua=ua)).counted
        finally:
            await store.aclose()

    asyncio.run(main())


# Not async: the command line runs its own event loop.
def test_stats_with_url_prints_the_pages_views(
    cli: CliRunner, settings: Settings, site: Site
) -> None:
    record(
        settings,
        ("https://demo.local/tin-tuc/1", BROWSER_A),
        ("https://demo.local/tin-tuc/1", BROWSER_B),
        ("https://demo.local/tin-tuc/2", BROWSER_A),
    )

    result = cli.invoke(app, ["stats", site.id, "--url", "/tin-tuc/1"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Thống kê truy cập"
    assert lines[-1] == "  Lượt xem /tin-tuc/1: 2"

    without = cli.invoke(app, ["stats", site.id])
    assert without.exit_code == 0, without.output
    assert "Lượt xem" not in without.stdout
    assert without.stdout.splitlines() == lines[:-1]
