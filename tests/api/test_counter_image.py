"""``GET /counter/{site}.svg``: a valid SVG of one figure, grouped as the site prints it."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import httpx

from aggregator.rollup import run_pass
from counter.figures.adjustments import adjust_total
from counter.sites import Site, make_site
from counter.storage.store import Store
from tests.helpers import BROWSER_B, post_hit

SVG_NS = "{http://www.w3.org/2000/svg}"


def texts(svg: bytes) -> list[str]:
    """The SVG parsed (so it must be well-formed XML, an <svg> root): its text, in order."""
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    assert int(root.attrib["width"]) > 0 and root.attrib["height"] == "20"
    return [t.text or "" for t in root.iter(f"{SVG_NS}text")]


async def carry(store: Store, site: Site, total: int) -> None:
    await adjust_total(store, site.id, total, "old counter")
    await run_pass(store, store.clock.now())


async def test_the_all_time_figure_in_the_sites_grouping_and_language(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    await carry(store, site, 48812107)
    answer = await client.get(f"/counter/{site.id}.svg")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/svg+xml"
    assert answer.headers["cache-control"].startswith("public, max-age=5")
    assert texts(answer.content) == ["Tất cả", "48.812.107"]

    english = await client.get(f"/counter/{site.id}.svg", params={"lang": "en", "label": ""})
    assert texts(english.content) == ["48.812.107"]  # no label; grouping stays the site's
    labelled = await client.get(
        f"/counter/{site.id}.svg", params={"period": "today", "lang": "en", "label": "<b>&"}
    )
    assert texts(labelled.content) == ["<b>&", "0"]


async def test_a_comma_grouping_site_and_the_odometer(
    client: httpx.AsyncClient, store: Store
) -> None:
    site = make_site(id="en.local", domains=["en.local"], locale="en", grouping=",")
    await store.registry.put(site)
    await carry(store, site, 1234567)
    flat = await client.get("/counter/en.local.svg")
    assert texts(flat.content) == ["All time", "1,234,567"]
    odometer = await client.get("/counter/en.local.svg", params={"style": "odometer"})
    assert texts(odometer.content) == ["All time", *"01234567"]
    short = await client.get(
        "/counter/en.local.svg", params={"style": "odometer", "digits": 4, "label": ""}
    )
    assert texts(short.content) == list("1234567")  # never cut: every digit shows


async def test_a_pages_views_and_reading_the_image_never_counts(
    client: httpx.AsyncClient, store: Store, site: Site
) -> None:
    assert (await post_hit(client, "https://demo.local/tin-tuc/1")).status_code == 200
    assert (await post_hit(client, "https://demo.local/tin-tuc/1", ua=BROWSER_B)).status_code == 200
    await run_pass(store, store.clock.now())
    params = {"url": "/tin-tuc/1"}
    for _ in range(3):
        answer = await client.get(f"/counter/{site.id}.svg", params=params)
        assert texts(answer.content) == ["Lượt xem", "2"]
    views = await store.redis.hget(store.keys.site(site.id).page_views, "/tin-tuc/1")
    assert int(views) == 2
    total = await client.get(f"/counter/{site.id}.svg", params={"label": ""})
    assert texts(total.content) == ["2"]  # two visits, not five

    again = await client.get(
        f"/counter/{site.id}.svg", params=params, headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304
    assert again.content == b""


async def test_bad_input_is_a_4xx_with_a_detail(client: httpx.AsyncClient, site: Site) -> None:
    svg = f"/counter/{site.id}.svg"
    cases = [
        ("/counter/nowhere.example.svg", {}, 404, "unknown site"),
        (svg, {"period": "century"}, 400, "period must be one of"),
        (svg, {"url": "/a", "period": "today"}, 400, "all-time"),
        (svg, {"url": "https://evil.example/a"}, 400, "evil.example"),
        (svg, {"style": "neon"}, 400, "style"),
        (svg, {"style": "odometer", "digits": 13}, 400, "digits"),
        (svg, {"digits": "eight"}, 400, "digits"),
        (svg, {"lang": "fr"}, 400, "lang"),
        (svg, {"label": "a\x01b"}, 400, "control character"),
        (svg, {"label": "x" * 41}, 400, "label"),
    ]
    for path, params, status, detail in cases:
        answer = await client.get(path, params=params)
        assert answer.status_code == status, (params, answer.text)
        assert detail in answer.json()["detail"], answer.json()
