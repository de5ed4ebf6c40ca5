"""Why a hit is not counted: every exclusion reason, defined once, and the checks that need
no store.

A hit is judged in this order: its origin (``origin_rejected``) and its url (``invalid``),
which need the site's config, then the intake verdict below (bots, prefetches, opted-out
visitors, referrer spam, first match wins), then the flood caps (``rate_limited``), which
record_hit.lua applies. The summary's ``excluded`` figures, the hits metric's outcomes and
the docs take the list of reasons from :class:`Exclusion`.

To add a reason judged at intake: a member here and a check in :func:`intake_verdict`.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from counter.record.bots import is_bot
from counter.record.hit import Hit
from counter.record.spam import is_spam_referrer

PREFETCH_VALUES = ("prefetch", "prerender")


class Exclusion(StrEnum):
    bot = "bot"
    prefetch = "prefetch"
    rate_limited = "rate_limited"
    origin_rejected = "origin_rejected"
    invalid = "invalid"
    spam = "spam"
    opt_out = "opt_out"


def is_prefetch(purpose: str | None) -> bool:
    return purpose is not None and any(p in purpose.lower() for p in PREFETCH_VALUES)


def intake_verdict(hit: Hit, spam_file: Path | None = None) -> Exclusion | None:
    """The first reason that excludes ``hit`` without asking the store, or None."""
    if is_bot(hit.user_agent):
        return Exclusion.bot
    if is_prefetch(hit.purpose):
        return Exclusion.prefetch
    if hit.opt_out:
        return Exclusion.opt_out
    if is_spam_referrer(hit.referrer, spam_file):
        return Exclusion.spam
    return None
