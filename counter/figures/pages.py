"""Each page's all-time views carried over: from an old counter (carried in, so a second run
adds only what changed) or set by hand (`pages set`, `pages import`, audited).

Both write the hash that every hit bumps and ``/api/stats?url=`` reads
(``SiteKeys.page_views``), through carry_pages.lua, so the hot path does not change.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from counter.errors import InvalidInput
from counter.sites import Site
from counter.storage.store import Store
from counter.urls import normalize_path

PAGES_CSV_FIELDS = ("url", "views")
MAX_VIEWS = 10**12
MAX_REASON_CHARS = 500
BATCH = 500


def parse_pages_csv(lines: Iterable[str]) -> Iterator[tuple[str, int]]:
    """Rows of ``url,views`` (a header line is optional); the url a full URL or a path."""
    for number, record in enumerate(csv.reader(lines), start=1):
        if not record or (number == 1 and record[0].strip().lower() == "url"):
            continue
        if len(record) != len(PAGES_CSV_FIELDS):
            raise InvalidInput(f"line {number}: expected url,views, got {len(record)} fields")
        yield record[0].strip(), parse_views(record[1], f"line {number}: views")


def parse_views(raw: str | int, what: str = "views") -> int:
    try:
        views = int(str(raw).strip())
    except ValueError:
        raise InvalidInput(f"{what} must be a whole number") from None
    if not 0 <= views <= MAX_VIEWS:
        raise InvalidInput(f"{what} must be between 0 and {MAX_VIEWS}")
    return views


def page_paths(site: Site, pages: Iterable[tuple[str, int]], add: bool = True) -> dict[str, int]:
    """Each URL as the page path hits count under (``counter.urls``); two URLs of one page
    (``/a/`` and ``/a/index.html``) add up, or with ``add=False`` the last one given counts."""
    out: dict[str, int] = {}
    for url, views in pages:
        try:
            path = normalize_path(url, site.keep_query)
        except InvalidInput as exc:
            raise InvalidInput(f"{url[:200]!r}: {exc}") from None
        out[path] = out.get(path, 0) + views if add else views
    return out


async def _run(
    store: Store,
    site: Site,
    mode: str,
    source: str,
    reason: str,
    paths: dict[str, int],
    progress: Callable[[int], None] | None,
) -> tuple[int, int]:
    keys = store.keys.site(site.id).carry_pages_keys()
    at = store.clock.now().astimezone(site.tz).isoformat(timespec="seconds")
    items = list(paths.items())
    changed = added = 0
    for start in range(0, len(items), BATCH):
        chunk = items[start : start + BATCH]
        args: list[str | int] = [mode, source, at, reason]
        for path, views in chunk:
            args += [path, views]
        done, delta = await store.scripts.carry_pages(keys=keys, args=args)
        changed, added = changed + int(done), added + int(delta)
        if progress is not None:
            progress(len(chunk))
    return changed, added


async def carry_pages(
    store: Store,
    site_id: str,
    source: str,
    paths: dict[str, int],
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Carry an old counter's views per page in: each page rises by what ``source`` counted
    beyond what it carried before. Returns (pages changed, views added)."""
    site = await store.sites.get(site_id)
    return await _run(store, site, "carry", source, "", paths, progress)


async def set_pages(
    store: Store,
    site_id: str,
    pages: Iterable[tuple[str, int]],
    reason: str,
    source: str = "pages set",
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Each page shows N views from now on (plus what is counted afterwards), each change kept
    in the pages ledger with its reason. Returns (pages changed, views added)."""
    site = await store.sites.get(site_id)
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON_CHARS:
        raise InvalidInput(f"a reason is required (1 to {MAX_REASON_CHARS} characters)")
    paths = page_paths(site, pages, add=False)
    return await _run(store, site, "set", source, reason, paths, progress)


async def list_page_adjustments(store: Store, site_id: str) -> list[dict[str, Any]]:
    site = await store.sites.get(site_id)
    raw = await store.redis.lrange(store.keys.site(site.id).page_adjustments, 0, -1)
    return [orjson.loads(entry) for entry in raw]
