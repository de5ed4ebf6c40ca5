from __future__ import annotations

import pytest

from counter.visitor import client_ip, visitor_id

LOOPBACK = ["127.0.0.1/8", "::1/128"]


@pytest.mark.parametrize(
    ("peer", "header", "expected"),
    [
        ("203.0.113.9", "1.2.3.4", "203.0.113.9"),  # untrusted peer: the header is ignored
        ("127.0.0.1", "1.2.3.4", "1.2.3.4"),  # our proxy: believe it
        ("127.0.0.1", "6.6.6.6, 1.2.3.4", "1.2.3.4"),  # the client wrote the left part
        ("127.0.0.1", "1.2.3.4, 127.0.0.2", "1.2.3.4"),  # two trusted hops
        ("127.0.0.1", None, "127.0.0.1"),
    ],
)
def test_forwarded_for_is_believed_only_from_trusted_proxies(
    peer: str, header: str | None, expected: str
) -> None:
    assert client_ip(peer, header, LOOPBACK) == expected


def test_visitor_id_depends_on_salt_site_ip_and_agent() -> None:
    base = visitor_id(b"s" * 32, "a.vn", "1.2.3.4", "UA")
    assert base == visitor_id(b"s" * 32, "a.vn", "1.2.3.4", "UA")
    others = {
        visitor_id(b"t" * 32, "a.vn", "1.2.3.4", "UA"),
        visitor_id(b"s" * 32, "b.vn", "1.2.3.4", "UA"),
        visitor_id(b"s" * 32, "a.vn", "1.2.3.5", "UA"),
        visitor_id(b"s" * 32, "a.vn", "1.2.3.4", "UA2"),
    }
    assert base not in others
    assert len(others) == 4
