"""The hot path's own query parser reads every query string as the standard library does."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from api.intake import query_pairs

# The characters that change a parse: separators, escapes, plus, and text around them.
PIECES = st.sampled_from(["&", "=", "+", "%", "%2", "%20", "%E1%BA%A1", "%zz", "a", "ß", " ", ";"])


@given(st.lists(PIECES, max_size=30).map("".join))
def test_query_pairs_are_those_of_parse_qsl_keeping_blank_values(query: str) -> None:
    raw = query.encode()
    assert query_pairs(raw) == parse_qsl(raw.decode("latin-1"), keep_blank_values=True)


def test_a_stats_query_is_split_and_unescaped() -> None:
    raw = b"site=demo.local&url=%2Ftin-tuc%2F1%3Fa%3Db&&lang=vi+VN&flag"
    assert query_pairs(raw) == [
        ("site", "demo.local"),
        ("url", "/tin-tuc/1?a=b"),
        ("lang", "vi VN"),
        ("flag", ""),
    ]
