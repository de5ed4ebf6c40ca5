"""The processes visitor-stats starts and watches: which still run (the spool claims a dead
process's file, the metrics drop a dead process's live gauges), and stopping a child."""

from __future__ import annotations

import os
import subprocess


def pid_alive(pid: int) -> bool:
    """True while a process of that pid exists (ours or not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 10) -> None:
    """SIGTERM, so the child shuts down in order; SIGKILL if it has not after ``timeout_s``."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
