"""The worker's journal: pageviews the store counted that no durable snapshot covers yet.

The store may lose its data (FLUSHALL, a restart without persistence); the aggregator's
snapshot brings back what it covered, and this journal what came after: each process keeps
every pageview it acknowledged, tagged with the site's snapshot marker as the hit script saw
it (``generation``: the last snapshot read of the site, which this hit is NOT in; ``restored``:
which restore the store's data descends from). A tick compares the journal with each site's
marker:

- the site's snapshot ``durable`` (on disk) is past the entry's generation, in the same
  lineage: the snapshot covers it, and it goes;
- the site was restored since (another ``restored``) from a snapshot that did not hold it
  (``restored_from`` <= its generation): the store lost it, and it goes to the outage spool,
  whose replay counts it again under its own id and time, exactly once.

Entries live in memory and, so that a crashed process's entries are not lost with it, in
segment files under ``<data dir>/journal/`` (one ``write`` per pageview, no fsync: the page
cache survives a process crash); a segment is deleted once all its entries are settled, and
a new process adopts the segments of dead ones.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from counter.processes import pid_alive
from counter.record.spool import Spool
from counter.replies import text
from counter.storage.store import Store

log = logging.getLogger("visitor_stats.journal")

SEGMENT_ENTRIES = 20_000  # a new segment file after this many entries


@dataclass(slots=True)
class Entry:
    site: str
    generation: int | None  # the site's marker when the store counted it; None: no marker
    restored: str  # the marker's restore id then ('' before any restore)
    line: bytes  # the hit as a spool line (Prepared.to_line)
    segment: Segment


class Segment:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.live = 0  # entries not settled yet
        self.fd: int | None = None

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def drop(self) -> None:
        self.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


@dataclass(frozen=True, slots=True)
class Marker:
    """A site's snapshot marker (SiteKeys.epoch) as the store holds it."""

    generation: int | None = None
    restored: str = ""
    restored_from: int | None = None
    durable: int | None = None

    @classmethod
    def of(cls, raw: list[Any]) -> Marker:
        generation, restored, restored_from, durable = raw

        def number(value: Any) -> int | None:
            return None if value is None else int(value)

        return cls(
            number(generation),
            "" if restored is None else text(restored),
            number(restored_from),
            number(durable),
        )


