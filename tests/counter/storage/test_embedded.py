"""The embedded store: one server per data directory, attached to, and recovered after a crash."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import redis

from counter.storage.embedded import EmbeddedRedis


def test_a_second_user_attaches_and_only_the_starter_stops_it(tmp_path: Path) -> None:
    first = EmbeddedRedis(tmp_path / "var").start()
    try:
        second = EmbeddedRedis(tmp_path / "var").start()
        assert first.owned
        assert not second.owned
        second.stop()  # not ours: the server keeps running
        client = redis.Redis(unix_socket_path=str(first.socket_path))
        assert client.ping()
        client.close()
    finally:
        first.stop()
    assert not first.socket_path.exists()  # a clean stop removes the socket


def test_a_server_killed_by_sigkill_leaves_a_socket_that_is_replaced_and_data_that_stays(
    tmp_path: Path,
) -> None:
    data = tmp_path / "var"
    crashed = EmbeddedRedis(data).start()
    client = redis.Redis(unix_socket_path=str(crashed.socket_path))
    client.set("visitor-stats-test", "kept")
    client.close()
    assert crashed._process is not None
    os.kill(crashed._process.pid, signal.SIGKILL)
    crashed._process.wait()
    assert crashed.socket_path.exists()  # stale: nothing answers it
    again = EmbeddedRedis(data).start()
    try:
        assert again.owned
        client = redis.Redis(unix_socket_path=str(again.socket_path))
        assert client.get("visitor-stats-test") == b"kept"  # from the AOF (fsync every second)
        client.close()
    finally:
        again.stop()
