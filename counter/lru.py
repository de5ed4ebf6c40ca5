"""Bounded maps for the per-process copies that save a round trip or an encoding: a map of
recent values, each kept with when it was made, whose least recently stored entry leaves
first (site configs, stats answers; the owner decides how old a copy may be), and
:func:`put_bounded` for a plain dict of things made from them."""

from __future__ import annotations

from collections import OrderedDict
from datetime import datetime
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class Recent(Generic[K, V]):
    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[K, tuple[datetime, V]] = OrderedDict()

    def get(self, key: K) -> tuple[datetime, V] | None:
        """``(stored at, value)``, however old, or None."""
        return self._entries.get(key)

    def put(self, key: K, at: datetime, value: V) -> None:
        self._entries[key] = (at, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def forget(self, key: K) -> None:
        self._entries.pop(key, None)

    def __len__(self) -> int:
        return len(self._entries)


def put_bounded(entries: dict[K, V], key: K, value: V, size: int) -> None:
    """``entries[key] = value``, the entry made first let go to keep at most ``size``: the
    ones in use stay (clearing the whole map when full made all of them again at once)."""
    if key not in entries and len(entries) >= size:
        del entries[next(iter(entries))]
    entries[key] = value
