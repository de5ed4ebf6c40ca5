"""A constant-rate HTTP/1.1 load client that records latency from the intended send time.

    .venv/bin/python -m bench.rate --port P --requests FILE --rate 2000 --seconds 5

Debian has no ``wrk2`` and PyPI no constant-rate client that avoids coordinated omission, so
this is the part of wrk2 the benchmark needs. Each of C keep-alive connections owns every C-th
slot of a fixed schedule (slot j is due at ``start + j / rate``) and sends its next request at
the slot's time, or at once when the previous answer came late. A request's latency runs from
its slot's time, not from when it could be sent: a server that stalls for 300 ms is charged
300 ms, 290 ms, ... for every request that was due meanwhile, as a real visitor would see it,
instead of one slow request and silence (wrk's closed loop, the "coordinated omission").

The client's own lateness is kept apart: ``client_lag`` is how late a request left although
its connection was free (the client was busy), which would otherwise be blamed on the server.

Requests are whole HTTP/1.1 messages (bench/mix.py writes them), sent in turn and cycled.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class RateResult:
    rate: float  # the intended rate, requests a second
    seconds: float  # the length of the schedule
    sent: int = 0
    answered: int = 0
    non2xx: int = 0
    broken: int = 0
    elapsed_s: float = 0.0  # from the first slot to the last answer
    latencies_us: list[int] = field(default_factory=list)  # from each slot's time to its answer
    client_lag_us: list[int] = field(default_factory=list)

    def percentile(self, share: float, values: Sequence[int] | None = None) -> float:
        """The nearest-rank percentile (share 0.99: p99) of the latencies, in ms."""
        ordered = sorted(self.latencies_us if values is None else values)
        if not ordered:
            return float("nan")
        rank = max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.999999) - 1))
        return ordered[rank] / 1000

    def summary(self) -> dict[str, float]:
        return {
            "rate": self.rate,
            "achieved": self.answered / self.seconds if self.seconds else 0.0,
            "sent": self.sent,
            "answered": self.answered,
            "non2xx": self.non2xx,
            "broken": self.broken,
            "p50": self.percentile(0.50),
            "p90": self.percentile(0.90),
            "p99": self.percentile(0.99),
            "max": self.percentile(1.0),
            "client_lag_p99": self.percentile(0.99, self.client_lag_us),
        }


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer whole; its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)  # the chunk and its CRLF
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _connection(
    host: str,
    port: int,
    requests: Sequence[bytes],
    first: int,
    step: int,
    slots: int,
    start: float,
    rate: float,
    result: RateResult,
) -> None:
    loop = asyncio.get_running_loop()
    reader, writer = await asyncio.open_connection(host, port)
    free_at = start
    try:
        for slot in range(first, slots, step):
            due = start + slot / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            sent_at = loop.time()
            # Late although the connection was free by the slot's time: the client's fault.
            result.client_lag_us.append(int((sent_at - max(due, free_at)) * 1e6))
            writer.write(requests[slot % len(requests)])
            result.sent += 1
            try:
                status = await _read_answer(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                result.broken += 1
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                free_at = loop.time()
                continue
            free_at = loop.time()
            result.answered += 1
            result.latencies_us.append(int((free_at - due) * 1e6))
            if not 200 <= status < 300:
                result.non2xx += 1
    finally:
        writer.close()


async def constant_rate(
    host: str,
    port: int,
    requests: Sequence[bytes],
    rate: float,
    seconds: float,
    connections: int = 32,
) -> RateResult:
    """Send ``rate * seconds`` requests on a fixed schedule over ``connections`` keep-alive
    connections; latencies from each request's slot time."""
    slots = int(rate * seconds)
    result = RateResult(rate=rate, seconds=seconds)
    loop = asyncio.get_running_loop()
    # Slot 0 is due a little after every connection is open, so opening is not latency.
    start = loop.time() + 0.1
    tasks = [
        _connection(host, port, requests, c, connections, slots, start, rate, result)
        for c in range(min(connections, slots))
    ]
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=seconds + 30)
    result.elapsed_s = loop.time() - start
    return result


def read_requests(path: Path) -> list[bytes]:
    """The requests of a file bench/mix.py wrote: each a decimal length line, then its bytes."""
    data, requests, at = path.read_bytes(), [], 0
    while at < len(data):
        end = data.index(b"\n", at)
        length = int(data[at:end])
        requests.append(data[end + 1 : end + 1 + length])
        at = end + 1 + length
    return requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--requests", type=Path, required=True)
    parser.add_argument("--rate", type=float, required=True)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--latencies", type=Path, help="also write every latency (µs) here")
    args = parser.parse_args()
    requests = read_requests(args.requests)
    started = time.perf_counter()
    run = constant_rate(args.host, args.port, requests, args.rate, args.seconds, args.connections)
    try:
        import uvloop  # uvicorn[standard] brings it; plain asyncio otherwise

        result = uvloop.run(run)
    except ImportError:
        result = asyncio.run(run)
    summary = result.summary() | {"wall_s": time.perf_counter() - started}
    if args.latencies is not None:
        args.latencies.write_text(json.dumps(asdict(result)["latencies_us"]))
    json.dump(summary, sys.stdout)


if __name__ == "__main__":
    main()
