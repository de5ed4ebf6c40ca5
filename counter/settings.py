"""Settings, read from ``VISITOR_STATS_*`` environment variables once, in the entry point."""

from __future__ import annotations

import ipaddress
import re
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values people paste from examples; an admin token equal to one of these is refused.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "changethis", "change-me", "secret", "password", "admin", "token", "xxx"}
)
# Words of an example value ("changeme-secret-123", "replace_me_with_a_token"): a token that
# holds one, once its separators are dropped, was pasted, not made.
PLACEHOLDER_WORDS = ("changeme", "changethis", "replaceme", "yoursecret", "yourtoken")


class RedisMode(StrEnum):
    standalone = "standalone"
    cluster = "cluster"
    sentinel = "sentinel"


class Settings(BaseSettings):
    # hide_input_in_errors: a refused value can be a secret (the admin token, a password in
    # REDIS_URL), and a ValidationError's text quotes every refused input otherwise.
    model_config = SettingsConfigDict(
        env_prefix="VISITOR_STATS_", extra="ignore", hide_input_in_errors=True
    )

    redis_url: str | None = Field(
        default=None, description="unset: start or attach to the embedded server in data_dir"
    )
    redis_mode: RedisMode = RedisMode.standalone
    redis_sentinel_master: str = "mymaster"
    redis_timeout_s: float = Field(default=0.25, gt=0, le=10)
    hit_budget_s: float = Field(default=0.3, gt=0, le=30)
    redis_batch_timeout_s: float = Field(default=5.0, gt=0, le=60)
    data_dir: Path = Path("./var")
    key_prefix: str = Field(default="vs", pattern=r"^[a-z][a-z0-9_-]{0,31}$")

    online_window_s: int = Field(default=300, ge=30, le=3600)
    session_timeout_s: int = Field(default=1800, ge=60, le=86400)
    aggregate_interval_s: float = Field(default=5, gt=0, le=3600)
    # A worker answers /api/stats from its own last read for this long (0: read every time).
    # The summary changes once an aggregation pass, and the answer may be cached for 5 s
    # downstream anyway; one read a second per site and page keeps the store out of it.
    stats_cache_s: float = Field(default=1, ge=0, le=60)
    # Past that, a copy up to this old is answered once more at once while the worker reads the
    # page anew in the background (stale-while-revalidate, as the answer's Cache-Control lets a
    # CDN do for 30 s): a page read now and then never waits for the store. 0: every read past
    # stats_cache_s waits for the store.
    stats_stale_s: float = Field(default=30, ge=0, le=300)
    closed_day_grace_s: int = Field(default=2 * 86400, ge=0)
    # How often a changed site's durable snapshot is rewritten at most: after a FLUSHALL, hits
    # of up to this long before it can be missing (the store itself lost them).
    snapshot_interval_s: float = Field(default=30, ge=0, le=3600)

    spool_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    # Pageviews a worker keeps until a durable snapshot holds them (counter/record/journal.py):
    # at 1,000 hits/s and a snapshot every 30 s about 30,000; some 400 bytes each in memory.
    journal_max_entries: int = Field(default=200_000, ge=0)
    hit_id_ttl_s: int = Field(default=900, ge=60, le=86400)
    max_body_bytes: int = Field(default=4096, ge=256, le=65536)
    # POST /api/hits: up to 500 hits from a site's server (issue 15), each up to ~2 KB.
    max_batch_body_bytes: int = Field(default=1024 * 1024, ge=4096, le=16 * 1024 * 1024)
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1/8", "::1/128"])
    admin_token: SecretStr | None = None

    # What one client may hold of a worker (issue 12: a 200 MB admin body was read whole before
    # its 401, and slow or huge headers kept sockets open without end). Admin JSON is small.
    max_admin_body_bytes: int = Field(default=64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # From the first read of a body to its last byte; then 408 and the connection is closed.
    body_timeout_s: float = Field(default=10, gt=0, le=300)
    # From a connection's opening (or a request's first byte) to the end of its headers.
    header_timeout_s: float = Field(default=10, gt=0, le=300)
    # Request line and headers together, and the number of header lines. 32 KiB is nginx's
    # default room for them (4 x 8k): a portal's cookies for its parent domain reach the stats
    # host too, and a long X-Forwarded-For chain is bounded where it is read.
    max_header_bytes: int = Field(default=32 * 1024, ge=4096, le=1024 * 1024)
    max_headers: int = Field(default=100, ge=16, le=1000)
    # Beyond this many open connections (or requests in progress) a worker answers 503.
    max_connections_per_worker: int = Field(default=1000, ge=10, le=100_000)
    keep_alive_s: int = Field(default=5, ge=1, le=300)
    # Live-box streams (GET /api/stats/stream) a worker keeps open; beyond it 503. Each holds a
    # connection, on top of max_connections_per_worker (api/limits.py), so hits keep their room.
    streams_per_worker: int = Field(default=1000, ge=1, le=100_000)

    # Flood caps, per fixed minute (0: no cap). Hits over a cap are answered 200 with the box
    # but not counted, and show up as excluded "rate_limited".
    rate_per_visitor_per_min: int = Field(default=30, ge=0, le=100_000)
    rate_per_address_per_min: int = Field(default=600, ge=0, le=1_000_000)
    rate_per_site_per_min: int = Field(default=60_000, ge=0, le=100_000_000)
    # Inflation within those caps: one address rotating its user agent makes a new visitor per
    # hit; it may bring this many distinct visitors a minute, view one page this often, and add
    # this many pages never seen before (each a field kept for good) a minute.
    rate_visitors_per_address_per_min: int = Field(default=100, ge=0, le=100_000)
    rate_per_page_per_address_per_min: int = Field(default=60, ge=0, le=100_000)
    rate_new_pages_per_address_per_min: int = Field(default=30, ge=0, le=100_000)
    # Past half the site cap, an address with more hits than this in the minute is refused
    # (a flood must not use up the cap of the visitors who come after it); past the cap, all.
    rate_shed_above_per_address_per_min: int = Field(default=10, ge=0, le=1_000_000)
    # The pages whose views a site keeps; beyond it the aggregator drops the least viewed.
    max_pages_per_site: int = Field(default=100_000, ge=100, le=10_000_000)
    # A referrer-spam host list (one host a line) used in addition to the one shipped.
    referrer_spam_file: Path | None = None

    @field_validator("admin_token")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and _is_placeholder(value.get_secret_value()):
            raise ValueError("VISITOR_STATS_ADMIN_TOKEN is a placeholder; set a real secret")
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("VISITOR_STATS_ADMIN_TOKEN must be at least 16 characters")
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            ipaddress.ip_network(network, strict=False)
        return value


def _is_placeholder(secret: str) -> bool:
    words = re.sub(r"[\s_.-]+", "", secret.lower())
    return secret.strip().lower() in PLACEHOLDER_SECRETS or any(
        word in words for word in PLACEHOLDER_WORDS
    )
