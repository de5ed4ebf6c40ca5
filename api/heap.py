"""The collector's share of a serving process: the heap made at start-up frozen out of its sight.

A worker starts with over a hundred thousand objects that live as long as it does (the
framework, the bot patterns of two maintained lists, the scripts), and it makes a few
hundred short-lived ones per hit. CPython's collector still walks the long-lived ones: a
full collection of such a worker took 113 ms under the hit load (bench/hits.py, a probe on
gc.callbacks), which is the p99 of a hit at half the maximum rate. Frozen (``gc.freeze``),
they are never walked again, and a larger first threshold makes young collections rarer
(most of a hit's objects die by reference count before any collection sees them).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# Allocations (net of frees) of tracked objects between young collections; CPython's is 700.
YOUNG_THRESHOLD = 20_000


@contextmanager
def settled_heap() -> Iterator[None]:
    """Freeze what exists now and space the young collections out; undone on the way out
    (a test process starts many apps, one after another)."""
    thresholds = gc.get_threshold()
    gc.collect()  # what start-up left as garbage is not frozen with the rest
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()
