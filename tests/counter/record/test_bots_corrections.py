"""Each correction in counter/record/data/bot-corrections.toml does what its reason says, and
is needed: with every correction but that one, its example is judged the other way."""

from __future__ import annotations

from pathlib import Path

import crawleruseragents  # type: ignore[import-untyped]
import pytest
from crawlerdetect.providers.crawlers import data as crawlerdetect_patterns

from counter.record.botrules import (
    CRAWLER_USER_AGENTS,
    CRAWLERDETECT,
    Add,
    Corrections,
    Drop,
    bot_rules,
    load_corrections,
)
from counter.record.bots import is_bot

CORRECTIONS = load_corrections()
RULES = bot_rules()
LIST_PATTERNS = {
    CRAWLER_USER_AGENTS: {e["pattern"] for e in crawleruseragents.CRAWLER_USER_AGENTS_DATA},
    CRAWLERDETECT: set(crawlerdetect_patterns),
}


def test_every_correction_gives_a_reason() -> None:
    assert CORRECTIONS.drops and CORRECTIONS.adds
    for entry in (*CORRECTIONS.drops, *CORRECTIONS.adds):
        assert len(entry.reason) > 20, entry


@pytest.mark.parametrize("drop", CORRECTIONS.drops, ids=lambda d: d.pattern)
def test_a_dropped_pattern_is_in_its_list_and_its_browser_is_counted(drop: Drop) -> None:
    assert drop.pattern in LIST_PATTERNS[drop.list], "stale: its list no longer has it"
    others = Corrections(tuple(d for d in CORRECTIONS.drops if d != drop), CORRECTIONS.adds)
    assert bot_rules(others).reference_is_bot(drop.browser)
    assert not RULES.reference_is_bot(drop.browser)
    assert not is_bot(drop.browser)


@pytest.mark.parametrize("add", CORRECTIONS.adds, ids=lambda a: a.pattern)
def test_an_added_pattern_catches_what_the_lists_miss(add: Add) -> None:
    others = Corrections(CORRECTIONS.drops, tuple(a for a in CORRECTIONS.adds if a != add))
    assert not bot_rules(others).reference_is_bot(add.agent)
    assert RULES.reference_is_bot(add.agent)
    assert is_bot(add.agent)


def test_the_duckduckgo_browser_stays_counted_while_its_fetcher_is_not() -> None:
    assert is_bot("DuckDuckGo/5")
    browser = (
        "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 "
        "Chrome/131.0.0.0 Mobile DuckDuckGo/5 Safari/537.36"
    )
    assert not is_bot(browser)


def test_a_drop_naming_an_unknown_list_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fixes.toml"
    path.write_text("[[drop]]\nlist = 'nolist'\npattern = 'x'\nreason = 'r'\nbrowser = 'b'\n")
    with pytest.raises(ValueError, match="nolist"):
        load_corrections(path)


def test_an_added_pattern_that_does_not_compile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fixes.toml"
    path.write_text("[[add]]\npattern = '(unclosed'\nreason = 'r'\nagent = 'a'\n")
    with pytest.raises(Exception, match="missing"):
        load_corrections(path)


def test_an_entry_with_a_missing_field_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fixes.toml"
    path.write_text("[[add]]\npattern = 'x'\n")
    with pytest.raises(TypeError):
        load_corrections(path)