class Journal:
    def __init__(self, directory: Path, max_entries: int) -> None:
        self.directory = directory
        self.max_entries = max_entries
        self._pid = os.getpid()
        self._entries: dict[str, list[Entry]] = {}
        # Per site, the marker of its last settling and how many of its entries (the first
        # ones) that settling kept as open: a verdict depends on the entry and the marker
        # alone, so under the same marker only the entries added since are judged. Without
        # this a tick walked every entry a snapshot had not covered yet (up to 30 s of hits,
        # every half second: a stall of tens of ms at 1,500 pageviews a second).
        self._judged: dict[str, tuple[Marker, int]] = {}
        self._count = 0
        self._segment: Segment | None = None
        self._segments: list[Segment] = []
        self.dropped = 0  # entries given up (the bound reached, or the disk refused them)
        self.replayed = 0  # entries handed to the spool after a detected loss

    def __len__(self) -> int:
        return self._count

    # -- writing ---------------------------------------------------------------------------
    def _open_segment(self) -> Segment:
        if self._segment is None or self._segment.live >= SEGMENT_ENTRIES:
            if self._segment is not None:
                self._segment.close()
            self.directory.mkdir(parents=True, exist_ok=True)
            name = f"journal-{self._pid}-{secrets.token_hex(4)}.jsonl"
            segment = Segment(self.directory / name)
            segment.fd = os.open(segment.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            self._segment = segment
            self._segments.append(segment)
        return self._segment

    def keep(self, site: str, marker: list[Any] | None, line: bytes) -> None:
        """Keep one pageview the store counted, before it is acknowledged."""
        generation, restored = marker if marker else (None, None)
        entry_generation = None if generation is None else int(generation)
        entry_restored = "" if restored is None else text(restored)
        self._add(site, entry_generation, entry_restored, line, write=True)

    def _add(
        self, site: str, generation: int | None, restored: str, line: bytes, write: bool
    ) -> None:
        if self._count >= self.max_entries:
            self.dropped += 1  # the store still has it; only its cover against a loss goes
            return
        try:
            segment = self._open_segment()
            if write:
                record = orjson.dumps(
                    {"site": site, "g": generation, "r": restored, "hit": line.decode()}
                )
                assert segment.fd is not None
                os.write(segment.fd, record + b"\n")
        except OSError as exc:
            self.dropped += 1
            log.error("the journal cannot be written (%s)", exc.strerror)
            return
        segment.live += 1
        self._entries.setdefault(site, []).append(Entry(site, generation, restored, line, segment))
        self._count += 1

    def adopt(self) -> int:
        """Take over the journal segments of dead processes (at start); returns the entries."""
        if not self.directory.exists():
            return 0
        adopted = 0
        for path in sorted(self.directory.glob("journal-*.jsonl")):
            pid = int(path.stem.split("-")[1])
            if pid == self._pid or pid_alive(pid):
                continue
            segment = Segment(
                path.with_name(f"journal-{self._pid}-{path.stem.split('-')[2]}.jsonl")
            )
            with contextlib.suppress(FileNotFoundError):
                os.rename(path, segment.path)
                self._segments.append(segment)
                with open(segment.path, "rb") as handle:
                    for line in handle:
                        try:
                            data = orjson.loads(line)
                            site, hit = str(data["site"]), str(data["hit"]).encode()
                        except (ValueError, KeyError, TypeError):
                            continue  # a torn last line: its hit was never acknowledged
                        if self._count >= self.max_entries:
                            break
                        segment.live += 1
                        self._entries.setdefault(site, []).append(
                            Entry(site, data["g"], str(data["r"]), hit, segment)
                        )
                        self._count += 1
                        adopted += 1
                if segment.live == 0:
                    segment.drop()
        if adopted:
            log.info("adopted %d journal entries of stopped processes", adopted)
        return adopted

    # -- settling --------------------------------------------------------------------------
    async def settle(self, store: Store, spool: Spool | None) -> tuple[int, int]:
        """Drop what durable snapshots cover; spool what a loss took. Returns (covered, lost).

        One pipelined read of the journaled sites' markers; a store error reaches the caller
        and changes nothing.
        """
        sites = [site for site, entries in self._entries.items() if entries]
        if not sites:
            return 0, 0
        batch = store.batch()
        for site in sites:
            batch.command(
                "hmget",
                store.keys.site(site).epoch,
                "generation",
                "restored",
                "restored_from",
                "durable",
            )
        markers = [Marker.of(raw) for raw in await batch.execute()]
        covered = lost = 0
        for site, marker in zip(sites, markers, strict=True):
            entries = self._entries[site]
            judged = self._judged.get(site)
            start = judged[1] if judged is not None and judged[0] == marker else 0
            kept = entries[:start]
            waiting = False  # a lost entry the spool had no room for: judged again next tick
            for entry in entries[start:]:
                verdict = _verdict(entry, marker)
                if verdict == "lost":
                    if spool is None or not spool.append(entry.line):
                        kept.append(entry)
                        waiting = True
                        continue
                    lost += 1
                elif verdict == "covered":
                    covered += 1
                else:
                    kept.append(entry)
                    continue
                self._settled(entry)
            self._entries[site] = kept
            if waiting:
                self._judged.pop(site, None)
            else:
                self._judged[site] = (marker, len(kept))
        if lost:
            self.replayed += lost
            log.warning("the store lost %d acknowledged pageview(s); spooled to count again", lost)
        return covered, lost

    def _settled(self, entry: Entry) -> None:
        self._count -= 1
        entry.segment.live -= 1
        if entry.segment.live == 0 and entry.segment is not self._segment:
            entry.segment.drop()
            self._segments.remove(entry.segment)

    def close(self) -> None:
        for segment in self._segments:
            if segment.live == 0:
                segment.drop()
            else:
                segment.close()
        self._segment = None


def _verdict(entry: Entry, marker: Marker) -> str:
    """'covered', 'lost', or 'open' (neither yet)."""
    if marker.restored != entry.restored:
        # A restore happened since the store counted it (or the marker is gone: one is due).
        if marker.restored_from is None:
            return "open"  # lost, not restored yet: wait for the restore to say what it held
        if entry.generation is not None:
            # The snapshot the store came back from holds what was counted before it was read.
            return "lost" if entry.generation >= marker.restored_from else "covered"
        # Counted while the store had no marker: after the loss, before the restore (which
        # added the snapshot to it): the next durable snapshot holds it.
        return "covered" if _durable_past(marker, marker.restored_from) else "open"
    if entry.generation is None:
        return "covered" if marker.durable is not None else "open"
    return "covered" if _durable_past(marker, entry.generation) else "open"


def _durable_past(marker: Marker, generation: int) -> bool:
    return marker.durable is not None and marker.durable > generation
