"""The store is down and the spool's disk fills up: a hit is acknowledged only once its line is
whole on disk, refused with 503 otherwise, and every acknowledged hit is counted once."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from counter.record.recorder import Recorder
from counter.record.replay import tick
from tests.faults.test_outage import counted, send
from tests.servers import StoreProcess


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory on a tmpfs of 16 KiB: four pages of memory, filled at will."""
    if shutil.which("mount") is None or os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    small = tmp_path / "small"
    small.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16k,mode=0700", "tmpfs", small], check=True)
    try:
        yield small
    finally:
        subprocess.run(["umount", "-l", small], check=True)


def fill(directory: Path) -> Path:
    """Take every free byte of the file system ``directory`` is on."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)

    def write_until_refused() -> None:
        while True:
            os.write(fd, b"\0" * 512)

    try:
        with pytest.raises(OSError, match="No space left") as refused:
            write_until_refused()
        assert refused.value.errno == errno.ENOSPC
    finally:
        os.close(fd)
    return filler


async def test_a_full_disk_refuses_hits_whole_and_loses_none_it_acknowledged(
    own_store: StoreProcess,
    data_dir: Path,
    app_client: tuple[httpx.AsyncClient, Recorder],
) -> None:
    http, recorder = app_client
    assert [(await send(http, n)).status_code for n in range(3)] == [200] * 3
    own_store.stop()
    assert (await send(http, 3)).status_code == 202  # the spool file now exists
    filler = fill(data_dir)
    # The spool file's first page still has room for a dozen lines; the line that runs past
    # it is written in part, then refused: it must leave nothing behind.
    statuses = [(await send(http, n)).status_code for n in range(4, 40)]
    acknowledged = 1 + statuses.count(202)
    refused = statuses.count(503)
    assert acknowledged > 2 and refused > 0, statuses
    assert statuses == sorted(statuses), "after the first refusal every hit is refused"
    answer = await send(http, 40)
    assert answer.status_code == 503 and "spool" in answer.json()["detail"]
    refused += 1
    ready = await http.get("/readyz")
    assert (ready.status_code, ready.json()["status"]) == (503, "unavailable")
    scrape = (await http.get("/metrics")).text
    assert f"visitor_stats_hits_dropped_total {float(refused)}" in scrape
    [spooled] = list((data_dir / "spool").glob("*.jsonl"))
    lines = spooled.read_bytes().split(b"\n")
    assert lines[-1] == b""  # the file ends at the end of a whole line
    assert len([orjson.loads(line) for line in lines[:-1]]) == acknowledged

    filler.unlink()
    own_store.start()
    await tick(recorder)
    assert await counted(recorder) == 3 + acknowledged
    assert recorder.spool is not None and recorder.spool.pending == 0
    scrape = (await http.get("/metrics")).text
    assert "visitor_stats_spool_hits 0.0" in scrape
    assert (await http.get("/readyz")).json()["status"] == "ready"
