"""`visitor-stats import` and `visitor-stats pages` as an operator runs them: the plan shown
and asked about, exit code 2 with nothing written for a source that cannot be read, the old
`import SITE FILE.csv` form, and pages set by hand."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from typer.testing import CliRunner, Result

from api.cli import app
from counter.settings import Settings
from tests.counter.figures.mariadb import MariaDB
from tests.counter.figures.test_oldcounters import load_nukeviet
from tests.servers import ValkeyProcess, free_port

SITE = "cong.example.vn"


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The command line on this test's store (its own key prefix), the site added."""
    assert settings.redis_url is not None
    monkeypatch.setenv("VISITOR_STATS_REDIS_URL", settings.redis_url)
    monkeypatch.setenv("VISITOR_STATS_KEY_PREFIX", settings.key_prefix)
    monkeypatch.setenv("VISITOR_STATS_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    added = runner.invoke(app, ["sites", "add", SITE, "--domain", SITE])
    assert added.exit_code == 0, added.output
    return runner


def run(cli: CliRunner, *args: str, answer: str | None = None) -> Result:
    return cli.invoke(app, list(args), input=answer)


def ledger(cli: CliRunner) -> list[dict[str, object]]:
    result = run(cli, "sites", "adjustments", SITE)
    assert result.exit_code == 0, result.output
    entries: list[dict[str, object]] = json.loads(result.stdout)
    return entries


def total(cli: CliRunner, url: str | None = None) -> dict[str, object]:
    result = run(cli, "stats", SITE, "--json", *(["--url", url] if url else []))
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_the_plan_is_shown_and_nothing_is_written_unless_the_operator_agrees(
    cli: CliRunner, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        refused = run(cli, "import", "nukeviet", SITE, mariadb.url(name), answer="n\n")
        assert refused.exit_code == 1
        assert "all time visits: old counter 48,812,107, now 0" in refused.output
        assert "pages: 1 (2,638 views)" in refused.output
        assert ledger(cli) == []

        agreed = run(cli, "import", "nukeviet", SITE, mariadb.url(name), answer="y\n")
        assert agreed.exit_code == 0, agreed.output
        assert "all time 0 -> 48,812,107 (visits)" in agreed.output
        assert total(cli)["total"] == 48_812_107

        again = run(cli, "import", "nukeviet", SITE, mariadb.url(name), "--yes")
        assert again.exit_code == 0 and "nothing changed" in again.output
        assert len(ledger(cli)) == 1


@pytest.mark.parametrize("case", ["unreachable", "password", "table", "prefix", "redis"])
def test_a_source_that_cannot_be_read_exits_2_and_writes_nothing(
    cli: CliRunner, mariadb: MariaDB, case: str
) -> None:
    with mariadb.database() as (name, connection):
        mariadb.grant(name)
        args = ["import", "nukeviet", SITE, mariadb.url(name), "--yes"]
        expected = "table 'nv4_counter' not found"
        if case == "unreachable":
            args[3], expected = f"mysql://u:p@127.0.0.1:{free_port()}/db", "cannot connect"
        elif case == "password":
            args[3], expected = mariadb.url(name, password="Zq-bad-77"), "access denied"
        elif case == "prefix":
            load_nukeviet(connection)
            args += ["--table-prefix", "nv3"]
            expected = "table 'nv3_counter' not found"
        elif case == "redis":
            args = ["import", "vercount", SITE, f"redis://127.0.0.1:{free_port()}/0", "--yes"]
            expected = "127.0.0.1"
        result = run(cli, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and "nothing was written" in result.stderr
    assert "Zq-bad-77" not in result.output
    assert ledger(cli) == []
    assert total(cli)["total"] == 0


@pytest.fixture
def guarded_redis(tmp_path: Path) -> Iterator[ValkeyProcess]:
    """An old counter's Redis of this test's own, behind a password (requirepass), its
    vercount keys loaded."""
    server = ValkeyProcess(tmp_path / "old-redis").start()
    try:
        with redis.Redis(port=server.port) as client:
            client.set(f"pv:site:{SITE}", 9000)
            client.set(f"pv:page:{SITE}:/posts/a/", 321)
            client.config_set("requirepass", "Right-pass-31")
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("fmt", ["vercount", "busuanzi-redis"])
@pytest.mark.parametrize("password", ["Wr0ng-pass-88", None])
def test_a_redis_source_refusing_the_password_exits_2_and_writes_nothing(
    cli: CliRunner, guarded_redis: ValkeyProcess, fmt: str, password: str | None
) -> None:
    auth = f":{password}@" if password else ""
    source = f"redis://{auth}127.0.0.1:{guarded_redis.port}/0"
    result = run(cli, "import", fmt, SITE, source, "--yes")
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    reason = "wrong user or password" if password else "the server wants a password"
    assert f"redis://127.0.0.1:{guarded_redis.port}/0: access denied: {reason}" in result.stderr
    assert "nothing was written" in result.stderr
    assert "Wr0ng-pass-88" not in result.output
    assert ledger(cli) == []
    assert total(cli)["total"] == 0
    # The right password reads it: the refusal was the password's, not the server's.
    if fmt == "vercount" and password:
        right = source.replace(password, "Right-pass-31")
        assert run(cli, "import", fmt, SITE, right, "--yes").exit_code == 0
        pageviews = total(cli)["pageviews"]
        assert isinstance(pageviews, dict) and pageviews["total"] == 9000


def test_the_old_form_imports_a_daily_csv_without_asking(cli: CliRunner, tmp_path: Path) -> None:
    daily = tmp_path / "days.csv"
    daily.write_text("date,pageviews,visits,visitors\n2020-01-02,30,20,10\n2020-01-03,3,2,1\n")
    first = run(cli, "import", SITE, str(daily))
    assert first.exit_code == 0, first.output
    assert "2 day(s) changed" in first.output
    assert "0 day(s) changed" in run(cli, "import", SITE, str(daily)).output
    assert total(cli)["total"] == 22


def test_pages_set_and_import_are_audited_and_repeat_safely(cli: CliRunner, tmp_path: Path) -> None:
    article = "https://cong.example.vn/tin-tuc/bai-viet-1.html"
    done = run(cli, "pages", "set", SITE, article, "--views", "2638", "--reason", "old counter")
    assert done.exit_code == 0, done.output
    assert total(cli, article)["page_views"] == 2638

    rows = tmp_path / "pages.csv"
    rows.write_text(f"url,views\n{article},2640\n/gioi-thieu/,15\n")
    imported = run(cli, "pages", "import", SITE, str(rows), "--reason", "old export", "--yes")
    assert imported.exit_code == 0, imported.output
    assert "2 page(s) changed" in imported.output
    assert total(cli, "/gioi-thieu/")["page_views"] == 15
    assert (
        "0 page(s) changed"
        in run(cli, "pages", "import", SITE, str(rows), "--reason", "old export", "--yes").output
    )

    entries = json.loads(run(cli, "pages", "adjustments", SITE).stdout)
    assert [(e["page"], e["before"], e["after"]) for e in entries] == [
        ("/tin-tuc/bai-viet-1.html", 0, 2638),
        ("/tin-tuc/bai-viet-1.html", 2638, 2640),
        ("/gioi-thieu/", 0, 15),
    ]
    assert all(e["reason"] for e in entries)


def test_pages_refuse_bad_rows_with_a_clear_message(cli: CliRunner, tmp_path: Path) -> None:
    rows = tmp_path / "pages.csv"
    rows.write_text("url,views\n/a,many\n")
    result = run(cli, "pages", "import", SITE, str(rows), "--reason", "x", "--yes")
    assert result.exit_code == 1
    assert "line 2: views must be a whole number" in result.stderr
    bad = run(cli, "pages", "set", SITE, "javascript:alert(1)", "--views", "1", "--reason", "x")
    assert bad.exit_code == 1
    assert "url must be an http(s) URL or a path" in bad.stderr
