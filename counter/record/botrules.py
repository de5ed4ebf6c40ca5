"""The bot rules: two maintained lists, our corrections to them, and the slow reference verdict.

``crawlerdetect`` (JayBizzle's Crawler-Detect patterns, matched case-insensitively after its
own list of browser tokens is cut out of the agent) and ``crawler-user-agents``
(monperrus/crawler-user-agents, matched case-sensitively) each name crawlers the other misses:
an agent is a bot when either matches. ``data/bot-corrections.toml`` takes out of them the
patterns that match real browsers and adds the bots and HTTP clients neither names, each with
a reason.

:func:`reference_is_bot` applies the rules the way the two libraries do, with Python's ``re``:
obviously right, and ~0.5 ms an agent. counter/record/bots.py gives the same verdicts in
microseconds; tests compare the two on every corpus.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import crawleruseragents  # type: ignore[import-untyped]
from crawlerdetect.providers.crawlers import data as crawlerdetect_patterns
from crawlerdetect.providers.exclusions import data as crawlerdetect_exclusions

CORRECTIONS_FILE = Path(__file__).parent / "data" / "bot-corrections.toml"
CRAWLERDETECT = "crawlerdetect"
CRAWLER_USER_AGENTS = "crawler-user-agents"
LISTS = (CRAWLERDETECT, CRAWLER_USER_AGENTS)


@dataclass(frozen=True, slots=True)
class Drop:
    """A list's pattern that matches real browsers: ``browser`` is one it would exclude."""

    list: str
    pattern: str
    reason: str
    browser: str


@dataclass(frozen=True, slots=True)
class Add:
    """A pattern (case-insensitive, anywhere) for bots neither list names; ``agent`` is one."""

    pattern: str
    reason: str
    agent: str


@dataclass(frozen=True, slots=True)
class Corrections:
    drops: tuple[Drop, ...] = ()
    adds: tuple[Add, ...] = ()

    def dropped(self, list_name: str) -> frozenset[str]:
        return frozenset(d.pattern for d in self.drops if d.list == list_name)


def load_corrections(path: Path = CORRECTIONS_FILE) -> Corrections:
    """The corrections file, checked: a list name we do not know or a bad pattern is an error."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    drops = tuple(Drop(**entry) for entry in raw.get("drop", []))
    adds = tuple(Add(**entry) for entry in raw.get("add", []))
    for drop in drops:
        if drop.list not in LISTS:
            raise ValueError(f"{path}: drop of {drop.pattern!r} names no known list {drop.list!r}")
    for add in adds:
        re.compile(add.pattern)  # a typo fails at start, not on the first odd agent
    return Corrections(drops, adds)


@dataclass(frozen=True)
class BotRules:
    """Every pattern, as the verdict reads it.

    ``case_sensitive``: crawler-user-agents' patterns, searched in the agent as it is.
    ``caseless``: our added patterns, searched in the agent, ignoring case.
    ``exclusions``: crawlerdetect's browser tokens, cut out of the agent (leftmost first, as
    ``re.sub`` does) before ``after_exclusions``, crawlerdetect's patterns, are searched in
    what is left, ignoring case.
    """

    case_sensitive: tuple[str, ...]
    caseless: tuple[str, ...]
    exclusions: tuple[str, ...]
    after_exclusions: tuple[str, ...]

    @cached_property
    def _case_sensitive_re(self) -> re.Pattern[str]:
        return _alternation(self.case_sensitive, 0)

    @cached_property
    def _caseless_re(self) -> re.Pattern[str]:
        return _alternation(self.caseless, re.IGNORECASE)

    @cached_property
    def exclusions_re(self) -> re.Pattern[str]:
        return _alternation(self.exclusions, re.IGNORECASE)

    @cached_property
    def _after_exclusions_re(self) -> re.Pattern[str]:
        return _alternation(self.after_exclusions, re.IGNORECASE)

    def reference_is_bot(self, user_agent: str) -> bool:
        """The verdict the two libraries (less the drops) and the adds give, read slowly."""
        ua = user_agent.strip()
        if not ua:
            return True
        if self._caseless_re.search(ua) or self._case_sensitive_re.search(ua):
            return True
        rest = self.exclusions_re.sub("", ua)
        return bool(rest) and self._after_exclusions_re.search(rest) is not None


def _alternation(patterns: tuple[str, ...], flags: int) -> re.Pattern[str]:
    # A search of (a|b|…) finds a match exactly when one of the patterns does; "(?!)" never
    # matches, for an empty list.
    return re.compile("|".join(f"(?:{p})" for p in patterns) or "(?!)", flags)


def bot_rules(corrections: Corrections | None = None) -> BotRules:
    """The installed lists' patterns with ``corrections`` (default: the shipped file) applied."""
    fixes = load_corrections() if corrections is None else corrections
    cua_dropped = fixes.dropped(CRAWLER_USER_AGENTS)
    cd_dropped = fixes.dropped(CRAWLERDETECT)
    return BotRules(
        case_sensitive=tuple(
            entry["pattern"]
            for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
            if entry["pattern"] not in cua_dropped
        ),
        caseless=tuple(add.pattern for add in fixes.adds),
        exclusions=tuple(crawlerdetect_exclusions),
        after_exclusions=tuple(p for p in crawlerdetect_patterns if p not in cd_dropped),
    )
