"""The aggregator's durable snapshot, and the restore when the store lost or rewound data.

Every pass writes, for each site whose figures changed, a JSON file under
``<data dir>/snapshot/`` (written to a temporary file, fsynced, renamed: a crash leaves the old
file or the new one, never half of one), before the pass publishes its summaries (issue 12:
nothing shown goes down). Reading a site for its snapshot also moves the site's epoch marker
in the store to the snapshot's generation, in the same script.

Before each pass the markers are compared with the snapshot:
- the store has no registry epoch but a snapshot exists: the store lost its data (restarted
  without persistence, flushed): the registry is restored and each site's snapshot is ADDED
  to what was counted since, so all time never drops;
- a site's marker is older than its snapshot: the store was restored from an old backup:
  each figure becomes the larger of the two.
Each site's restore sets its marker in the same script, so it happens once.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import logging
import math
import os
import secrets
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from counter.periods import SPANS, Periods
from counter.replies import counts, fields, text
from counter.sites import Site
from counter.storage.store import Store

log = logging.getLogger("visitor_stats.aggregator")

SNAPSHOTS_PER_PASS_AT_LEAST = 25
# How long a restored visitors HLL lives (as record_hit.lua gives it), by span name.
HLL_TTLS_S = {span.name: span.hll_ttl_s for span in SPANS}


def write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    with open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def _digest(value: Any) -> str:
    return hashlib.blake2b(
        orjson.dumps(value, option=orjson.OPT_SORT_KEYS), digest_size=16
    ).hexdigest()


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What one site's snapshot must keep up with, as a pass read it.

    ``figures`` covers everything (hits included): when only it changed, the site is due
    within ``snapshot_interval_s``, since the workers' journals bring back the hits a loss
    takes meanwhile. No journal replays the rest, so a change there makes the site due in
    this very pass: ``durable`` (the config, the offsets, the ledgers, the site keys, the
    pages and days an import carried), and ``history``, the history rows before ``day``
    (hits write today's row; an import sets past days). ``history`` counts only against a
    mark of the same ``day``: at midnight today's row becomes a past one for every site, and
    that is no reason to write them all in one pass.
    """

    figures: str
    durable: str
    day: str
    history: str

    @classmethod
    def of(cls, totals: dict[str, int], durable: Any, day: date, history: Any) -> Fingerprint:
        durable_digest, history_digest = _digest(durable), _digest(history)
        return cls(
            _digest([totals, durable_digest, history_digest]),
            durable_digest,
            day.isoformat(),
            history_digest,
        )

    def mark(self) -> list[str]:
        """What the manifest keeps of it: an aggregator that restarts still knows."""
        return [self.durable, self.day, self.history]

    def changed_since(self, mark: list[str]) -> bool:
        """Whether what no journal replays changed since the snapshot of ``mark``."""
        durable, day, history = mark
        return durable != self.durable or (day == self.day and history != self.history)


class StoreLost(Exception):
    """The store lost its data while a pass ran: the pass publishes nothing, and the next one
    restores (the snapshot files keep what they held)."""


@dataclass
class RestoreReport:
    registry_restored: bool = False
    sites_added: list[str] = field(default_factory=list)  # lost data: snapshot added back
    sites_raised: list[str] = field(default_factory=list)  # old backup: larger figure kept


