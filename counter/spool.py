"""The outage spool: hits acknowledged while the store does not answer, kept on disk.

Each process appends JSON lines to its own file under ``<data dir>/spool/`` (one ``write``
per hit on an O_APPEND descriptor: a crashed process leaves whole lines, at worst one torn
last line, which is skipped). When the store answers again the files are claimed (renamed,
so two processes never replay the same file) and replayed with their original timestamps
and hit ids; the hit script drops an id it has already counted, so a hit whose first attempt
reached a frozen server and ran after it woke is not counted twice.

No IP address or user agent is written: only the visitor id computed from them (with the
day's salt when the process has it) and the verdicts the checks need.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import orjson
from redis.exceptions import TimeoutError as RedisTimeoutError

log = logging.getLogger("visitor_stats.spool")


@dataclass(frozen=True, slots=True)
class SpooledHit:
    """A hit as it waits for the store: the verdicts that need no store already taken, the
    visitor and address ids already hashed (no address, user agent or referrer kept)."""

    id: str
    at_ms: int
    site: str
    url: str
    event: str
    origin_host: str | None
    bot: bool
    prefetch: bool
    opt_out: bool
    spam: bool
    visitor: str
    address: str


class Outage:
    """A breaker: after the store failed to answer, hits go straight to the spool for a
    moment instead of each waiting out the timeout; the replayer closes it when the store
    answers a PING again."""

    COOL_DOWN_S = 1.0
    # A refused connection trips it at once; a timed-out hit might be a busy event loop
    # rather than a frozen store, so it takes a few in a row.
    TIMEOUTS_TO_TRIP = 3

    def __init__(self) -> None:
        self._until = 0.0
        self._timeouts = 0

    def trip(self) -> None:
        self._until = time.monotonic() + self.COOL_DOWN_S

    def failed(self, error: BaseException) -> None:
        if isinstance(error, TimeoutError | RedisTimeoutError):
            self._timeouts += 1
            if self._timeouts < self.TIMEOUTS_TO_TRIP:
                return
        self._timeouts = 0
        self.trip()

    def succeeded(self) -> None:
        self._timeouts = 0

    def close(self) -> None:
        self._until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._until


def pid_alive(pid: int) -> bool:
    """True while a process of that pid exists (ours or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._pid = os.getpid()
        self._fd: int | None = None
        self._path: Path | None = None
        self._bytes = 0
        self.dropped = 0
        self.pending = 0  # hits this process holds: appended, or claimed, and not replayed

    # -- writing ---------------------------------------------------------------------------
    def _open(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._bytes = self.pending_bytes()
            self._path = self.directory / f"spool-{self._pid}-{secrets.token_hex(4)}.jsonl"
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return self._fd

    def append(self, hit: SpooledHit) -> bool:
        """Keep ``hit``; False (and counted as dropped) when the spool is full."""
        line = orjson.dumps(asdict(hit)) + b"\n"
        fd = self._open()
        if self._bytes + len(line) > self.max_bytes:
            self.dropped += 1
            return False
        os.write(fd, line)
        self._bytes += len(line)
        self.pending += 1
        return True

    @property
    def full(self) -> bool:
        return self._bytes >= self.max_bytes

    def sync(self) -> None:
        """fsync what was appended (the page cache already survives a process crash)."""
        if self._fd is not None:
            os.fsync(self._fd)

    def close(self) -> None:
        if self._fd is not None:
            os.fsync(self._fd)
            os.close(self._fd)
            self._fd = None
            if self._path is not None and self._path.stat().st_size == 0:
                self._path.unlink()
            self._path = None

    # -- replaying -------------------------------------------------------------------------
    def pending_bytes(self) -> int:
        if not self.directory.exists():
            return 0
        return sum(p.stat().st_size for p in self.directory.glob("*.jsonl"))

    def has_pending(self) -> bool:
        return self.directory.exists() and any(self.directory.glob("*.jsonl"))

    def claim(self) -> list[Path]:
        """Rename to ``replay-<our pid>-…`` our own file and those of dead processes."""
        if not self.directory.exists():
            return []
        self.close()  # rotate: the next append opens a fresh file
        claimed = []
        for path in sorted(self.directory.glob("*.jsonl")):
            _kind, pid, rest = path.stem.split("-", 2)
            if int(pid) != self._pid and pid_alive(int(pid)):
                continue  # a live process's spool, or a replay in progress elsewhere
            target = path.with_name(f"replay-{self._pid}-{rest}.jsonl")
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, target)
                claimed.append(target)
                if int(pid) != self._pid:  # another (dead) process's hits are ours now
                    with open(target, "rb") as handle:
                        self.pending += sum(1 for _ in handle)
        return claimed

    @staticmethod
    def read(path: Path) -> Iterator[SpooledHit]:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    yield SpooledHit(**orjson.loads(line))
                except (orjson.JSONDecodeError, TypeError):
                    log.warning(
                        "%s line %d is torn (a crash mid-write); skipped", path.name, number
                    )

    def done(self, path: Path, replayed: int) -> None:
        size = path.stat().st_size
        path.unlink()
        self._bytes = max(0, self._bytes - size)
        self.pending = max(0, self.pending - replayed)
