"""Audited adjustments: the all-time figure set to N from now on, kept in a ledger."""

from __future__ import annotations

from typing import Any

import orjson

from counter.errors import InvalidInput
from counter.periods import local_date
from counter.sites import Measure
from counter.storage.store import Store

MAX_TOTAL = 10**15
MAX_REASON_CHARS = 500


async def adjust_total(
    store: Store, site_id: str, total: int, reason: str, measure: Measure | None = None
) -> dict[str, Any]:
    """From now on the all-time figure is ``total`` plus what is counted afterwards."""
    site = await store.sites.get(site_id)
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"a reason is required (1 to {MAX_REASON_CHARS} characters)")
    if not 0 <= total <= MAX_TOTAL:
        raise InvalidInput(f"total must be between 0 and {MAX_TOTAL}")
    measure = measure or site.measure
    keys = store.keys.site(site.id)
    now = store.clock.now()
    today = local_date(now, site.tz)
    at = now.astimezone(site.tz).isoformat(timespec="seconds")
    before = await store.scripts.adjust_total(
        keys=keys.adjust_total_keys(today),
        args=[measure.value, total, at, reason, today.isoformat()],
    )
    return {
        "at": at,
        "measure": measure.value,
        "before": int(before),
        "after": total,
        "reason": reason,
    }


async def list_adjustments(store: Store, site_id: str) -> list[dict[str, Any]]:
    site = await store.sites.get(site_id)
    raw = await store.redis.lrange(store.keys.site(site.id).adjustments, 0, -1)
    return [orjson.loads(entry) for entry in raw]


async def carry_totals(
    store: Store,
    site_id: str,
    source: str,
    carried: dict[Measure, int],
    reason: str,
    details: dict[str, Any],
    force_entry: bool = False,
) -> dict[str, Any] | None:
    """An old counter's all time beyond the days it brought as history, carried into each
    measure's offset (carry_totals.lua): each run moves the offset only by what changed since
    the source's last ledger entry, so repeating an import changes nothing and nothing counted
    here meanwhile is lost. Returns the ledger entry written, or None when nothing moved."""
    site = await store.sites.get(site_id)
    keys = store.keys.site(site.id)
    at = store.clock.now().astimezone(site.tz).isoformat(timespec="seconds")
    pairs: list[str | int] = []
    for measure in Measure:
        count = carried.get(measure, 0)
        if not 0 <= count <= MAX_TOTAL:
            raise InvalidInput(f"{measure.value}: {count} is out of range (0 to {MAX_TOTAL})")
        pairs += [measure.value, count]
    written = await store.scripts.carry_totals(
        keys=keys.carry_totals_keys(),
        args=[
            at,
            source,
            reason[:MAX_REASON_CHARS],
            site.measure.value,
            orjson.dumps(details).decode(),
            "1" if force_entry else "0",
            *pairs,
        ],
    )
    if written is None:
        return None
    entry: dict[str, Any] = orjson.loads(written)
    return entry
