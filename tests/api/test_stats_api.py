from __future__ import annotations

import httpx

from counter.sites import Site


async def test_stats_reads_are_cacheable_and_revalidate_with_304(
    client: httpx.AsyncClient, site: Site
) -> None:
    for path, params in (
        ("/api/stats", {"site": site.id}),
        ("/api/stats/history", {"site": site.id, "from": "2026-11-20", "to": "2026-11-25"}),
    ):
        first = await client.get(path, params=params, headers={"Origin": "https://a.example"})
        assert first.status_code == 200
        assert first.headers["content-type"] == "application/json"
        assert first.headers["cache-control"].startswith("public, max-age=5")
        assert first.headers["access-control-allow-origin"] == "*"
        etag = first.headers["etag"]
        again = await client.get(path, params=params, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        other = await client.get(path, params=params, headers={"If-None-Match": '"stale"'})
        assert other.status_code == 200
        assert other.json() == first.json()
