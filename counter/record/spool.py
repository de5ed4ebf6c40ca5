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
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from counter.processes import pid_alive
from counter.record.hit import Event
from counter.record.verdicts import Exclusion

log = logging.getLogger("visitor_stats.spool")

Identity = tuple[str, str]  # (visitor id, address id), hashed under the day's salt
# Spool lines written before the intake verdict was one field had a flag per reason.
LEGACY_FLAGS = ("bot", "prefetch", "opt_out", "spam")


@dataclass(frozen=True, slots=True)
class Prepared:
    """A hit with its id and time fixed and every verdict that needs no store taken: what is
    counted now, or kept in the spool (with its visitor ids) until the store is back. It holds
    no address, user agent or referrer."""

    id: str
    at: datetime
    site: str
    url: str
    event: Event
    origin_host: str | None
    excluded: Exclusion | None  # the intake verdict (counter/record/verdicts.py)

    def to_line(self, identity: Identity) -> bytes:
        visitor, address = identity
        return (
            orjson.dumps(
                {
                    "id": self.id,
                    "at_ms": int(self.at.timestamp() * 1000),
                    "site": self.site,
                    "url": self.url,
                    "event": self.event.value,
                    "origin_host": self.origin_host,
                    "excluded": self.excluded.value if self.excluded else None,
                    "visitor": visitor,
                    "address": address,
                }
            )
            + b"\n"
        )

    @classmethod
    def from_line(cls, line: bytes) -> tuple[Prepared, Identity]:
        """Raises ValueError (or a KeyError, TypeError) for a line that is not a spooled hit."""
        data = orjson.loads(line)
        if "excluded" not in data:
            flagged = [name for name in LEGACY_FLAGS if data.get(name)]
            data["excluded"] = flagged[0] if flagged else None
        prepared = cls(
            id=str(data["id"]),
            at=datetime.fromtimestamp(int(data["at_ms"]) / 1000, tz=UTC),
            site=str(data["site"]),
            url=str(data["url"]),
            event=Event(data["event"]),
            origin_host=data["origin_host"],
            excluded=Exclusion(data["excluded"]) if data["excluded"] else None,
        )
        return prepared, (str(data["visitor"]), str(data["address"]))


class Spool:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._pid = os.getpid()
        self._fd: int | None = None
        self._path: Path | None = None
        self._bytes = 0
        self.pending = 0  # hits this process holds: appended, or claimed, and not replayed

    # -- writing ---------------------------------------------------------------------------
    def _open(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._bytes = self.pending_bytes()
            self._path = self.directory / f"spool-{self._pid}-{secrets.token_hex(4)}.jsonl"
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return self._fd

    def append(self, line: bytes) -> bool:
        """Keep one spooled hit (:meth:`Prepared.to_line`); False when the spool is full."""
        fd = self._open()
        if self._bytes + len(line) > self.max_bytes:
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
    def read(path: Path) -> Iterator[tuple[Prepared, Identity]]:
        with open(path, "rb") as handle:
            for number, line in enumerate(handle, start=1):
                try:
                    yield Prepared.from_line(line)
                except (ValueError, KeyError, TypeError):
                    log.warning(
                        "%s line %d is torn (a crash mid-write); skipped", path.name, number
                    )

    def done(self, path: Path, replayed: int) -> None:
        size = path.stat().st_size
        path.unlink()
        self._bytes = max(0, self._bytes - size)
        self.pending = max(0, self.pending - replayed)
