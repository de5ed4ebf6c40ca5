"""What one client may make a worker hold, and for how long (issue 12).

Three layers, outermost first:

- :class:`GuardedHttpToolsProtocol`, uvicorn's httptools protocol with the two limits uvicorn
  (0.54) lacks for it: a deadline for a request's head and a cap on its size and line count.
  (It also writes the stats answers a worker holds ready itself, once a head passed those:
  api/ready.py.)
  uvicorn times out only idle keep-alive connections, never one that is still sending its
  headers (or nothing at all), and caps the head only in its h11 protocol
  (``h11_max_incomplete_event_size``); httptools, which ``http="auto"`` picks, buffers any
  number of header lines. :func:`uvicorn_options` selects it, with uvicorn's own connection
  limit and keep-alive timeout.
- :func:`check_headers`, the same caps on what the app sees, for any server (the hot path calls
  it itself: it answers before FastAPI's middleware).
- :class:`RequestLimits`, the FastAPI app's middleware: the admin token before any body is read,
  a body cap by Content-Length (at once) and while streaming, and a deadline for the body.
"""

from __future__ import annotations

import asyncio
import functools
import http
from itertools import chain
from types import SimpleNamespace
from typing import Any

import orjson
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.errors import AdminThrottled, HeadersTooLarge, RequestTimedOut, error_answer
from api.intake import header_map
from api.ready import STATE_KEY as READY_STATE_KEY
from api.ready import ReadyAnswers
from api.responses import CORS, JSON
from api.routes.admin import PATH_PREFIX as ADMIN_PATH_PREFIX
from api.routes.admin import AdminGuard
from counter.errors import BodyTooLarge, VisitorStatsError
from counter.settings import Settings

# An answer given before the body was read whole ends the connection: what is left of the body
# would otherwise be parsed as the next request, or keep the connection open while it drips.
CLOSE = (b"connection", b"close")


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for ``uvicorn.run`` / ``uvicorn.Config``: the connection limits."""
    return {
        # A partial, not a class made per call: `--workers` pickles the config to spawn them.
        "http": functools.partial(
            GuardedHttpToolsProtocol,
            header_timeout_s=settings.header_timeout_s,
            max_head_bytes=settings.max_header_bytes,
            max_headers=settings.max_headers,
        ),
        # Only in effect if the protocol is switched to h11; then it is that parser's cap.
        "h11_max_incomplete_event_size": settings.max_header_bytes,
        # Live-box streams have their own cap (settings.streams_per_worker): open streams
        # never take the room of the hits.
        "limit_concurrency": settings.max_connections_per_worker + settings.streams_per_worker,
        "timeout_keep_alive": settings.keep_alive_s,
    }


def check_headers(scope: Scope, max_headers: int, max_header_bytes: int) -> None:
    """Raise :class:`HeadersTooLarge` (431) for too many header lines or too many bytes of
    request target and headers together."""
    headers = scope["headers"]
    if len(headers) > max_headers:
        raise HeadersTooLarge(f"more than {max_headers} header lines")
    size = len(scope.get("raw_path", b"")) + len(scope["query_string"])
    if size + sum(map(len, chain.from_iterable(headers))) > max_header_bytes:
        raise HeadersTooLarge(f"request line and headers are larger than {max_header_bytes} bytes")


def declared_length(headers: dict[str, str]) -> int | None:
    declared = headers.get("content-length", "").strip()
    return int(declared) if declared.isdigit() else None


def error_message(exc: VisitorStatsError) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """``(status, headers, body)`` of a refusal, mapped as :func:`api.errors.error_answer`."""
    status, detail = error_answer(exc)
    headers = [CORS, JSON]
    if isinstance(exc, AdminThrottled):
        headers.append((b"retry-after", str(exc.retry_after_s).encode()))
    return status, headers, orjson.dumps({"detail": detail})


async def refuse(send: Send, exc: VisitorStatsError, close: bool) -> None:
    status, headers, body = error_message(exc)
    if close:
        headers.append(CLOSE)
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Body:
    """One request's ``receive`` as the app reads it: its bytes counted against ``cap``, and
    all of it due ``timeout_s`` after the first read. Once the body is whole it passes
    ``receive`` on untouched (a streaming answer waits on it for the disconnect)."""

    def __init__(self, receive: Receive, cap: int, timeout_s: float) -> None:
        self.receive = receive
        self.cap = cap
        self.timeout_s = timeout_s
        self.received = 0
        self.deadline: float | None = None
        self.whole = False
        self.refused: VisitorStatsError | None = None

    async def __call__(self) -> Message:
        if self.whole:
            return await self.receive()
        if self.deadline is None:
            self.deadline = asyncio.get_running_loop().time() + self.timeout_s
        try:
            async with asyncio.timeout_at(self.deadline):
                message = await self.receive()
        except TimeoutError:
            self.refused = RequestTimedOut(f"the body did not arrive within {self.timeout_s:g} s")
            raise self.refused from None
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if self.received > self.cap:
                self.refused = BodyTooLarge(f"body is larger than {self.cap} bytes")
                raise self.refused
            self.whole = not message.get("more_body", False)
        return message


def _name_the_route(scope: Scope) -> None:
    """A request refused before routing is still timed under its route's template (the
    metrics label ``route``), as if the route had answered. Matched against the app's own
    OpenAPI paths, which name every route whatever FastAPI's internal router layout."""
    app = scope.get("app")
    if app is None or not hasattr(app, "openapi"):
        return
    for template in app.openapi().get("paths", {}):
        regex, _, _ = compile_path(template)
        if regex.match(scope["path"]):
            scope["route"] = SimpleNamespace(path=template)
            return


