"""Referrer spam: a hit whose referrer's host is on the list is excluded as "spam".

The list ships with the package (``counter/record/data/referrer-spam.txt``, curated from Matomo's
community list); an operator may add a file of their own (``VISITOR_STATS_REFERRER_SPAM_FILE``,
e.g. Matomo's whole current ``spammers.txt``). A listed host excludes its subdomains too.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.resources import files
from pathlib import Path

from counter.urls import host_of

SHIPPED_LIST = "referrer-spam.txt"
MAX_LIST_BYTES = 4 * 1024 * 1024  # Matomo's whole list is ~40 KB; refuse anything absurd


def parse_hosts(text: str) -> frozenset[str]:
    """One host a line; blank lines and '#' comments ignored; lower-cased, trailing dot gone."""
    hosts = (line.split("#", 1)[0].strip().lower().rstrip(".") for line in text.splitlines())
    return frozenset(h for h in hosts if h)


@lru_cache(maxsize=4)
def spam_hosts(extra_file: Path | None = None) -> frozenset[str]:
    """The shipped list, plus ``extra_file`` when given; read once per process."""
    text = files("counter.record").joinpath("data", SHIPPED_LIST).read_text(encoding="utf-8")
    hosts = parse_hosts(text)
    if extra_file is not None:
        if extra_file.stat().st_size > MAX_LIST_BYTES:
            raise ValueError(f"{extra_file} is larger than {MAX_LIST_BYTES} bytes")
        hosts |= parse_hosts(extra_file.read_text(encoding="utf-8", errors="replace"))
    return hosts


def is_spam_referrer(referrer: str | None, extra_file: Path | None = None) -> bool:
    """True when the referrer's host, or a parent domain of it, is on the list."""
    if not referrer:
        return False
    host = host_of(referrer)
    if host is None:
        return False
    listed = spam_hosts(extra_file)
    labels = host.rstrip(".").split(".")
    # "a.b.semalt.com" is checked as itself, "b.semalt.com" and "semalt.com"; never a bare TLD.
    return any(".".join(labels[i:]) in listed for i in range(len(labels) - 1))
