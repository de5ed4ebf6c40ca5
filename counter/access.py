"""Per-site keys: ingest keys that let a site's own server count its visitors' hits, and read
tokens that open the site's dashboard and its exports (issue 15).

A key is shown once, when it is made, as ``vsk.<site>.<id>.<secret>`` (ingest) or
``vsr.<site>.<id>.<secret>`` (read). The store keeps only a SHA-256 of the whole key, in the
site's own hash (:attr:`counter.keys.SiteKeys.access`, one Cluster slot with the site), with
its name and when it was made or revoked. The secret is 32 random bytes, so a fast hash is
enough: there is nothing to guess, only a value to match. A key presented is looked up by its
site and id, and its hash compared with :func:`hmac.compare_digest`, whose time does not
depend on how much of it matches. The site written in the key tells a key of another site
(403) from no key at all (401) without a search across sites.

A worker keeps what it looked up for :data:`KEY_CACHE_TTL`, so a revoked key stops working
within that long everywhere, and keeps the last answer while the store does not answer.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from counter.clock import Clock
from counter.errors import InvalidInput, KeyForbidden, KeyRefused, UnknownKey
from counter.keys import Keys, validate_site_id
from counter.lru import Recent

KEY_CACHE_TTL = timedelta(seconds=5)
KEY_CACHE_SIZE = 10_000
MAX_KEYS_PER_SITE = 100  # revoked ones included: the list stays short enough to read at once
MAX_NAME_CHARS = 100
MAX_KEY_CHARS = 200  # "vsk." + a site id (100) + "." + id + "." + secret, with room to spare


class KeyScope(StrEnum):
    ingest = "ingest"  # POST /api/hit and /api/hits from the site's server
    read = "read"  # the dashboard, its data and the history export


PREFIXES = {KeyScope.ingest: "vsk", KeyScope.read: "vsr"}
SCOPE_OF = {prefix: scope for scope, prefix in PREFIXES.items()}
WHAT = {KeyScope.ingest: "count hits", KeyScope.read: "read a site's figures"}


@dataclass(frozen=True, slots=True)
class AccessKey:
    """What the store keeps of a key: never the key itself."""

    id: str
    site: str
    scope: KeyScope
    name: str
    hash: str  # SHA-256 (hex) of the whole key
    created_at: str  # ISO-8601
    revoked_at: str | None = None

    def public(self) -> dict[str, object]:
        """The key as listed: everything but its hash."""
        return {k: v for k, v in asdict(self).items() if k != "hash"}

    @classmethod
    def decode(cls, raw: bytes | str) -> AccessKey:
        data = orjson.loads(raw)
        return cls(**{**data, "scope": KeyScope(data["scope"])})


def digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


# Compared against when the key's id is not found, so a miss costs the same work as a match.
_NO_HASH = digest("no such key")


def parse_key(presented: str) -> tuple[KeyScope, str, str]:
    """``(scope, site, id)`` of a key as written, or KeyRefused (never quoting the key)."""
    if len(presented) > MAX_KEY_CHARS:
        presented = ""  # refused below, like any other string that is not a key
    prefix, _, rest = presented.partition(".")
    site, _, tail = rest.rpartition(".")  # the secret has no dot; the site may
    site, _, key_id = site.rpartition(".")
    if prefix not in SCOPE_OF or not site or not key_id or not tail:
        raise KeyRefused(
            "not a visitor-stats key: keys look like vsk.<site>.<id>.<secret> (ingest) or "
            "vsr.<site>.<id>.<secret> (read); make one with `visitor-stats sites keys add`"
        )
    try:
        site = validate_site_id(site)
    except InvalidInput:
        raise KeyRefused("the key does not name a valid site") from None
    return SCOPE_OF[prefix], site, key_id


def bearer(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None without the header;
    KeyRefused for another scheme or an empty token."""
    if authorization is None:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise KeyRefused("send Authorization: Bearer <site key>")
    return token


def same_site(key_site: str, site_id: str | None) -> None:
    """KeyForbidden unless ``site_id`` (as a request names it; None names none) is the site
    of the key."""
    if site_id is None:
        return
    wanted = validate_site_id(site_id)
    if wanted != key_site:
        raise KeyForbidden(
            f"the key belongs to site {key_site!r}; it cannot be used for {wanted!r}"
        )


