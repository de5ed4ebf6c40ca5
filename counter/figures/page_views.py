"""Many pages' views at once (``GET /api/stats/pages``), for the "Lượt xem" beside every item
of a list page: one HMGET of the site's page views hash, whatever the number of pages.

Each url is normalised as a hit of it is (:func:`counter.record.recorder.page_path`: the same
query-keeping rules, the same host check), so a list page reads what its articles' hits count.
Reading never counts.
"""

from __future__ import annotations

from typing import Any

from counter.errors import InvalidInput
from counter.record.recorder import page_path
from counter.storage.store import Store

MAX_PAGES = 100


async def read_page_views(store: Store, site_id: str, urls: list[str]) -> dict[str, Any]:
    """``{"site", "page_views": {url as given: views}}`` for 1 to :data:`MAX_PAGES` urls."""
    if not urls:
        raise InvalidInput("give at least one url, e.g. ?url=/tin-tuc/1&url=/tin-tuc/2")
    if len(urls) > MAX_PAGES:
        raise InvalidInput(f"at most {MAX_PAGES} urls at once, got {len(urls)}")
    site = await store.sites.get(site_id)
    paths = {url: page_path(site, url) for url in urls}
    distinct = list(dict.fromkeys(paths.values()))
    values = await store.redis.hmget(store.keys.site(site.id).page_views, distinct)
    views = {path: int(value or 0) for path, value in zip(distinct, values, strict=True)}
    return {"site": site.id, "page_views": {url: views[path] for url, path in paths.items()}}
