"""What every command shares: the settings, the clock, the store that ``serve`` uses, and how
a domain error ends a command."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NoReturn, TypeVar

import orjson
import typer
from pydantic import ValidationError

from counter.clock import Clock, FakeClock, SystemClock
from counter.errors import VisitorStatsError
from counter.settings import Settings
from counter.storage.connection import open_store
from counter.storage.store import Store

app = typer.Typer(help="Visitor counter for the 'Thống kê truy cập' box.", no_args_is_help=True)

T = TypeVar("T")


def settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        typer.echo(f"error: invalid settings:\n{settings_errors(exc)}", err=True)
        raise typer.Exit(2) from None


def settings_errors(exc: ValidationError) -> str:
    """One line per refused setting: its variable and what is wrong, never the value given
    (it can be a secret: the admin token, a password in REDIS_URL)."""
    lines = []
    for error in exc.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in error["loc"])
        lines.append(f"  VISITOR_STATS_{field.upper()}: {error['msg']}")
    return "\n".join(lines)


def clock_at(now: str | None) -> Clock:
    if now is None:
        return SystemClock()
    try:
        instant = datetime.fromisoformat(now)
    except ValueError:
        raise typer.BadParameter(
            f"--now must be ISO-8601, e.g. 2026-11-26T00:00:30+07:00, not {now!r}"
        ) from None
    if instant.tzinfo is None:
        raise typer.BadParameter("--now needs a UTC offset, e.g. 2026-11-26T00:00:30+07:00")
    return FakeClock(instant)


def with_store(work: Callable[[Store], Awaitable[T]], clock: Clock | None = None) -> T:
    """Run ``work`` against the store ``serve`` uses; domain errors exit 1 with their message."""
    current = settings()

    async def main() -> T:
        async with open_store(
            current, clock or SystemClock(), current.redis_batch_timeout_s
        ) as store:
            return await work(store)

    try:
        return asyncio.run(main())
    except VisitorStatsError as exc:
        fail(exc)


def fail(exc: VisitorStatsError) -> NoReturn:
    typer.echo(f"error: {exc}", err=True)
    raise typer.Exit(1) from None


def print_json(data: Any) -> None:
    typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