class Snapshots:
    def __init__(self, store: Store, directory: Path) -> None:
        self.store = store
        self.directory = directory
        self._written: dict[str, str] = {}  # site -> the figures of the snapshot last written
        self._written_at: dict[str, float] = {}  # site -> when (clock, Unix s) it was written
        self._manifest: dict[str, Any] | None = None

    # -- files -----------------------------------------------------------------------------
    @property
    def _manifest_path(self) -> Path:
        return self.directory / "manifest.json"

    def _site_path(self, site_id: str) -> Path:
        return self.directory / "sites" / f"{site_id}.json"

    def manifest(self) -> dict[str, Any] | None:
        if self._manifest is None and self._manifest_path.exists():
            self._manifest = orjson.loads(self._manifest_path.read_bytes())
        return self._manifest

    def site_snapshot(self, site_id: str) -> dict[str, Any] | None:
        path = self._site_path(site_id)
        return orjson.loads(path.read_bytes()) if path.exists() else None

    # -- restore ---------------------------------------------------------------------------
    async def restore_if_needed(self) -> RestoreReport:
        report = RestoreReport()
        manifest = self.manifest()
        if manifest is None:
            return report
        keys = self.store.keys
        epoch = {text(k): text(v) for k, v in (await self.store.redis.hgetall(keys.epoch)).items()}
        if epoch and epoch.get("id") != manifest["epoch"]:
            log.error(
                "the store's epoch %s is not the snapshot's %s: refusing to restore another "
                "store's data (move %s away to start a new snapshot)",
                epoch.get("id"),
                manifest["epoch"],
                self.directory,
            )
            return report
        markers = self.store.batch()
        for site_id in manifest["sites"]:
            markers.command("hget", keys.site(site_id).epoch, "generation")
        site_markers = await markers.execute()
        # A FLUSHALL just before a pass's last write (the epoch's generation) leaves the epoch
        # as the snapshot has it but no registry and no site markers: lost all the same.
        registry_lost = (
            bool(manifest["sites"])
            and not await self.store.redis.exists(keys.sites)
            and all(marker is None for marker in site_markers)
        )
        if (
            not epoch
            or int(epoch.get("generation", 0)) < int(manifest["generation"])
            or registry_lost
        ):
            # The registry and its marker share a slot: restore both in one transaction.
            async with self.store.redis.pipeline(transaction=True) as pipe:
                if manifest["sites"]:
                    pipe.sadd(keys.sites, *manifest["sites"])
                pipe.hset(
                    keys.epoch,
                    mapping={"id": manifest["epoch"], "generation": manifest["generation"]},
                )
                await pipe.execute()
            report.registry_restored = True
            log.warning(
                "store epoch %s behind the snapshot: sites registry restored", epoch or "missing"
            )
        restores = self.store.batch()
        planned: list[tuple[str, str]] = []
        for site_id, marker in zip(manifest["sites"], site_markers, strict=True):
            snapshot = self.site_snapshot(site_id)
            if snapshot is None:
                continue
            if marker is None:
                mode = "add"
            elif int(marker) < int(snapshot["generation"]):
                mode = "max"
            else:
                continue
            planned.append((site_id, mode))
            site_keys = keys.site(site_id)
            hlls = snapshot.pop("hll", {"day": "", "keys": []})
            restores.script(
                self.store.scripts.restore_site,
                keys=site_keys.restore_keys([key for _, key, _ in hlls["keys"]]),
                args=[
                    mode,
                    orjson.dumps(snapshot),
                    snapshot["generation"],
                    manifest["epoch"],
                    hlls["day"],
                    *(
                        v
                        for span, _, blob in hlls["keys"]
                        for v in (HLL_TTLS_S[span], base64.b64decode(blob))
                    ),
                ],
            )
        for (site_id, mode), done in zip(planned, await restores.execute(), strict=True):
            if int(done):
                (report.sites_added if mode == "add" else report.sites_raised).append(site_id)
                log.warning("restored %s from the snapshot (%s)", site_id, mode)
        return report

    # -- write -----------------------------------------------------------------------------
    async def write(self, sites: list[Site], fingerprints: dict[str, Fingerprint]) -> int:
        """Snapshot the sites whose fingerprint changed; the pass publishes after this.

        A site never written, or whose config, offsets, ledgers, keys or imports changed
        (what the workers' journals cannot bring back), is written in this pass. A site whose
        hits alone changed is written at most every ``snapshot_interval_s``, and one pass
        writes only its share of those (the longest unwritten first): a snapshot re-reads the
        site's whole history and page views, on a busy network every site gets hits every
        pass, and writing them all each time would cost more than the pass itself.
        """
        manifest = self.manifest() or {"epoch": await self._store_epoch_id(), "generation": 0}
        marks: dict[str, list[str]] = dict(manifest.get("marks", {}))
        # A manifest from before the marks: its sites were written, what changed is unknown.
        written = set(self._written) | set(
            marks if "marks" in manifest else manifest.get("sites", [])
        )
        settings = self.store.settings
        now = self.store.clock.now().timestamp()
        now_due = []
        for s in sites:
            fingerprint = fingerprints.get(s.id)
            if s.id not in written or (
                fingerprint is not None and s.id in marks and fingerprint.changed_since(marks[s.id])
            ):
                now_due.append(s)
        urgent = {s.id for s in now_due}
        due = sorted(
            (
                s
                for s in sites
                if s.id not in urgent
                and self._written.get(s.id) != _figures(fingerprints.get(s.id))
                and now - self._written_at.get(s.id, -math.inf) >= settings.snapshot_interval_s
            ),
            key=lambda s: self._written_at.get(s.id, -math.inf),
        )
        share = math.ceil(
            len(sites) * settings.aggregate_interval_s / max(settings.snapshot_interval_s, 1e-9)
        )
        changed = now_due + due[: max(SNAPSHOTS_PER_PASS_AT_LEAST, share)]
        registry_changed = sorted(s.id for s in sites) != manifest.get("sites")
        if not changed and not registry_changed:
            return 0
        generation = int(manifest["generation"]) + 1
        held = set(manifest.get("sites", []))  # their markers must still be in the store
        batch = self.store.batch()
        periods = {}
        for site in changed:
            periods[site.id] = Periods.of(self.store.clock.now(), site.tz, site.first_weekday)
            site_keys = self.store.keys.site(site.id)
            batch.script(
                self.store.scripts.snapshot_site,
                keys=site_keys.snapshot_keys() + site_keys.snapshot_hll_keys(periods[site.id]),
                args=[generation, manifest["epoch"], "1" if site.id in held else "0"],
            )
        gone: set[str] = set()
        for site, raw in zip(changed, await batch.execute(), strict=True):
            if raw is None:
                gone.add(site.id)  # removed, or lost, since the pass read the registry
                continue
            config, totals, offsets, adjustments, pageviews, visits, visitors, page_views = raw[:8]
            access, page_imports, imported_days, page_adjustments = raw[9:13]
            hll_keys = self.store.keys.site(site.id).snapshot_hll_keys(periods[site.id])
            snapshot = {
                "site": site.id,
                "generation": generation,
                "config": text(config) if config is not None else None,
                "totals": counts(totals),
                "offsets": counts(offsets),
                "adjustments": [text(a) for a in adjustments],
                "pageviews": counts(pageviews),
                "visits": counts(visits),
                "visitors": counts(visitors),
                "page_views": counts(page_views),
                "access": fields(access),
                "page_imports": counts(page_imports),
                "imported_days": fields(imported_days),
                "page_adjustments": [text(a) for a in page_adjustments],
                # The visitors of each span's current period (HLL bytes, base64).
                "hll": {
                    "day": periods[site.id].today.isoformat(),
                    "keys": [
                        [span.name, key, base64.b64encode(blob).decode()]
                        for span, key, blob in zip(SPANS, hll_keys, raw[8], strict=True)
                        if blob is not None
                    ],
                },
            }
            write_atomically(self._site_path(site.id), orjson.dumps(snapshot))
            fingerprint = fingerprints.get(site.id)
            self._written[site.id] = _figures(fingerprint)
            self._written_at[site.id] = now
            if fingerprint is not None:
                marks[site.id] = fingerprint.mark()
        # The epoch moves only if the store still has it: if it lost its data during the pass
        # (before the reads, the gone sites say so; after, only this tells), the sites
        # snapshotted before the loss are on disk, the others keep their last file, the
        # manifest names every site known with a file, and the next pass restores them all.
        lost = not await self.store.scripts.mark_epoch(
            keys=[self.store.keys.epoch], args=[manifest["epoch"], generation]
        )
        if lost:
            # Every site the last manifest or this pass knew that has a file: a pass that read
            # the registry after the loss saw none of them, and the restore must see them all.
            kept = {*manifest.get("sites", []), *(s.id for s in sites)}
            ids = sorted(i for i in kept if self._site_path(i).exists())
        else:
            ids = sorted(s.id for s in sites if s.id not in gone)  # gone: removed meanwhile
            # On disk now: the workers' journals let go of what these snapshots hold.
            durable = self.store.batch()
            for site in changed:
                if site.id not in gone:
                    durable.command(
                        "hset", self.store.keys.site(site.id).epoch, "durable", generation
                    )
            await durable.execute()
        manifest = {
            "epoch": manifest["epoch"],
            "generation": generation,
            "sites": ids,
            "marks": {i: marks[i] for i in ids if i in marks},
        }
        write_atomically(self._manifest_path, orjson.dumps(manifest))
        self._manifest = manifest
        if lost:
            raise StoreLost("the store lost its data while the pass wrote its snapshot")
        for stale in set((self.directory / "sites").glob("*.json")) - {
            self._site_path(i) for i in ids
        }:
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()  # a site removed from the registry
        return len(changed) - len(gone)

    async def _store_epoch_id(self) -> str:
        """The store's epoch id, created the first time a snapshot is written."""
        key = self.store.keys.epoch
        await self.store.redis.hsetnx(key, "id", secrets.token_hex(8))
        return text(await self.store.redis.hget(key, "id"))


def _figures(fingerprint: Fingerprint | None) -> str:
    return fingerprint.figures if fingerprint is not None else ""
