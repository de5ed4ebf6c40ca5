"""Decoding the store's replies: redis-py answers bytes (or str, with decode_responses)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def text(value: bytes | str | Any) -> str:
    """One reply value as text."""
    return value.decode() if isinstance(value, bytes) else str(value)


def texts(values: Iterable[Any]) -> list[str]:
    """A set's or a list's members as text, in the order given."""
    return [text(v) for v in values]


def counts(flat: list[Any]) -> dict[str, int]:
    """A flat ``HGETALL`` reply ``[field, value, field, value, …]`` of whole numbers."""
    return {text(k): int(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}


def fields(flat: list[Any]) -> dict[str, str]:
    """A flat ``HGETALL`` reply ``[field, value, field, value, …]`` of text values."""
    return {text(k): text(v) for k, v in zip(flat[::2], flat[1::2], strict=True)}
