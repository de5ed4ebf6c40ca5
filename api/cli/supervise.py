"""Keeping ``serve``'s one aggregator running: a dead one is started again, with backoff.

``serve`` spends its main thread in ``uvicorn.run``, so a daemon thread watches the child.
It polls with ``Popen.poll`` (``waitpid(WNOHANG)``), which also reaps it: a dead child left
unreaped stays a zombie whose pid still answers ``kill(pid, 0)``, so its live gauges (leader
1) stayed in the shared metrics files while the summaries froze (issue 12).

The thread starts every child itself, the first one too: ``PR_SET_PDEATHSIG`` fires when the
*thread* that forked the child ends, so the child's "parent" must be the thread that lives as
long as the supervision, and that stops the child before it ends.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from counter.processes import stop_process

log = logging.getLogger("visitor_stats.serve")


@dataclass
class Backoff:
    """Seconds to wait before starting a dead child again: 1, 2, 4 … up to 30; back to the
    first once a child ran ``reset_after_s`` (it was healthy, this death is news)."""

    first_s: float = 1.0
    max_s: float = 30.0
    reset_after_s: float = 60.0
    _next_s: float = field(init=False)

    def __post_init__(self) -> None:
        self._next_s = self.first_s

    def delay_s(self, ran_s: float) -> float:
        """The wait before the next start, after a child that ran for ``ran_s``."""
        if ran_s >= self.reset_after_s:
            self._next_s = self.first_s
        delay = self._next_s
        self._next_s = min(self.max_s, delay * 2)
        return delay


def describe_exit(returncode: int) -> str:
    """``Popen.returncode`` in words: a negative one is the signal that ended the process."""
    if returncode >= 0:
        return f"exited with code {returncode}"
    try:
        return f"was killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"was killed by signal {-returncode}"


class Supervisor:
    """Runs the process ``spawn`` starts, and starts it again whenever it dies, until
    :meth:`stop`. ``on_exit(pid)`` runs for every child that ended (its metrics leave with
    it), ``on_restart()`` for every start after the first."""

    def __init__(
        self,
        name: str,
        spawn: Callable[[], subprocess.Popen[bytes]],
        on_exit: Callable[[int], None],
        on_restart: Callable[[], None],
        backoff: Backoff | None = None,
        poll_s: float = 0.25,
        stop_timeout_s: float = 10.0,
    ) -> None:
        self.name = name
        self.spawn = spawn
        self.on_exit = on_exit
        self.on_restart = on_restart
        self.backoff = backoff or Backoff()
        self.poll_s = poll_s
        self.stop_timeout_s = stop_timeout_s
        self.restarts = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"supervise-{name}", daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after ``stop_timeout_s``) and the thread."""
        self._stop.set()
        self._thread.join(timeout=self.stop_timeout_s + 5)

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            if not first:
                self.restarts += 1
                self.on_restart()
            first = False
            started = time.monotonic()
            try:
                process = self.process = self.spawn()
            except OSError as exc:
                log.error("could not start the %s: %s", self.name, exc)
                how = f"could not start ({exc})"
            else:
                if self.restarts:
                    log.info("the %s runs again (pid %d)", self.name, process.pid)
                if self._watch(process):
                    return  # stop() asked; the child is stopped
                assert process.returncode is not None
                how = f"(pid {process.pid}) {describe_exit(process.returncode)}"
            delay_s = self.backoff.delay_s(time.monotonic() - started)
            log.warning(
                "the %s %s after %.0f s; starting it again in %.0f s",
                self.name,
                how,
                time.monotonic() - started,
                delay_s,
            )
            if self._stop.wait(delay_s):
                return

    def _watch(self, process: subprocess.Popen[bytes]) -> bool:
        """Wait until the child dies (False) or stop() is asked (True, the child stopped)."""
        try:
            while not self._stop.wait(self.poll_s):
                if process.poll() is not None:
                    return False
            stop_process(process, self.stop_timeout_s)
            return True
        finally:
            # Its live gauges leave the shared metrics files, whichever way it ended.
            if process.returncode is not None:
                self.on_exit(process.pid)
