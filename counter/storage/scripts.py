"""The Lua scripts, read from their .lua files and registered once per client at start-up."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript


def _source(name: str) -> str:
    return files("counter.storage").joinpath("lua", f"{name}.lua").read_text(encoding="utf-8")


@dataclass(frozen=True, slots=True)
class Scripts:
    record_hit: AsyncScript
    close_day: AsyncScript
    read_site: AsyncScript
    adjust_total: AsyncScript
    import_day: AsyncScript
    lease: AsyncScript
    snapshot_site: AsyncScript
    restore_site: AsyncScript
    carry_pages: AsyncScript
    carry_totals: AsyncScript
    live_pages: AsyncScript
    prune_presence: AsyncScript
    online_expire: AsyncScript
    mark_epoch: AsyncScript

    @classmethod
    def register(cls, redis: Redis | Any) -> Scripts:
        # register_script computes the SHA locally; EVALSHA falls back to EVAL (and caches the
        # script on the server) the first time a server has not seen it, e.g. after a restart.
        return cls(
            **{name: redis.register_script(_source(name)) for name in cls.__dataclass_fields__}
        )

    async def load(self, redis: Redis | Any) -> None:
        """SCRIPT LOAD every script (on every primary of a Cluster): pipelines send EVALSHA
        without the fallback a single call has, so the server must know them first."""
        for name in self.__dataclass_fields__:
            await redis.script_load(_source(name))
