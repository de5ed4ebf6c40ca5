"""GET /api/stats/top and /widget/{site}/top: the most viewed pages, their titles, bad input."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.figures import carryover
from counter.figures.oldcounters import Options, read_carry
from counter.figures.pages import set_pages
from counter.figures.top import MAX_LIMIT, TOP_PERIODS
from counter.periods import PERIODS, SPANS, TOTAL
from counter.record.hit import Hit
from counter.record.recorder import Recorder
from counter.sites import Site
from counter.storage.store import Store
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


async def test_pages_carried_from_an_old_counter_rank_all_time_by_their_carried_views(
    client: httpx.AsyncClient, store: Store, recorder: Recorder, site: Site, tmp_path: Path
) -> None:
    await view(recorder, "/moi", 3)
    # A GoatCounter export: /bai-cu read 5 times before the switch (two days ago).
    export = tmp_path / "goatcounter-export.csv"
    export.write_text(
        '"2,Path",Title,Event,User-Agent,Browser,System,Session,Bot,Referrer,Referrer scheme,'
        "Screen size,Location,FirstVisit,Date\n"
        + "".join(
            f'/bai-cu,T,false,,Firefox,Linux,s{i},0,,,"1,1,1",VN,true,2026-11-23T03:00:00Z\n'
            for i in range(5)
        )
    )

    async def carry_in() -> None:
        options = Options(source=str(export), site=site, now=store.clock.now())
        planned = await carryover.plan(store, site.id, read_carry("goatcounter", options))
        await carryover.apply(store, planned)
        await run_pass(store, store.clock.now(), only=[site.id])

    async def ranked() -> list[tuple[str, int]]:
        answer = await client.get("/api/stats/top", params={"site": site.id, "period": TOTAL})
        assert answer.status_code == 200, answer.text
        return [(p["url"], p["page_views"]) for p in answer.json()["pages"]]

    await carry_in()
    assert await ranked() == [("/bai-cu", 5), ("/moi", 3)]
    await carry_in()  # the same import again adds nothing, here as anywhere
    assert await ranked() == [("/bai-cu", 5), ("/moi", 3)]
    await view(recorder, "/bai-cu", 1)
    assert await ranked() == [("/bai-cu", 6), ("/moi", 3)]
    # Set by hand (`pages set`): the page ranks with the figure it was given, up or down.
    await set_pages(store, site.id, [("/dat-tay", 10)], "the old box showed 10")
    await set_pages(store, site.id, [("/bai-cu", 4)], "counted twice before the switch")
    assert await ranked() == [("/dat-tay", 10), ("/bai-cu", 4), ("/moi", 3)]


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
