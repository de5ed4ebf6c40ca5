"""A hit as the API hands it to the write path."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Event(StrEnum):
    pageview = "pageview"
    heartbeat = "heartbeat"


@dataclass(frozen=True, slots=True)
class Hit:
    site: str
    url: str
    client_ip: str
    user_agent: str
    origin: str | None = None  # the Origin header, else the Referer header
    event: Event = Event.pageview
    referrer: str | None = None
    purpose: str | None = None  # Sec-Purpose / Purpose: prefetch and prerender are not views
    opt_out: bool = False  # Sec-GPC: 1 or DNT: 1: acknowledged, never counted
    title: str | None = None  # the page's title (document.title), kept for "most viewed"
