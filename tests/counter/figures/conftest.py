"""The importer tests' real servers: MariaDB for the CMS counters (one per session, a database
per test), and the session's Valkey for the Redis-based ones."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.counter.figures.mariadb import MariaDB


@pytest.fixture(scope="session")
def mariadb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MariaDB]:
    server = MariaDB(tmp_path_factory.mktemp("mariadb")).start()
    try:
        yield server
    finally:
        server.stop()
