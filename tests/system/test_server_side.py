"""Server-side counting as a CMS does it (issue 15): the running service, its command line for
the site's keys, and the PHP example of docs/examples run by php-cli with its curl extension."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import BROWSER_A
from tests.system.conftest import Service

PHP_EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "visitor-stats.php"
SITE = "portal.example.vn"

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with Service.running(tmp_path_factory.mktemp("server-side") / "var", SITE) as running:
        yield running


def php_count(service: Service, key: str, visitor: dict[str, str]) -> tuple[object, str]:
    """Run the documented function as a PHP page would: ``$_SERVER`` as the web server fills
    it for ``visitor``'s request. Returns what it returned, and what it logged."""
    php = shutil.which("php")
    assert php is not None, "php-cli is missing: run scripts/system-deps"
    driver = f"""
require {json.dumps(str(PHP_EXAMPLE))};
$_SERVER = array_merge($_SERVER, json_decode({json.dumps(json.dumps(visitor))}, true));
echo json_encode(visitor_stats_count({json.dumps(service.base)}, {json.dumps(key)}, {json.dumps(SITE)}));
"""
    done = subprocess.run(
        [php, "-d", "log_errors=1", "-d", "error_log=", "-r", driver],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), done.stderr


def visitor(address: str, page: str = "/tin-tuc/1") -> dict[str, str]:
    return {
        "HTTP_HOST": SITE,
        "HTTPS": "on",
        "REQUEST_URI": page,
        "REMOTE_ADDR": address,
        "HTTP_USER_AGENT": BROWSER_A,
    }


def new_key(service: Service, *options: str) -> str:
    made = service.cli("sites", "keys", "add", SITE, *options)
    assert made.returncode == 0, made.stderr
    assert "shown only now" in made.stderr
    return made.stdout.strip()


def test_the_php_example_counts_each_visitor_through_the_api(service: Service) -> None:
    key = new_key(service, "--name", "NukeViet")
    assert key.startswith(f"vsk.{SITE}.")
    first, _ = php_count(service, key, visitor("198.51.100.1"))
    assert isinstance(first, dict) and first["page_views"] == 1
    again, _ = php_count(service, key, visitor("198.51.100.1"))
    other, _ = php_count(service, key, visitor("2001:db8::9"))
    assert isinstance(other, dict) and other["page_views"] == 3
    assert isinstance(again, dict)
    # Two visitors: the addresses the PHP page passed on, not the one PHP itself called from.
    stats = service.wait_for(SITE, lambda s: s["visits"]["today"] >= 2)
    assert stats["visits"]["today"] == 2 and stats["pageviews"]["today"] == 3


def test_the_php_example_gives_null_and_logs_why_for_a_wrong_key(service: Service) -> None:
    answer, logged = php_count(service, f"vsk.{SITE}.deadbeef.wrong", visitor("198.51.100.2"))
    assert answer is None
    assert "HTTP 401" in logged and "not known" in logged


def test_keys_are_listed_without_their_secret_and_revoked_from_the_command_line(
    service: Service,
) -> None:
    key = new_key(service, "--name", "Joomla", "--scope", "read")
    key_id = key.split(".")[-2]
    listed = service.cli("sites", "keys", "list", SITE)
    assert listed.returncode == 0, listed.stderr
    [line] = [row for row in listed.stdout.splitlines() if row.startswith(key_id)]
    assert "\tread\tJoomla\t" in line and line.endswith("active")
    assert key.rpartition(".")[2] not in listed.stdout
    revoked = service.cli("sites", "keys", "revoke", SITE, key_id)
    assert revoked.returncode == 0, revoked.stderr
    listed = service.cli("sites", "keys", "list", SITE)
    assert f"{key_id}\tread\tJoomla\t" in listed.stdout
    assert "revoked 20" in next(r for r in listed.stdout.splitlines() if r.startswith(key_id))
    unknown = service.cli("sites", "keys", "revoke", SITE, "nosuchid")
    assert unknown.returncode == 1 and "no key" in unknown.stderr
    missing = service.cli("sites", "keys", "add", "nosuch.vn")
    assert missing.returncode == 1 and "unknown site" in missing.stderr
