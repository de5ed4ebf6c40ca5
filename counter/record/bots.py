"""Which user agents are bots, decided in microseconds: the rules of counter/record/botrules.py
compiled into Hyperscan databases once, a bounded cache of verdicts on top.

The two lists hold ~3,000 patterns; Python's ``re`` tries them one after another (~0.5 ms an
agent), and real traffic brings many agents a minute that no cache has seen (each browser
version on each phone and app). Hyperscan matches all the patterns of a database in one pass:

1. ``direct``: crawler-user-agents' patterns (case-sensitive) and our added ones (caseless),
   searched in the agent as it is;
2. crawlerdetect first cuts its browser tokens (``Mozilla/5.0``, ``Safari/537.36``, …) out of
   the agent, leftmost first as ``re.sub`` does; Hyperscan's Chimera engine (PCRE semantics:
   for each token, the same greedy match ``re`` finds) reports them, and the cut is made here;
3. ``after_exclusions``: crawlerdetect's patterns (caseless) searched in what is left.

Patterns Hyperscan cannot compile exactly (look-arounds) are compiled as prefilters, which
match at least where the pattern does, and a hit is confirmed with ``re``. Agents that are not
plain ASCII (``re`` folds Unicode case, Hyperscan ASCII only) take the reference path. Tests
compare this with :meth:`BotRules.reference_is_bot` on every corpus.

A database's scratch space is per thread (the scan releases the GIL): one per thread, lazily.
"""

from __future__ import annotations

import re
import threading
from functools import cache, lru_cache

import hyperscan

from counter.record.botrules import BotRules, bot_rules

CACHE_SIZE = 8192
# What Hyperscan cannot compile exactly: look-arounds and back-references.
INEXACT = re.compile(r"\(\?<?[=!]|\\[1-9]")


class _PatternSet:
    """One Hyperscan database: does any pattern match?"""

    def __init__(self, patterns: tuple[str, ...], caseless: tuple[bool, ...]) -> None:
        self.database = hyperscan.Database()
        self._confirm: dict[int, re.Pattern[str]] = {}
        flags = []
        for n, (pattern, nocase) in enumerate(zip(patterns, caseless, strict=True)):
            flag = hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if nocase else 0)
            if INEXACT.search(pattern):
                flag |= hyperscan.HS_FLAG_PREFILTER
                self._confirm[n] = re.compile(pattern, re.IGNORECASE if nocase else 0)
            flags.append(flag)
        if patterns:
            self.database.compile(
                expressions=[p.encode() for p in patterns],
                ids=list(range(len(patterns))),
                flags=flags,
            )
        self._empty = not patterns
        self._local = threading.local()

    def _scratch(self) -> hyperscan.Scratch:
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self.database)
        return scratch

    def search(self, text: str) -> bool:
        if self._empty:
            return False
        found = False
        confirm = self._confirm

        def on_match(pattern: int, start: int, end: int, flags: int, context: object) -> bool:
            nonlocal found
            check = confirm.get(pattern)
            if check is None or check.search(text):
                found = True
                return True  # stop the scan
            return False

        try:
            self.database.scan(text.encode(), on_match, scratch=self._scratch())
        except hyperscan.ScanTerminated:  # on_match stopped the scan at a confirmed match
            return True
        return found


class _Cutter:
    """Cuts crawlerdetect's browser tokens out of an agent as ``re.sub(alternation, "", ua)``:
    at the leftmost position where a token matches, the first token in list order, then on
    after its match."""

    def __init__(self, rules: BotRules) -> None:
        self.database = hyperscan.Database(chimera=True, mode=hyperscan.CH_MODE_NOGROUPS)
        self._empty = not rules.exclusions
        self._reference = rules.exclusions_re
        if not self._empty:
            self.database.compile(
                expressions=[p.encode() for p in rules.exclusions],
                ids=list(range(len(rules.exclusions))),
                flags=hyperscan.CH_FLAG_CASELESS,
            )
        self._local = threading.local()

    def _scratch(self) -> hyperscan.Scratch:
        scratch: hyperscan.Scratch | None = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = hyperscan.Scratch(self.database)
        return scratch

    def cut(self, text: str) -> str:
        if self._empty:
            return text
        matches: list[tuple[int, int, int]] = []
        add = matches.append

        # Chimera calls back with (id, from, to, flags, captured, context).
        def on_match(pattern: int, start: int, end: int, *_: object) -> None:
            add((start, pattern, end))

        self.database.scan(text.encode(), on_match, scratch=self._scratch())
        if not matches:
            return text
        matches.sort()
        kept, at = [], 0
        for start, _pattern, end in matches:
            if start >= at:  # the first of the leftmost matches at or after the last cut
                kept.append(text[at:start])
                at = end
            elif end > at:
                # This match overlaps the last cut and runs past it: its pattern's own scan
                # went on from its end, so a match of it inside the overlap that re.sub would
                # find after the cut (' Chromelike Gecko': 'Gecko' after ' Chromel') was never
                # reported. Rare in real agents: the reference decides those.
                return self._reference.sub("", text)
        kept.append(text[at:])
        return "".join(kept)


class BotFilter:
    """The fast verdict; build it once (a few hundred ms) and share it."""

    def __init__(self, rules: BotRules) -> None:
        self.rules = rules
        direct = rules.caseless + rules.case_sensitive
        self._direct = _PatternSet(
            direct, (True,) * len(rules.caseless) + (False,) * len(rules.case_sensitive)
        )
        self._cutter = _Cutter(rules)
        self._after = _PatternSet(rules.after_exclusions, (True,) * len(rules.after_exclusions))

    def is_bot(self, user_agent: str) -> bool:
        """True for crawlers, HTTP clients, headless automation and empty user agents."""
        ua = user_agent.strip()
        if not ua:
            return True
        if not ua.isascii() or not ua.isprintable():
            return self.rules.reference_is_bot(ua)
        if self._direct.search(ua):
            return True
        rest = self._cutter.cut(ua)
        return bool(rest) and self._after.search(rest)


@cache
def default_filter() -> BotFilter:
    """The filter of the installed lists and the shipped corrections, built on first use."""
    return BotFilter(bot_rules())


def prepare() -> None:
    """Build the filter now (at start-up), so the first hit does not wait for it."""
    default_filter()


@lru_cache(maxsize=CACHE_SIZE)
def is_bot(user_agent: str) -> bool:
    """True for crawlers, HTTP clients, headless automation and empty user agents."""
    return default_filter().is_bot(user_agent)
