"""The user-agent corpora the bot tests and ``bench/bots.py`` measure with (data/README.md).

- crawlers: every example agent (``instances``) of the crawler-user-agents package (MIT), less
  the browser agents listed as examples of the patterns we drop, plus
  ``data/clients.txt`` (crawlers, HTTP clients, monitors, scanners, AI agents, automation);
- browsers: ``data/browsers.txt`` (fake-useragent's real-world agents, Apache-2.0),
  ``data/browsers-vn.txt`` and the agents ``written_browsers.py`` writes from the vendors' formats.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import crawleruseragents  # type: ignore[import-untyped]

from counter.record.botrules import CRAWLER_USER_AGENTS, load_corrections
from tests.counter.record.written_browsers import written

DATA = Path(__file__).parent / "data"


def read_agents(name: str) -> list[str]:
    lines = (DATA / name).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


@cache
def crawler_user_agents_instances() -> tuple[str, ...]:
    """Every example agent of the list, as it ships."""
    return tuple(
        sorted(
            {
                agent
                for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
                for agent in entry["instances"]
            }
        )
    )


@cache
def crawlers() -> tuple[str, ...]:
    """Agents that must be excluded: the list's examples, less the whole browser agents that
    are examples of a dropped pattern (the drop's reason says why they are browsers), the
    clients file, and empty agents."""
    dropped = load_corrections().dropped(CRAWLER_USER_AGENTS)
    browser_examples = {
        agent
        for entry in crawleruseragents.CRAWLER_USER_AGENTS_DATA
        if entry["pattern"] in dropped
        for agent in entry["instances"]
        if agent.startswith("Mozilla/5.0 (")
    }
    listed = [a for a in crawler_user_agents_instances() if a not in browser_examples]
    return tuple(listed + read_agents("clients.txt") + ["", "   "])


@cache
def browsers() -> tuple[str, ...]:
    """Agents of real browsers, each once."""
    names = ("browsers.txt", "browsers-vn.txt")
    listed = [a for name in names for a in read_agents(name)]
    return tuple(dict.fromkeys(listed + written()))


@cache
def vietnamese() -> tuple[str, ...]:
    """The browsers and in-app browsers Vietnamese readers use (part of :func:`browsers`)."""
    return tuple(read_agents("browsers-vn.txt"))
