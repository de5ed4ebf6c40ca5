"""A real MariaDB for the importer tests: Debian's mariadb-server (scripts/system-deps), a data
directory of its own made by mariadb-install-db, on a free loopback port, stopped afterwards."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pymysql

from tests.servers import free_port

USER, PASSWORD = "importer", "s3cret-Импорт"
# mariadbd refuses to run as root unless told to (CI containers run as root).
ROOT = ["--user=root"] if os.geteuid() == 0 else []


@dataclass
class MariaDB:
    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> MariaDB:
        install = shutil.which("mariadb-install-db")
        server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        assert install, "mariadb-server is not installed: run scripts/system-deps"
        data = self.directory / "data"
        subprocess.run(
            [
                install,
                "--no-defaults",
                f"--datadir={data}",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                *ROOT,
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
        self.port = free_port()
        self.process = subprocess.Popen(
            [
                server,
                "--no-defaults",
                f"--datadir={data}",
                f"--socket={self.directory / 'mysqld.sock'}",
                f"--port={self.port}",
                "--bind-address=127.0.0.1",
                *ROOT,
                f"--pid-file={self.directory / 'mysqld.pid'}",
                f"--log-error={self.directory / 'error.log'}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=16M",
                "--character-set-server=utf8mb4",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.root().close()
                break
            except pymysql.MySQLError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    log = (self.directory / "error.log").read_text(errors="replace")[-2000:]
                    raise RuntimeError(f"mariadbd did not start:\n{log}") from None
                time.sleep(0.05)
        with self.root() as db, db.cursor() as cur:
            cur.execute(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY %s", (PASSWORD,))
        return self

    def root(self, database: str | None = None) -> pymysql.Connection:  # type: ignore[type-arg]
        return pymysql.connect(
            host="127.0.0.1",
            port=self.port,
            user="root",
            password="",
            database=database,
            charset="utf8mb4",
            autocommit=True,
        )

    def url(
        self,
        database: str,
        password: str = PASSWORD,
        *,
        user: str = USER,
        host: str = "127.0.0.1",
    ) -> str:
        from urllib.parse import quote

        return f"mysql://{user}:{quote(password)}@{host}:{self.port}/{database}"

    def add_reader(self, database: str, user: str, password: str) -> None:
        """Another account that may read ``database`` (its own name and password)."""
        with self.root() as db, db.cursor() as cur:
            cur.execute(
                f"CREATE OR REPLACE USER '{user}'@'127.0.0.1' IDENTIFIED BY %s", (password,)
            )
            cur.execute(f"GRANT SELECT ON `{database}`.* TO '{user}'@'127.0.0.1'")

    @contextmanager
    def database(self) -> Iterator[tuple[str, pymysql.Connection]]:  # type: ignore[type-arg]
        """A fresh database the importer user may read, dropped afterwards."""
        name = f"cms_{secrets.token_hex(4)}"
        with self.root() as db, db.cursor() as cur:
            cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        connection = self.root(name)
        try:
            yield name, connection
        finally:
            connection.close()
            with self.root() as db, db.cursor() as cur:
                cur.execute(f"DROP DATABASE `{name}`")

    def grant(self, database: str, what: str = "SELECT", on: str = "*") -> None:
        with self.root() as db, db.cursor() as cur:
            cur.execute(f"GRANT {what} ON `{database}`.{on} TO '{USER}'@'127.0.0.1'")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None