async def issue_key(
    redis: Redis, keys: Keys, site_id: str, scope: KeyScope, name: str, now: datetime
) -> tuple[AccessKey, str]:
    """Make a key for ``site_id`` (which the caller has checked exists): its record, and the
    key itself, which is shown this once and kept nowhere."""
    site_id = validate_site_id(site_id)
    name = name.strip()
    if len(name) > MAX_NAME_CHARS or any(ord(ch) < 32 for ch in name):
        raise InvalidInput(f"a key's name is at most {MAX_NAME_CHARS} printable characters")
    access = keys.site(site_id).access
    if await redis.hlen(access) >= MAX_KEYS_PER_SITE:
        raise InvalidInput(f"site {site_id!r} has {MAX_KEYS_PER_SITE} keys already")
    while True:
        key_id = secrets.token_hex(4)
        key = f"{PREFIXES[scope]}.{site_id}.{key_id}.{secrets.token_urlsafe(32)}"
        record = AccessKey(
            id=key_id,
            site=site_id,
            scope=scope,
            name=name,
            hash=digest(key),
            created_at=now.isoformat(),
        )
        if await redis.hsetnx(access, key_id, orjson.dumps(asdict(record))):
            return record, key


async def list_keys(redis: Redis, keys: Keys, site_id: str) -> list[AccessKey]:
    """A site's keys, revoked ones too, oldest first."""
    raw = await redis.hvals(keys.site(validate_site_id(site_id)).access)
    return sorted((AccessKey.decode(r) for r in raw), key=lambda k: (k.created_at, k.id))


async def revoke_key(
    redis: Redis, keys: Keys, site_id: str, key_id: str, now: datetime
) -> AccessKey:
    """Mark a key revoked (kept, so the list says when); UnknownKey when it is not the
    site's. Revoking twice keeps the first time."""
    access = keys.site(validate_site_id(site_id)).access
    raw = await redis.hget(access, key_id[:64])
    if raw is None:
        raise UnknownKey(f"site {site_id!r} has no key {key_id[:64]!r}")
    record = AccessKey.decode(raw)
    if record.revoked_at is None:
        record = AccessKey(**{**asdict(record), "revoked_at": now.isoformat()})
        await redis.hset(access, record.id, orjson.dumps(asdict(record)))
    return record


class KeyRing:
    """One process's check of presented keys, with a few seconds' copy of each record."""

    def __init__(self, redis: Redis, keys: Keys, clock: Clock) -> None:
        self._redis = redis
        self._keys = keys
        self._clock = clock
        self._records: Recent[tuple[str, str], AccessKey | None] = Recent(KEY_CACHE_SIZE)

    async def verify(self, presented: str, scope: KeyScope, site_id: str | None = None) -> str:
        """The site a genuine, unrevoked key of ``scope`` belongs to; KeyRefused (401) for
        anything else, KeyForbidden (403) for a genuine key of another scope, or of another
        site than ``site_id`` when one is named."""
        key_scope, key_site, key_id = parse_key(presented)
        record = await self._record(key_site, key_id)
        stored = record.hash if record is not None else _NO_HASH
        genuine = hmac.compare_digest(digest(presented), stored)
        if record is None or not genuine or record.scope is not key_scope:
            raise KeyRefused("the key is not known (mistyped, or of a removed site)")
        if record.revoked_at is not None:
            raise KeyRefused(f"the key {record.id!r} was revoked at {record.revoked_at}")
        if record.scope is not scope:
            raise KeyForbidden(f"a {record.scope.value} key cannot {WHAT[scope]}")
        if site_id is not None:
            same_site(record.site, site_id)
        return record.site

    async def _record(self, site_id: str, key_id: str) -> AccessKey | None:
        now = self._clock.now()
        cache_key = (site_id, key_id)
        entry = self._records.get(cache_key)
        if entry is not None and timedelta(0) <= now - entry[0] <= KEY_CACHE_TTL:
            return entry[1]
        try:
            raw = await self._redis.hget(self._keys.site(site_id).access, key_id[:64])
        except RedisError:
            if entry is None:
                raise
            return entry[1]  # the store is down: the last answer still holds
        record = AccessKey.decode(raw) if raw is not None else None
        self._records.put(cache_key, now, record)
        return record
