"""Operations fixtures: `visitor-stats serve` with extra arguments (workers), a real scrape."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from tests.system.conftest import Service

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Serve(Service):
    """tests.system's Service, started with extra `serve` arguments (e.g. --workers 3)."""

    def __init__(self, data_dir: Path, *args: str, env: dict[str, str] | None = None) -> None:
        super().__init__(data_dir, env, *args)

    def stop(self) -> None:
        super().stop()
        # serve stops the embedded store it started; should it not have, stop that one server
        # (ours: it listens on this test's socket only), so no process outlives the test.
        socket = self.data_dir / "valkey.sock"
        if socket.exists():
            with contextlib.suppress(redis.ConnectionError):
                redis.Redis(unix_socket_path=str(socket), socket_timeout=2).shutdown(nosave=True)

    def scrape(self) -> str:
        response = httpx.get(f"{self.base}/metrics", timeout=5)
        response.raise_for_status()
        return response.text


def samples(text: str, prefix: str = "visitor_stats_") -> Samples:
    """Every sample of a scrape, keyed by name and sorted labels."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name.startswith(prefix):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def promtool_check_metrics(text: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )


def value(found: Samples, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[type[Serve]]:
    started: list[Serve] = []

    class Tracked(Serve):
        def start(self) -> Serve:
            started.append(self)
            return super().start()

    yield Tracked
    for service in started:
        service.stop()
