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
        self._bytes = 0  # in every spool file of the directory
        self._file_bytes = 0  # in this process's open file: where its next line begins
        self.pending = 0  # hits this process holds: appended, or claimed, and not replayed
        self.failing = False  # the last write was refused by the disk (full, read-only)

    # -- writing ---------------------------------------------------------------------------
    def _open(self) -> int:
        if self._fd is None:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._bytes = self.pending_bytes()
            self._path = self.directory / f"spool-{self._pid}-{secrets.token_hex(4)}.jsonl"
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._file_bytes = 0
        return self._fd

    def append(self, line: bytes) -> bool:
        """Keep one spooled hit (:meth:`Prepared.to_line`), whole, before it is acknowledged.

        False when the spool is full or the disk refuses the line (full, read-only): then
        nothing of the line stays, so no torn line can spoil the next one.
        """
        if self._bytes + len(line) > self.max_bytes:
            return False
        try:
            fd = self._open()
            written = 0
            while written < len(line):  # a write may be short; the rest follows
                written += os.write(fd, line[written:])
        except OSError as exc:
            self.failing = True
            log.error("the spool cannot be written (%s); hits are refused", exc.strerror)
            if self._fd is not None:
                self._cut_back()
            return False
        self.failing = False
        self._bytes += len(line)
        self._file_bytes += len(line)
        self.pending += 1
        return True

    def _cut_back(self) -> None:
        """Drop what a refused write left of its line (a torn tail)."""
        assert self._fd is not None
        try:
            os.ftruncate(self._fd, self._file_bytes)
        except OSError as exc:
            # The file now ends in a torn line, which the replay skips; the next line must not
            # join it, so the next append starts a new file.
            log.error("cannot cut a torn spool line (%s); starting a new file", exc.strerror)
            os.close(self._fd)
            self._fd = None

    @property
    def full(self) -> bool:
        """No room for another hit: the size bound is reached, or the disk refused the last."""
        return self.failing or self._bytes >= self.max_bytes

    def sync(self) -> None:
        """fsync what was appended (the page cache already survives a process crash)."""
        if self._fd is not None:
            try:
                os.fsync(self._fd)
            except OSError as exc:
                log.error("cannot fsync the spool (%s)", exc.strerror)

    def close(self) -> None:
        if self._fd is not None:
            self.sync()
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
                    self.pending += _lines(target)
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

    def done(self, path: Path) -> None:
        """A claimed file is replayed: its hits, torn lines too, are no longer held."""
        size, lines = path.stat().st_size, _lines(path)
        path.unlink()
        self._bytes = max(0, self._bytes - size)
        self.pending = max(0, self.pending - lines)
        self.failing = False  # room was made; the next hit tries the disk again


def _lines(path: Path) -> int:
    """The lines of a spool file, a torn last one included (what ``pending`` counted)."""
    with open(path, "rb") as handle:
        return sum(1 for _ in handle)
