"""Small helpers shared by the tests: hits as a browser would send them."""

from __future__ import annotations

from typing import Any

import httpx

from counter.record.hit import Event, Hit
from counter.record.recorder import HitResult, Recorder

BROWSER_A = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
BROWSER_B = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


async def hit(
    recorder: Recorder,
    url: str = "/a",
    *,
    ua: str = BROWSER_A,
    ip: str = "198.51.100.1",
    site: str = "demo.local",
    event: Event = Event.pageview,
    origin: str = "https://demo.local",
    purpose: str | None = None,
    referrer: str | None = None,
    opt_out: bool = False,
) -> HitResult:
    return await recorder.record(
        Hit(
            site=site,
            url=url,
            client_ip=ip,
            user_agent=ua,
            origin=origin,
            event=event,
            purpose=purpose,
            referrer=referrer,
            opt_out=opt_out,
        ),
    )


async def post_hit(
    client: httpx.AsyncClient,
    url: str = "https://demo.local/a",
    *,
    ua: str = BROWSER_A,
    site: str = "demo.local",
    origin: str = "https://demo.local",
    **extra: Any,
) -> httpx.Response:
    return await client.post(
        "/api/hit",
        json={"site": site, "url": url, **extra},
        headers={"Origin": origin, "User-Agent": ua},
    )
