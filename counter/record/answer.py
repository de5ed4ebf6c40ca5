"""The hit's answer: the box's numbers, so one request both records and fills the page."""

from __future__ import annotations

from typing import Any

import orjson

from counter.periods import CURRENT, DAY


def decode(raw: bytes | str | None) -> dict[str, Any] | None:
    """The summary as record_hit.lua read it (the aggregator's JSON), or None before one."""
    return orjson.loads(raw) if raw is not None else None


TODAY = DAY.current
ZEROS = dict.fromkeys(CURRENT, 0)


def box_numbers(
    summary: dict[str, Any] | None,
    measure: str,
    today: str,
    page_views: int,
    online: int,
    live_today: dict[str, int] | None = None,
) -> dict[str, int]:
    """``page_views``, ``online`` and each current period (today, week, month, total): the
    last summary, with today's live figures folded in. (Every pageview answers one: plain
    loops, no comprehensions.)"""
    box = {"page_views": page_views, "online": online}
    if summary is None:
        box.update(ZEROS)
    else:
        for period in CURRENT:
            box[period] = summary[period]
        if summary.get("date") != today:
            box[TODAY] = 0  # the summary is of an earlier day
    if live_today is not None and measure in live_today:
        delta = live_today[measure] - box[TODAY]
        if delta > 0:
            for period in CURRENT:
                box[period] += delta
    return box
