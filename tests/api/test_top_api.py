"""GET /api/stats/top and /widget/{site}/top: the most viewed pages, their titles, bad input."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest

from counter.clock import FakeClock
from counter.figures.top import MAX_LIMIT, TOP_PERIODS
from counter.periods import PERIODS, SPANS, TOTAL
from counter.record.hit import Hit
from counter.record.recorder import Recorder
from counter.sites import Site
from tests.helpers import BROWSER_A, post_hit


async def view(recorder: Recorder, path: str, n: int = 1, title: str | None = None) -> None:
    """``n`` counted pageviews of ``path`` from as many browsers (no flood cap is reached)."""
    for i in range(n):
        result = await recorder.record(
            Hit(
                site="demo.local",
                url=path,
                client_ip=f"198.51.100.{i + 1}",
                user_agent=BROWSER_A,
                origin="https://demo.local",
                title=title,
            )
        )
        assert result.counted


async def test_the_top_pages_are_ranked_with_their_latest_titles(
    client: httpx.AsyncClient, recorder: Recorder, site: Site
) -> None:
    await view(recorder, "/tin-tuc/1", 3, title="Tin một (cũ)")
    await view(recorder, "/tin-tuc/1", 1, title="Tin một")
    await view(recorder, "/tin-tuc/2", 2)
    await view(recorder, "/tin-tuc/3", 5, title="Tin <b>ba</b>")
    answer = await client.get("/api/stats/top", params={"site": site.id, "period": "week"})
    assert answer.status_code == 200
    assert answer.json() == {
        "site": "demo.local",
        "period": "week",
        "pages": [
            {"url": "/tin-tuc/3", "title": "Tin <b>ba</b>", "page_views": 5},
            {"url": "/tin-tuc/1", "title": "Tin một", "page_views": 4},
            {"url": "/tin-tuc/2", "title": None, "page_views": 2},
        ],
    }
    limited = await client.get(
        "/api/stats/top", params={"site": site.id, "period": TOTAL, "limit": 1}
    )
    assert [p["url"] for p in limited.json()["pages"]] == ["/tin-tuc/3"]


async def test_every_period_of_the_spans_can_be_asked_and_reading_never_counts(
    client: httpx.AsyncClient, recorder: Recorder, site: Site
) -> None:
    assert (*PERIODS, TOTAL) == TOP_PERIODS
    assert {span.current for span in SPANS} <= set(TOP_PERIODS)
    await view(recorder, "/a", 2)
    for period in TOP_PERIODS:
        answer = await client.get("/api/stats/top", params={"site": site.id, "period": period})
        assert answer.status_code == 200, (period, answer.text)
        pages = answer.json()["pages"]
        previous = any(period == span.previous for span in SPANS)
        assert pages == ([] if previous else [{"url": "/a", "title": None, "page_views": 2}])
    views = await client.get("/api/stats/top", params={"site": site.id, "period": TOTAL})
    assert views.json()["pages"][0]["page_views"] == 2


async def test_yesterdays_ranking_reads_after_the_clock_moves_a_day(
    client: httpx.AsyncClient, recorder: Recorder, clock: FakeClock, site: Site
) -> None:
    await view(recorder, "/hom-qua", 2, title="Hôm qua")
    clock.advance(timedelta(days=1))
    await view(recorder, "/hom-nay", 1)
    yesterday = await client.get("/api/stats/top", params={"site": site.id, "period": "yesterday"})
    today = await client.get("/api/stats/top", params={"site": site.id, "period": "today"})
    total = await client.get("/api/stats/top", params={"site": site.id, "period": "total"})
    assert yesterday.json()["pages"] == [{"url": "/hom-qua", "title": "Hôm qua", "page_views": 2}]
    assert today.json()["pages"] == [{"url": "/hom-nay", "title": None, "page_views": 1}]
    assert [p["url"] for p in total.json()["pages"]] == ["/hom-qua", "/hom-nay"]


async def test_the_top_answer_is_cacheable(client: httpx.AsyncClient, site: Site) -> None:
    answer = await client.get("/api/stats/top", params={"site": site.id})
    assert answer.status_code == 200
    assert answer.json() == {"site": "demo.local", "period": "today", "pages": []}
    assert "max-age" in answer.headers["cache-control"]
    again = await client.get(
        "/api/stats/top",
        params={"site": site.id},
        headers={"If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"site": "nowhere.example"}, 404, "unknown site"),
        ({"site": "bad site"}, 400, "site id"),
        ({}, 400, "site"),
        ({"site": "demo.local", "period": "decade"}, 400, "period"),
        ({"site": "demo.local", "period": ""}, 400, "period"),
        ({"site": "demo.local", "limit": 0}, 400, "limit"),
        ({"site": "demo.local", "limit": MAX_LIMIT + 1}, 400, "limit"),
        ({"site": "demo.local", "limit": "ten"}, 400, "limit"),
    ],
)
async def test_bad_top_requests_are_refused_with_a_detail(
    client: httpx.AsyncClient, site: Site, params: dict[str, object], status: int, says: str
) -> None:
    for path in ("/api/stats/top", f"/widget/{params.get('site', 'demo.local')}/top"):
        query = {
            k: v for k, v in params.items() if not (path.startswith("/widget") and k == "site")
        }
        if path.startswith("/widget") and "site" not in params:
            continue  # the widget's site is in its path
        answer = await client.get(path, params=query)
        assert answer.status_code == status, (path, answer.text)
        assert says in answer.json()["detail"]


@pytest.mark.parametrize(
    ("title", "says"),
    [("a\x07b", "control character"), ("x" * 201, "longer than 200"), (7, "must be a string")],
)
async def test_a_hit_with_a_bad_title_is_refused(
    client: httpx.AsyncClient, site: Site, title: object, says: str
) -> None:
    answer = await post_hit(client, title=title)
    assert answer.status_code == 400
    assert says in answer.json()["detail"]
    assert (await post_hit(client, title="Trang chủ")).status_code == 200


async def test_the_top_iframe_lists_escaped_titles_linking_to_the_site(
    client: httpx.AsyncClient, recorder: Recorder, site: Site
) -> None:
    await view(recorder, "/tin-tuc/1", 1234, title="<script>alert(1)</script> & co")
    await view(recorder, "/tin-tuc/2", 2)
    answer = await client.get(f"/widget/{site.id}/top", params={"period": "month", "limit": 5})
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert "script-src" not in answer.headers["content-security-policy"]
    body = answer.text
    assert "<script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in body
    assert 'href="//demo.local/tin-tuc/1" target="_top"' in body
    assert "1.234 lượt xem" in body  # the site's Vietnamese grouping
    assert "Tin xem nhiều · Trong tháng" in body
    assert body.index("/tin-tuc/1") < body.index("/tin-tuc/2")
    english = await client.get(f"/widget/{site.id}/top", params={"lang": "en", "grouping": ","})
    assert "Most viewed · Today" in english.text and "1,234 views" in english.text
    again = await client.get(
        f"/widget/{site.id}/top",
        params={"period": "month", "limit": 5},
        headers={"If-None-Match": answer.headers["etag"]},
    )
    assert again.status_code == 304


async def test_the_top_iframe_says_when_a_period_has_no_views(
    client: httpx.AsyncClient, site: Site
) -> None:
    answer = await client.get(f"/widget/{site.id}/top", params={"period": "last_month"})
    assert answer.status_code == 200
    assert "Chưa có lượt xem" in answer.text
