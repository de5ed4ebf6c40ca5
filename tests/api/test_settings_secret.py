"""A refused admin token stops `visitor-stats serve` at start, naming the setting and never
echoing the secret (issue 12: the start-up error printed ``input_value='…'`` in clear)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from api.cli.common import settings_errors
from counter.settings import Settings
from tests.servers import free_port

VISITOR_STATS = Path(sys.executable).parent / "visitor-stats"
# A placeholder (the check ignores case and blanks around it), an example value long
# enough to pass the length check ("changeme" inside it), and one too short (< 16).
REFUSED = ["  ChangeMe  ", "changeme-secret-123", "Sh0rt-s3cr3t-42"]


@pytest.mark.parametrize("token", REFUSED)
def test_serve_refuses_a_bad_admin_token_without_echoing_it(token: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VISITOR_STATS_")}
    env |= {
        "VISITOR_STATS_ADMIN_TOKEN": token,
        "VISITOR_STATS_DATA_DIR": str(tmp_path / "var"),
        # Nothing listens there: were the token accepted, no embedded store would be started.
        "VISITOR_STATS_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    port = str(free_port())
    done = subprocess.run(
        [VISITOR_STATS, "serve", "--host", "127.0.0.1", "--port", port, "--no-aggregator"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    said = done.stdout + done.stderr
    assert done.returncode == 2, said
    assert "invalid settings" in said and "VISITOR_STATS_ADMIN_TOKEN" in said, said
    assert token.strip() not in said and token.strip().lower() not in said.lower(), said
    assert "input_value" not in said


@pytest.mark.parametrize("token", REFUSED)
def test_the_refusal_lists_the_setting_and_not_the_value(token: str, tmp_path: Path) -> None:
    with pytest.raises(ValidationError) as refused:
        Settings(admin_token=SecretStr(token), data_dir=tmp_path)
    lines = settings_errors(refused.value)
    assert lines.startswith("  VISITOR_STATS_ADMIN_TOKEN: ")
    assert token.strip().lower() not in lines.lower()
