"""The benchmark's own tools: the constant-rate client's bookkeeping and the hit mix.

Real sockets on loopback against a tiny HTTP server in the test's loop; no timed assertion
beyond generous bounds (the figures themselves belong to ``python -m bench.hits``).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bench.mix import Mix, read_corpus, write_requests
from bench.rate import constant_rate, read_requests


def request(path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode()


Stall = Callable[[int], float]


async def serve(stall: Stall) -> tuple[asyncio.Server, int]:
    """An HTTP/1.1 server: 200 for every path but /bad (503); the n-th request (from 0)
    waits ``stall(n)`` seconds before its answer."""
    seen = 0

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal seen
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                n, seen = seen, seen + 1
                if delay := stall(n):
                    await asyncio.sleep(delay)
                status = b"503 Busy" if head.split(b" ")[1] == b"/bad" else b"200 OK"
                writer.write(b"HTTP/1.1 " + status + b"\r\nContent-Length: 2\r\n\r\nok")
        except asyncio.IncompleteReadError:
            writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


@pytest.fixture
async def steady() -> AsyncIterator[int]:
    server, port = await serve(lambda _: 0.0)
    async with server:
        yield port


async def test_constant_rate_sends_every_slot_and_counts_the_refusals(steady: int) -> None:
    requests = [request("/a"), request("/b"), request("/c"), request("/bad")]

    result = await constant_rate("127.0.0.1", steady, requests, rate=200, seconds=1, connections=4)

    assert (result.sent, result.answered, result.broken) == (200, 200, 0)
    assert result.non2xx == 50  # every fourth request
    assert 0.9 < result.elapsed_s < 5
    assert len(result.latencies_us) == 200
    assert all(latency >= 0 for latency in result.latencies_us)
    assert result.percentile(0.5) < 500  # ms; the server answers at once


async def test_a_stall_is_charged_to_every_request_due_during_it() -> None:
    """wrk2's bookkeeping: latency from the intended send time, so a 300 ms stall shows in
    each request that was due while it lasted, not in one request only."""
    server, port = await serve(lambda n: 0.3 if n == 20 else 0.0)
    async with server:
        result = await constant_rate(
            "127.0.0.1", port, [request("/a")], rate=100, seconds=1, connections=1
        )

    assert result.answered == 100
    slow = [latency for latency in result.latencies_us if latency >= 100_000]
    assert len(slow) >= 10  # due 0.2-0.4 s into the run, answered after the stall ended
    assert 250 <= result.percentile(1.0) < 2000
    # Those requests waited for their connection, not for the client: no lag is blamed on it.
    assert result.percentile(0.9, result.client_lag_us) < 100


def test_requests_survive_the_pool_file(tmp_path: Path) -> None:
    requests = [request("/a"), b"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n\n1\n"]

    assert read_requests(write_requests(tmp_path / "pool.req", requests)) == requests


def test_half_of_a_pools_distinct_agents_are_unseen_and_every_hit_is_well_formed() -> None:
    mix = Mix(seed=3)
    mix.warmup(copies=1)

    requests, facts = mix.hits(5_000)

    assert facts.hits == len(requests) == 5_000
    assert 0.45 <= facts.unseen_share <= 0.55
    corpus = set(read_corpus())
    agents = []
    for hit in requests:
        head, _, body = hit.partition(b"\r\n\r\n")
        lines = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        assert int(lines["Content-Length"]) == len(body)
        assert json.loads(body)["site"] == "bench.gov.vn"
        assert "X-Forwarded-For" in lines
        agents.append(lines["User-Agent"])
    unseen = set(agents) - corpus
    assert len(unseen) == facts.unseen_agents
    # A second pool brings agents the first did not send.
    more, _ = mix.hits(1_000)
    assert not {h.split(b"User-Agent: ")[1].split(b"\r\n")[0].decode() for h in more} & unseen
