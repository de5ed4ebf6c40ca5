from __future__ import annotations

from counter.lru import put_bounded


def test_a_full_bounded_map_lets_go_of_the_entry_made_first_only() -> None:
    made: dict[str, int] = {}
    for n, key in enumerate("abc"):
        put_bounded(made, key, n, size=3)
    put_bounded(made, "b", 10, size=3)  # a new value for a key it holds: nothing leaves
    assert made == {"a": 0, "b": 10, "c": 2}
    put_bounded(made, "d", 3, size=3)
    assert made == {"b": 10, "c": 2, "d": 3}
