"""The sites registry: which websites are tracked, and each one's definitions."""

from __future__ import annotations

import contextlib
import re
from datetime import timedelta
from enum import StrEnum
from functools import cached_property
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from redis.asyncio import Redis
from redis.exceptions import RedisError

from counter.clock import Clock
from counter.errors import InvalidInput, StoreRestoring, UnknownSite
from counter.keys import Keys, validate_site_id
from counter.lru import Recent
from counter.periods import WeekStart
from counter.replies import texts

SITE_CACHE_TTL = timedelta(seconds=5)
SITE_CACHE_SIZE = 10_000

_HOSTNAME = re.compile(
    r"(\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
)


class Measure(StrEnum):
    visits = "visits"
    pageviews = "pageviews"
    visitors = "visitors"


class Site(BaseModel):
    """One tracked website and the definitions its numbers follow."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: str
    domains: tuple[str, ...] = Field(min_length=1, max_length=50)
    timezone: str = "Asia/Ho_Chi_Minh"
    week_start: str = "monday"
    measure: Measure = Measure.visits
    online_window_s: int = Field(default=300, ge=30, le=3600)
    session_timeout_s: int = Field(default=1800, ge=60, le=86400)
    locale: str = Field(default="vi", pattern=r"^(vi|en)$")
    grouping: str = Field(default=".", pattern=r"^[.,]$")
    keep_query: bool = False
    # /dashboard/{site} and its data open to anyone; otherwise a read token (counter/access.py).
    public_dashboard: bool = False

    @field_validator("id")
    @classmethod
    def _valid_id(cls, value: str) -> str:
        return validate_site_id(value)

    @field_validator("domains")
    @classmethod
    def _valid_domains(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        out = []
        for raw in value:
            domain = raw.strip().lower().rstrip(".")
            if not _HOSTNAME.fullmatch(domain) or len(domain) > 253:
                raise ValueError(
                    f"{raw!r} is not a host name (examples: example.gov.vn, *.example.vn)"
                )
            out.append(domain)
        return tuple(dict.fromkeys(out))

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(
                f"{value!r} is not an IANA timezone (example: Asia/Ho_Chi_Minh)"
            ) from exc
        return value

    @field_validator("week_start")
    @classmethod
    def _valid_week_start(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in WeekStart.__members__:
            raise ValueError(
                f"week start must be a day name such as monday or sunday, not {value!r}"
            )
        return value

    @cached_property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @cached_property
    def first_weekday(self) -> WeekStart:
        return WeekStart[self.week_start]

    def allows_host(self, host: str) -> bool:
        """True when ``host`` is one of the site's domains (``*.d`` admits d's subdomains)."""
        host = host.lower().rstrip(".")
        for domain in self.domains:
            if domain.startswith("*."):
                if host == domain[2:] or host.endswith(domain[1:]):
                    return True
            elif host == domain:
                return True
        return False


def make_site(**fields: object) -> Site:
    """Build a Site from user input, turning validation errors into one readable InvalidInput."""
    try:
        return Site.model_validate(fields)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'site'}: {err['msg']}"
            for err in exc.errors()
        )
        raise InvalidInput(problems) from None


class SiteRegistry:
    """Sites live in the store, so every process and replica sees the same list."""

    def __init__(self, redis: Redis, keys: Keys) -> None:
        self._redis = redis
        self._keys = keys

    async def put(self, site: Site) -> None:
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.set(self._keys.site(site.id).config, orjson.dumps(site.model_dump(mode="json")))
            pipe.sadd(self._keys.sites, site.id)
            await pipe.execute()

    async def lost(self) -> bool:
        """True when the store has lost its data: no epoch, which the aggregator's snapshot
        writes, and restores before anything else when it finds the store without it."""
        return not await self._redis.exists(self._keys.epoch)

    async def get(self, site_id: str) -> Site:
        site_id = validate_site_id(site_id)
        raw = await self._redis.get(self._keys.site(site_id).config)
        if raw is None:
            raise UnknownSite(site_id)
        return Site.model_validate(orjson.loads(raw))

    async def ids(self) -> list[str]:
        return sorted(texts(await self._redis.smembers(self._keys.sites)))

    async def all(self) -> list[Site]:
        ids = await self.ids()
        if not ids:
            return []
        # One round trip for every site's config; keys live in different slots, so no MULTI.
        async with self._redis.pipeline(transaction=False) as pipe:
            for site_id in ids:
                pipe.get(self._keys.site(site_id).config)
            raws = await pipe.execute()
        return [Site.model_validate(orjson.loads(raw)) for raw in raws if raw is not None]

    async def remove(self, site_id: str) -> None:
        site_id = validate_site_id(site_id)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.srem(self._keys.sites, site_id)
            pipe.delete(self._keys.site(site_id).config)
            removed, _ = await pipe.execute()
        if not removed:
            raise UnknownSite(site_id)


class SiteCache:
    """Site configs kept a few seconds per process, so a hit costs no extra round trip."""

    def __init__(self, registry: SiteRegistry, clock: Clock) -> None:
        self._registry = registry
        self._clock = clock
        self._entries: Recent[str, Site | None] = Recent(SITE_CACHE_SIZE)
        # Whether this process has seen the store with the aggregator's epoch (see get).
        self.epoch_seen = False

    async def check_epoch(self) -> None:
        """Note whether the store has the aggregator's epoch now (at start-up): once seen, a
        store without it has lost its data, and a site missing from it may be restoring."""
        # The store down at start: the first lookup that reaches it tells.
        with contextlib.suppress(RedisError):
            self.epoch_seen = self.epoch_seen or not await self._registry.lost()

    def peek(self, site_id: str) -> Site | None:
        """The cached config, however old, without asking the store (the outage path)."""
        entry = self._entries.get(site_id)
        return entry[1] if entry is not None else None

    async def get(self, site_id: str) -> Site:
        site_id = validate_site_id(site_id)
        now = self._clock.now()
        entry = self._entries.get(site_id)
        if entry is None or now - entry[0] > SITE_CACHE_TTL:
            try:
                site: Site | None = await self._registry.get(site_id)
            except UnknownSite:
                known = entry[1] if entry is not None else None
                # Asked on a miss only: on a Cluster the epoch key lives on one node.
                lost = await self._registry.lost()
                self.epoch_seen = self.epoch_seen or not lost
                # The store lost its data (FLUSHALL, a restart without persistence) and the
                # aggregator has not restored the registry yet: a site this process knew is
                # still ours, and its hits count, to be added to what the restore brings
                # back; one it has no copy of may be ours too (its hits are spooled, and
                # judged when the registry is back), so it is not called unknown. (A store
                # that never had an epoch is new, not lost.)
                if lost and known is None and self.epoch_seen:
                    raise StoreRestoring(
                        "the store lost its data and is being restored from the snapshot; "
                        "try again in a few seconds"
                    ) from None
                site = known if lost else None
            except RedisError:
                if entry is None:
                    raise
                site = entry[1]  # the store is down: the last known config still holds
            entry = (now, site)
            self._entries.put(site_id, now, site)
        if entry[1] is None:
            raise UnknownSite(site_id)
        return entry[1]

    def forget(self, site_id: str) -> None:
        self._entries.forget(site_id)
