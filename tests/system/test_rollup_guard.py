"""`rollup --now` in the future is refused unless --force says it is meant: its summaries
would be what every hit answers until the next live pass (a week of 301 for a true 151)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.system.conftest import Service

pytestmark = pytest.mark.system


def test_a_forward_dated_rollup_is_refused_without_force_and_touches_nothing(
    service_factory: type[Service], tmp_path: Path
) -> None:
    service = service_factory(tmp_path / "var")  # not started: the command alone
    in_two_days = (datetime.now(UTC) + timedelta(days=2, hours=1)).isoformat()
    refused = service.cli("rollup", "--now", in_two_days)
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: --now is 2 days, 0:59:")
    assert "--force" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "var").exists(), "refused before it reached the store"

    forced = service.cli("rollup", "--now", in_two_days, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "warning: --now is 2 days, 0:59:" in forced.stderr

    # Within a minute of the clock (a clock a little off) needs no --force.
    soon = (datetime.now(UTC) + timedelta(seconds=30)).isoformat()
    assert service.cli("rollup", "--now", soon).returncode == 0
