"""The hit call packed once per site and minute: the same bytes redis-py would send, the same
replies, one pipeline per turn, and a stalled store answered within one budget."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st
from redis.asyncio import Redis
from redis.asyncio.connection import Connection

from counter.storage.coalesce import SLOT, Coalescer, Template, bulk
from counter.storage.store import Store

ECHO = "return {KEYS[1], ARGV[1], ARGV[2], #KEYS, #ARGV}"
values = st.one_of(st.text(), st.binary(), st.integers(min_value=-(2**63), max_value=2**63 - 1))


@given(
    keys=st.lists(st.text(min_size=1), min_size=1, max_size=4),
    args=st.lists(st.one_of(values, st.just(SLOT)), max_size=8),
    fill=st.data(),
)
def test_a_packed_call_is_what_redis_py_would_send(
    keys: list[str], args: list[object], fill: st.DataObject
) -> None:
    script = Redis().register_script(ECHO)  # the SHA is computed here: nothing is sent
    template = Template(script, keys, args)  # type: ignore[arg-type]
    given_values = [fill.draw(values) for arg in args if arg is SLOT]
    expected = Connection().pack_command(
        "EVALSHA", script.sha, len(keys), *keys, *template.arguments(given_values)
    )
    assert template.pack(given_values) == b"".join(expected)


@pytest.mark.parametrize("wrong", [1.5, True, None])
def test_a_value_redis_py_refuses_is_refused(wrong: object) -> None:
    with pytest.raises(TypeError):
        bulk(wrong)  # type: ignore[arg-type]


async def test_calls_of_one_turn_are_one_pipeline_and_each_gets_its_reply(store: Store) -> None:
    script = store.redis.register_script(ECHO)
    await store.redis.script_load(ECHO)
    coalescer = Coalescer(store.redis, script)
    template = coalescer.template([f"{store.keys.prefix}:k"], ["fixed", SLOT])
    before = (await store.redis.info("commandstats")).get("cmdstat_evalsha", {}).get("calls", 0)
    replies = await asyncio.gather(*(coalescer(template, [f"v{n}"]) for n in range(40)))
    assert replies == [
        [f"{store.keys.prefix}:k".encode(), b"fixed", f"v{n}".encode(), 1, 2] for n in range(40)
    ]
    after = (await store.redis.info("commandstats"))["cmdstat_evalsha"]["calls"]
    assert after - before == 40
    with pytest.raises(ValueError, match="1 values wanted, 0 given"):
        template.pack([])
