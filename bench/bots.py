"""Micro-benchmark: bot verdicts for agents no cache has seen, and how right they are.

    .venv/bin/python -m bench.bots [--rounds 3]

Three ways to decide, on the corpora of tests/counter/record/corpora.py:

- ``libraries``: what counter/record/bots.py did before issue 11 (crawlerdetect, then
  crawler-user-agents, then the headless markers; no corrections);
- ``reference``: the rules with our corrections, read with Python's ``re``
  (:meth:`BotRules.reference_is_bot`);
- ``fast``: :class:`counter.record.bots.BotFilter` (Hyperscan), without its LRU cache.

Each agent is decided once per round by a fresh detector (crawlerdetect caches per instance),
so every call is an unseen agent; the figure is the median of all calls, in µs.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Sequence

import crawleruseragents  # type: ignore[import-untyped]
from crawlerdetect import CrawlerDetect

from counter.record.botrules import bot_rules
from counter.record.bots import BotFilter
from tests.counter.record.corpora import browsers, crawlers, read_agents

HEADLESS = ("headlesschrome", "phantomjs", "puppeteer", "playwright", "selenium")

Verdict = Callable[[str], bool]


def libraries() -> Verdict:
    detector = CrawlerDetect()

    def is_bot(user_agent: str) -> bool:
        ua = user_agent.strip()
        if not ua:
            return True
        if any(marker in ua.lower() for marker in HEADLESS):
            return True
        return bool(detector.is_crawler(ua)) or bool(crawleruseragents.is_crawler(ua))

    return is_bot


def timed(make: Callable[[], Verdict], agents: Sequence[str], rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        verdict = make()
        for agent in agents:
            started = time.perf_counter()
            verdict(agent)
            times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    rules = bot_rules()
    started = time.perf_counter()
    fast = BotFilter(rules)
    built_s = time.perf_counter() - started
    makers: dict[str, Callable[[], Verdict]] = {
        "libraries": libraries,
        "reference": lambda: rules.reference_is_bot,
        "fast": lambda: fast.is_bot,
    }
    people, bots, clients = browsers(), crawlers(), read_agents("clients.txt")
    print(
        f"corpora: {len(people)} real browsers, {len(bots)} crawlers and HTTP clients "
        f"({len(clients)} of them in clients.txt)"
    )
    print(f"fast filter built in {built_s * 1000:.0f} ms")
    print(
        f"{'verdict':<10} {'browsers excluded':>18} {'bots excluded':>14} "
        f"{'clients.txt excluded':>21} {'µs/unseen':>10}"
    )
    for name, make in makers.items():
        verdict = make()
        wrongly = sum(verdict(a) for a in people)
        caught = sum(verdict(a) for a in bots)
        caught_clients = sum(verdict(a) for a in clients)
        times = timed(make, people, args.rounds) + timed(make, bots, args.rounds)
        print(
            f"{name:<10} {wrongly / len(people):>17.2%} {caught / len(bots):>13.2%} "
            f"{caught_clients / len(clients):>20.2%} {statistics.median(times) * 1e6:>10.1f}"
        )


if __name__ == "__main__":
    main()
