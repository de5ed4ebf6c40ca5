"""The outage breaker: after the store failed to answer, hits go straight to the spool for a
moment instead of each waiting out the timeout."""

from __future__ import annotations

import time

from redis.exceptions import TimeoutError as RedisTimeoutError


class Outage:
    """A breaker: after the store failed to answer, hits go straight to the spool for a
    moment instead of each waiting out the timeout; the replayer closes it when the store
    answers a PING again."""

    COOL_DOWN_S = 1.0
    # A refused connection trips it at once; a timed-out hit might be a busy event loop
    # rather than a frozen store, so it takes a few in a row.
    TIMEOUTS_TO_TRIP = 3

    def __init__(self) -> None:
        self._until = 0.0
        self._timeouts = 0

    def trip(self) -> None:
        self._until = time.monotonic() + self.COOL_DOWN_S

    def failed(self, error: BaseException) -> None:
        if isinstance(error, TimeoutError | RedisTimeoutError):
            self._timeouts += 1
            if self._timeouts < self.TIMEOUTS_TO_TRIP:
                return
        self._timeouts = 0
        self.trip()

    def succeeded(self) -> None:
        self._timeouts = 0

    def close(self) -> None:
        self._until = 0.0

    @property
    def open(self) -> bool:
        return time.monotonic() < self._until
