"""Each script's KEYS list is built beside the key builders, in the order its header lists."""

from __future__ import annotations

import re
from datetime import date
from importlib.resources import files

import pytest

from counter.keys import Keys
from counter.periods import PERIODS, SPANS, Periods, WeekStart

DAY = date(2026, 11, 25)
PERIODS_OF_DAY = Periods.of_day(DAY, WeekStart.monday)
KEYS = Keys("vs").site("demo.local")


def documented_keys(script: str) -> int:
    """How many numbered KEYS the script's header names (``KEYS[12..]`` tails not counted)."""
    source = files("counter.storage").joinpath("lua", f"{script}.lua").read_text()
    header = "\n".join(line for line in source.splitlines() if line.startswith("--"))
    return max(int(n) for n in re.findall(r"KEYS\[(\d+)\](?!\.\.)", header))


@pytest.mark.parametrize(
    ("script", "built", "variable"),
    [
        # each span's top set and visitors HLL
        ("record_hit", KEYS.record_hit_keys(PERIODS_OF_DAY, 29_400_000), 2 * len(SPANS)),
        ("read_site", KEYS.read_site_keys(PERIODS_OF_DAY), len(PERIODS)),
        ("close_day", KEYS.close_day_keys(DAY), 0),
        ("import_day", KEYS.import_day_keys(), 0),
        ("adjust_total", KEYS.adjust_total_keys(DAY), 0),
        ("carry_pages", KEYS.carry_pages_keys(), 0),
        ("carry_totals", KEYS.carry_totals_keys(), 0),
        (
            "snapshot_site",
            KEYS.snapshot_keys() + KEYS.snapshot_hll_keys(PERIODS_OF_DAY),
            len(SPANS),
        ),
        (
            "restore_site",
            KEYS.restore_keys(KEYS.snapshot_hll_keys(PERIODS_OF_DAY)),
            2 * len(SPANS),
        ),
    ],
)
def test_a_scripts_keys_are_the_ones_its_header_lists(
    script: str, built: list[str], variable: int
) -> None:
    assert len(built) == documented_keys(script) + variable
    assert len(set(built)) == len(built)


def test_the_hit_script_gets_the_visitors_hll_of_each_spans_current_period_the_days_first() -> None:
    built = KEYS.record_hit_keys(PERIODS_OF_DAY, 29_400_000)
    assert built[-len(SPANS) :] == (
        "vs:{demo.local}:visitors:hll:2026-11-25",
        "vs:{demo.local}:visitors:week:2026-11-23",
        "vs:{demo.local}:visitors:month:2026-11",
        "vs:{demo.local}:visitors:year:2026",
    )
