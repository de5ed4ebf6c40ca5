"""The spool's lines: what a hit keeps while the store is away, and lines of older versions."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from counter.record.hit import Event
from counter.record.spool import Prepared, Spool
from counter.record.verdicts import Exclusion

PREPARED = Prepared(
    id="0123456789abcdef",
    at=datetime(2026, 11, 25, 3, 0, 0, 250000, tzinfo=UTC),
    site="demo.local",
    url="/a",
    event=Event.pageview,
    origin_host="demo.local",
    excluded=Exclusion.opt_out,
)


def test_a_spooled_hit_reads_back_as_it_was_written(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=10_000)
    assert spool.append(PREPARED.to_line(("visitor", "address")))
    spool.close()
    [path] = tmp_path.glob("*.jsonl")
    assert list(Spool.read(path)) == [(PREPARED, ("visitor", "address"))]


@pytest.mark.parametrize(
    ("flags", "excluded"),
    [
        ({}, None),
        ({"bot": True}, Exclusion.bot),
        ({"prefetch": True, "spam": True}, Exclusion.prefetch),
        ({"opt_out": True}, Exclusion.opt_out),
    ],
)
def test_a_line_spooled_before_the_verdict_was_one_field_keeps_its_verdict(
    flags: dict[str, bool], excluded: Exclusion | None
) -> None:
    legacy = {
        "id": "feedface00000000",
        "at_ms": 1795000000000,
        "site": "demo.local",
        "url": "/b",
        "event": "heartbeat",
        "origin_host": None,
        **{name: False for name in ("bot", "prefetch", "opt_out", "spam")},
        **flags,
        "visitor": "v",
        "address": "a",
    }
    prepared, identity = Prepared.from_line(orjson.dumps(legacy))
    assert prepared.excluded is excluded
    assert (prepared.event, prepared.at.timestamp(), identity) == (
        Event.heartbeat,
        1795000000.0,
        ("v", "a"),
    )


def test_a_full_spool_refuses_the_line_and_keeps_what_it_holds(tmp_path: Path) -> None:
    line = PREPARED.to_line(("visitor", "address"))
    spool = Spool(tmp_path, max_bytes=len(line) + 1)
    assert spool.append(line)
    assert not spool.append(line)
    assert spool.pending == 1
    spool.close()