class RequestLimits:
    """Pure-ASGI middleware of the FastAPI app: header caps, the admin token before the body,
    the body cap and the body deadline. Refusals answer ``{"detail": ...}`` as api.errors maps
    them; one given before the body was read whole closes the connection."""

    def __init__(self, app: ASGIApp, settings: Settings, admin: AdminGuard) -> None:
        self.app = app
        self.settings = settings
        self.admin = admin

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        settings = self.settings
        headers = header_map(scope["headers"])
        length = declared_length(headers)
        pending = bool(length) or "transfer-encoding" in headers  # a body may follow
        admin = scope["path"].startswith(ADMIN_PATH_PREFIX)
        cap = settings.max_admin_body_bytes if admin else settings.max_body_bytes
        try:
            check_headers(scope, settings.max_headers, settings.max_header_bytes)
            if admin and scope["method"] != "OPTIONS":  # preflights carry no token
                client = scope.get("client")
                self.admin.check(headers, client[0] if client else None)
            if length is not None and length > cap:
                raise BodyTooLarge(f"body is larger than {cap} bytes")
        except VisitorStatsError as exc:
            _name_the_route(scope)
            await refuse(send, exc, close=pending)
            return
        body = _Body(receive, cap, settings.body_timeout_s)
        started = False

        async def send_unless_refused(message: Message) -> None:
            # The app's own answer to a body cut short (FastAPI makes it a 400 "error parsing
            # the body") is replaced by the refusal itself, sent below.
            nonlocal started
            if body.refused is None or started:
                started = started or message["type"] == "http.response.start"
                await send(message)

        try:
            await self.app(scope, body, send_unless_refused)
        except Exception:
            if body.refused is None or started:
                raise
            # What the app raised follows from the refused body; the refusal says what happened.
        if body.refused is not None and not started:
            await refuse(send, body.refused, close=True)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a deadline for each request's head (from the
    connection's opening, or from the request's first byte) and caps on its size (request
    target and headers) and header lines. An oversized head is answered 431, a late one 408,
    both with a JSON detail, and the connection is closed. A plain GET whose answer the
    worker holds ready (api/ready.py) is answered here, with no ASGI cycle."""

    def __init__(
        self,
        *args: Any,
        header_timeout_s: float,
        max_head_bytes: int,
        max_headers: int,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.header_timeout_s = header_timeout_s
        self.max_head_bytes = max_head_bytes
        self.max_headers = max_headers
        self._head_bytes = 0
        self._head_lines = 0
        self._head_deadline: asyncio.TimerHandle | None = None
        self._refusal: VisitorStatsError | None = None
        self._answered = False  # this request was answered here (api/ready.py)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._answered = False
        # A request began: the connection is not idle. (uvicorn cancels the keep-alive timer
        # when data arrives; one armed by an answer written below while the parser still had
        # a pipelined request in hand would close the connection under that request.)
        self._unset_keepalive_if_required()
        self._head_bytes = self._head_lines = 0
        self._arm()

    def on_url(self, url: bytes) -> None:
        self._count(len(url), 0)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value), 1)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm()
        if not self._answer_ready():
            super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        if not self._answered:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self._answered:
            super().on_message_complete()

    def _answer_ready(self) -> bool:
        """Write the answer to a GET the worker holds ready (api/ready.py) with no ASGI cycle:
        only a plain keep-alive GET, with no answer before it still under way. Anything else,
        or a target with no answer ready, goes the usual way."""
        ready: ReadyAnswers | None = self.app_state.get(READY_STATE_KEY)
        if (
            ready is None
            or self.access_log  # uvicorn's access log would miss it
            or self.pipeline
            or self.flow.write_paused
            or (self.cycle is not None and not self.cycle.response_complete)
        ):
            return False
        parser = self.parser
        if (
            parser.get_method() != b"GET"
            or parser.get_http_version() != "1.1"
            or not parser.should_keep_alive()
            or parser.should_upgrade()
        ):
            return False
        if_none_match = None
        for name, value in self.headers:
            if name == b"content-length" or name == b"transfer-encoding":
                return False  # a body follows: the usual way reads and judges it
            if name == b"if-none-match" and if_none_match is None:
                if_none_match = value.decode("latin-1")
        response = ready.respond(self.url, if_none_match, self.server_state.default_headers)
        if response is None:
            return False
        self._answered = True
        self.transport.write(response)
        HttpToolsProtocol.on_response_complete(self)  # counted, keep-alive armed, reads resumed
        return True

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # Answered before its body was read whole (a GET route ignores a body): the rest of it
        # would hold the connection while it drips, since every byte received stops uvicorn's
        # keep-alive timer. The rest, and the next request's head, are due like a head.
        if self.cycle is not None and self.cycle.more_body and not self.transport.is_closing():
            self._arm()

    def send_400_response(self, msg: str) -> None:
        # The parser stops on an exception raised in a callback and uvicorn answers it 400;
        # one raised by _count is answered with its own status and detail instead.
        if self._refusal is None:
            super().send_400_response(msg)
            return
        self._refuse(self._refusal)

    def _count(self, size: int, lines: int) -> None:
        self._head_bytes += size
        self._head_lines += lines
        if self._head_lines > self.max_headers:
            self._refusal = HeadersTooLarge(f"more than {self.max_headers} header lines")
        elif self._head_bytes > self.max_head_bytes:
            self._refusal = HeadersTooLarge(
                f"request line and headers are larger than {self.max_head_bytes} bytes"
            )
        if self._refusal is not None:
            raise self._refusal

    def _arm(self) -> None:
        if self._head_deadline is None:
            self._head_deadline = self.loop.call_later(self.header_timeout_s, self._late_head)

    def _disarm(self) -> None:
        if self._head_deadline is not None:
            self._head_deadline.cancel()
            self._head_deadline = None

    def _late_head(self) -> None:
        self._head_deadline = None
        if self.cycle is None or self.cycle.response_complete:
            late = RequestTimedOut(f"the headers did not arrive within {self.header_timeout_s:g} s")
            self._refuse(late)
        else:  # an answer to an earlier (pipelined) request is under way: no room for ours
            self.transport.close()

    def _refuse(self, exc: VisitorStatsError) -> None:
        if self.transport.is_closing():
            return
        status, headers, body = error_message(exc)
        head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}".encode()]
        head += [name + b": " + value for name, value in [*headers, CLOSE]]
        head.append(b"content-length: " + str(len(body)).encode())
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.transport.close()
