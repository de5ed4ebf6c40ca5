"""Reaching an old counter's own data: its MySQL/MariaDB database (PyMySQL) or its Redis,
read only, with every failure turned into one clear sentence (:class:`SourceUnreadable`).

Nothing here writes to the source, and no password reaches a message, a label or the ledger.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql
import pymysql.cursors
import redis
from redis.exceptions import AuthenticationError, RedisError

from counter.errors import VisitorStatsError

CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 300
CHUNK_ROWS = 1000  # rows fetched at once from an unbuffered cursor; progress hears each chunk
_SCANS = frozenset({"SCAN", "ZSCAN", "SSCAN", "HSCAN"})

Progress = Callable[[int], None]  # hears how many rows or keys each read brought
_PREFIX = re.compile(r"[A-Za-z0-9_]{0,64}")


class SourceUnreadable(VisitorStatsError):
    """The old counter's data cannot be read as asked: unreachable, refused, a table or key
    missing. Nothing was written."""


def table_prefix(raw: str | None, default: str) -> str:
    prefix = default if raw is None else raw
    if not _PREFIX.fullmatch(prefix):
        raise SourceUnreadable(
            f"--table-prefix {prefix!r}: only letters, digits and '_' (at most 64)"
        )
    return prefix


@dataclass(frozen=True, slots=True)
class Location:
    scheme: str
    host: str
    port: int
    user: str
    password: str
    database: str

    @property
    def label(self) -> str:
        """For the ledger and the plan: everything but the password."""
        user = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}/{self.database}"


def sql_identity(format: str, location: Location, prefix: str) -> str:
    """What a CMS database's counter is, whichever way it is reached: the format, the
    database's name and the table prefix; never the host, port or user (the same data through
    127.0.0.1 or localhost, or another reader's account, is the same import)."""
    return f"{format} db {location.database} prefix {prefix}"


def content_identity(format: str, lines: Iterable[str]) -> str:
    """What a file is: a SHA-256 of its text (of ``lines``), never its name or folder, so a
    copy of the file is the same import."""
    digest = hashlib.sha256()
    for line in lines:
        digest.update(line.encode())
    return f"{format} sha256 {digest.hexdigest()[:32]}"


def locate(url: str, schemes: Sequence[str], default_port: int) -> Location:
    try:
        parts = urlsplit(url)
        port = parts.port or default_port
    except ValueError as exc:
        raise SourceUnreadable(f"source is not a valid URL: {exc}") from None
    if parts.scheme not in schemes:
        wanted = " or ".join(s + "://" for s in schemes)
        raise SourceUnreadable(f"source must be a {wanted} URL, not {parts.scheme or 'a path'}")
    return Location(
        scheme=parts.scheme,
        host=parts.hostname or "127.0.0.1",
        port=port,
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        database=unquote(parts.path.lstrip("/")),
    )


# MySQL client error codes (https://mariadb.com/kb/en/mariadb-error-codes/).
_MYSQL_MESSAGES = {
    1044: "the user may not use that database",
    1045: "access denied: wrong user or password",
    1049: "no such database",
    1146: "no such table",
    2003: "cannot connect (is the server running, and is the host and port right?)",
    2005: "unknown host",
    2013: "the connection was lost",
}


def _mysql_reason(exc: pymysql.MySQLError) -> str:
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return _MYSQL_MESSAGES.get(code, f"MySQL error {code}")


