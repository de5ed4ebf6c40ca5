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


class Shown:
    """Each site's figures a process answered last, so that no hit's box shows less than the
    one before it while both come from one summary. A loss of the store resets today's live
    counts to the few hits since; until the aggregator's next summary, answers would fall back
    to the last summary and lose the hits it did not hold yet. A new summary (or a new local
    day) is the aggregator's word, and the floor starts again from it: an audited lowering of
    all time (``sites adjust``) shows with that summary."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[tuple[object, str], dict[str, int]]] = {}

    def floor(
        self, site_id: str, summary: dict[str, Any] | None, today: str, box: dict[str, int]
    ) -> dict[str, int]:
        mark = (summary.get("updated_at") if summary is not None else None, today)
        last = self._last.get(site_id)
        if last is not None and last[0] == mark:
            before = last[1]
            for period in CURRENT:
                if before[period] > box[period]:
                    box[period] = before[period]
        figures = {}
        for period in CURRENT:
            figures[period] = box[period]
        self._last[site_id] = (mark, figures)
        return box
