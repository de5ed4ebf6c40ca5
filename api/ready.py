"""Stats answers the worker's HTTP protocol writes itself, without an ASGI cycle.

Most reads of ``GET /api/stats`` find their answer at hand in the worker, without asking the
store (counter/figures/stats.py, ``StatsReader.at_once``: a copy read less than a moment ago,
or a page's stale copy with the fresh box). For those, uvicorn's task per request, its ASGI
messages and the hot path's routing cost more than the answer (bench/hits.py: the stats
read at 0.34× a bare GET). So when the hot path answers a request so, it keeps the answer's
encoded head and body here, under the request's target as sent; while the reader has an
answer at hand for it, the protocol (api/limits.py) writes it straight to the socket for the
next request with that target (made anew, once, when the answer changed). The bytes are the
hot path's own, the request is timed in the same metrics, and If-None-Match gets its 304 as
there; whatever the protocol cannot answer this way goes the usual way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from api.metrics import ApiMetrics
from api.responses import JSON, STATS_CACHE_CONTROL, Header, RenderedAnswers, answer_headers
from counter.figures.stats import StatsReader
from counter.lru import put_bounded

# Where the hot path leaves the table in uvicorn's lifespan state, which every connection's
# protocol of the worker is given (``app_state``).
STATE_KEY = "visitor_stats.ready_answers"
ROUTE = "/api/stats"


def _encoded(status: int, headers: list[Header], body: bytes) -> bytes:
    """What follows uvicorn's status line and default headers on the wire."""
    lines = b"".join(
        name + b": " + value + b"\r\n" for name, value in answer_headers(status, headers, body)
    )
    return lines + b"\r\n" + body


STATS_CACHE = (b"cache-control", STATS_CACHE_CONTROL.encode())
STATUS_LINES = {200: b"HTTP/1.1 200 OK\r\n", 304: b"HTTP/1.1 304 Not Modified\r\n"}


@dataclass(frozen=True, slots=True)
class Made:
    """A stats answer's two responses, made once per answer the reader gives."""

    key: tuple[str, str | None]  # what the reader's copy is kept under
    answer: object  # the reader's answer they are made of
    etag: str
    ok: tuple[int, list[Header], bytes]  # 200
    not_modified: tuple[int, list[Header], bytes]  # 304, for If-None-Match with this ETag
    encoded: dict[int, bytes]  # by status: what follows uvicorn's default headers

    def to(self, if_none_match: str | None) -> tuple[int, list[Header], bytes]:
        return self.not_modified if if_none_match == self.etag else self.ok


class ReadyAnswers:
    def __init__(self, state: Any, metrics: ApiMetrics, size: int) -> None:
        self._state = state  # the app's state: the reader is made in its lifespan
        self._metrics = metrics
        self._entries: dict[bytes, Made] = {}
        self.size = size
        self._defaults: tuple[object, bytes] = (None, b"")

    def made(self, key: tuple[str, str | None], answer: dict[str, Any]) -> Made:
        """The responses to a read of ``key`` that ``answer`` gave (its body and ETag are
        encoded once per answer: api/responses.py)."""
        rendered: RenderedAnswers = self._state.rendered
        etag, body = rendered.render(key, answer)
        headers = [STATS_CACHE, (b"etag", etag.encode())]
        ok: tuple[int, list[Header], bytes] = (200, [JSON, *headers], body)
        not_modified: tuple[int, list[Header], bytes] = (304, headers, b"")
        encoded = {status: _encoded(*made) for status, made in ((200, ok), (304, not_modified))}
        return Made(key, answer, etag, ok, not_modified, encoded)

    def keep(self, target: bytes, made: Made) -> None:
        """Answer the next GETs of ``target`` (as the client sent it) in the protocol, while
        the reader gives an answer at once for ``made.key``."""
        put_bounded(self._entries, target, made, self.size)

    def respond(
        self, target: bytes, if_none_match: str | None, default_headers: list[Header]
    ) -> bytes | None:
        """The whole response to a GET of ``target`` while the reader gives its answer at
        once, timed as the hot path times it; else None."""
        made = self._entries.get(target)
        if made is None:
            return None
        reader: StatsReader = self._state.stats
        answer = reader.at_once(*made.key)
        if answer is None:
            return None
        if answer is not made.answer:
            made = self._entries[target] = self.made(made.key, answer)
        started = self._metrics.request_started()
        status = made.to(if_none_match)[0]
        defaults, encoded = self._defaults
        if defaults is not default_headers:  # uvicorn makes a new list each second (Date)
            encoded = b"".join(name + b": " + value + b"\r\n" for name, value in default_headers)
            self._defaults = (default_headers, encoded)
        self._metrics.request_finished(ROUTE, "GET", status, started)
        return STATUS_LINES[status] + encoded + made.encoded[status]