class Database:
    """One read-only session on the old CMS database."""

    def __init__(
        self, location: Location, connection: Any, progress: Progress | None = None
    ) -> None:
        self.location = location
        self._connection = connection
        self._progress = progress

    def _read(self, count: int) -> None:
        if self._progress is not None and count:
            self._progress(count)

    def tables(self) -> set[str]:
        return {row[0] for row in self._fetch("SHOW TABLES")}

    def require(self, table: str, hint: str) -> None:
        """Fail with the tables that look alike when ``table`` is not there (a wrong prefix)."""
        tables = self.tables()
        if table in tables:
            return
        stem = table.split("_", 1)[-1] if "_" in table else table
        alike = sorted(t for t in tables if stem[-12:] in t)[:5]
        seen = f"; tables that look alike: {', '.join(alike)}" if alike else ""
        raise SourceUnreadable(f"table {table!r} not found in {self.location.label} ({hint}){seen}")

    def rows(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        found = self._fetch(sql, args)
        self._read(len(found))
        return found

    def _fetch(self, sql: str, args: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._connection.cursor() as cursor:
                cursor.execute(sql, args)
                found = list(cursor.fetchall())
        except pymysql.MySQLError as exc:
            raise SourceUnreadable(f"{self.location.label}: {_mysql_reason(exc)}") from None
        return found

    def stream(self, sql: str, args: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows one at a time (an unbuffered cursor, fetched ``CHUNK_ROWS`` at once), for
        tables of a row per visit."""
        try:
            with self._connection.cursor(pymysql.cursors.SSCursor) as cursor:
                cursor.execute(sql, args)
                while chunk := cursor.fetchmany(CHUNK_ROWS):
                    self._read(len(chunk))
                    yield from chunk
        except pymysql.MySQLError as exc:
            raise SourceUnreadable(f"{self.location.label}: {_mysql_reason(exc)}") from None


@contextmanager
def mysql(url: str, progress: Progress | None = None) -> Iterator[Database]:
    location = locate(url, ("mysql", "mariadb"), 3306)
    if not location.database:
        raise SourceUnreadable("the mysql:// URL needs a database: mysql://user:pass@host/db")
    try:
        connection = pymysql.connect(
            host=location.host,
            port=location.port,
            user=location.user or None,
            # As UTF-8 bytes: PyMySQL would encode a str as Latin-1 and fail on 'Mật khẩu'.
            password=location.password.encode(),
            database=location.database,
            charset="utf8mb4",
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
        )
    except pymysql.MySQLError as exc:
        raise SourceUnreadable(f"{location.label}: {_mysql_reason(exc)}") from None
    try:
        yield Database(location, connection, progress)
    finally:
        connection.close()


class RedisSource:
    """The old counter's Redis, read with plain commands (GET, ZSCAN, SSCAN, PFCOUNT)."""

    def __init__(
        self, location: Location, client: redis.Redis, progress: Progress | None = None
    ) -> None:
        self.location = location
        self.client = client
        self._progress = progress

    def call(self, command: str, *args: Any) -> Any:
        """One command; a SCAN-family batch is told to ``progress`` (how many it brought)."""
        try:
            answer = self.client.execute_command(command, *args)  # type: ignore[no-untyped-call]
        except RedisError as exc:
            raise SourceUnreadable(f"{self.location.label}: {exc}") from None
        if self._progress is not None and command.upper() in _SCANS and answer[1]:
            self._progress(len(answer[1]))
        return answer


@contextmanager
def redis_source(url: str, progress: Progress | None = None) -> Iterator[RedisSource]:
    location = locate(url, ("redis", "rediss"), 6379)
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_S, socket_timeout=READ_TIMEOUT_S
        )
        client.ping()
    except AuthenticationError:
        # WRONGPASS or NOAUTH; as the MySQL sources say it, and never the password itself.
        reason = (
            "access denied: wrong user or password"
            if location.password
            else "access denied: the server wants a password (redis://:PASSWORD@host:port/db)"
        )
        raise SourceUnreadable(f"{location.label}: {reason}") from None
    except RedisError as exc:
        raise SourceUnreadable(f"{location.label}: {exc}") from None
    except ValueError as exc:
        raise SourceUnreadable(f"source is not a valid redis:// URL: {exc}") from None
    try:
        yield RedisSource(location, client, progress)
    finally:
        client.close()
