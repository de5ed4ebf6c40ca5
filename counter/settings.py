"""Settings, read from ``VISITOR_STATS_*`` environment variables once, in the entry point."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values people paste from examples; an admin token equal to one of these is refused.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "changethis", "change-me", "secret", "password", "admin", "token", "xxx"}
)


class RedisMode(StrEnum):
    standalone = "standalone"
    cluster = "cluster"
    sentinel = "sentinel"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="VISITOR_STATS_", extra="ignore")

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
    closed_day_grace_s: int = Field(default=2 * 86400, ge=0)
    # How often a changed site's durable snapshot is rewritten at most: after a FLUSHALL, hits
    # of up to this long before it can be missing (the store itself lost them).
    snapshot_interval_s: float = Field(default=30, ge=0, le=3600)

    spool_max_bytes: int = Field(default=64 * 1024 * 1024, ge=0)
    hit_id_ttl_s: int = Field(default=900, ge=60, le=86400)
    max_body_bytes: int = Field(default=4096, ge=256, le=65536)
    trusted_proxies: list[str] = Field(default_factory=lambda: ["127.0.0.1/8", "::1/128"])
    admin_token: SecretStr | None = None

    # Flood caps, per fixed minute (0: no cap). Hits over a cap are answered 200 with the box
    # but not counted, and show up as excluded "rate_limited".
    rate_per_visitor_per_min: int = Field(default=30, ge=0, le=100_000)
    rate_per_address_per_min: int = Field(default=600, ge=0, le=1_000_000)
    rate_per_site_per_min: int = Field(default=60_000, ge=0, le=100_000_000)
    # A referrer-spam host list (one host a line) used in addition to the one shipped.
    referrer_spam_file: Path | None = None

    @field_validator("admin_token")
    @classmethod
    def _refuse_placeholder(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
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
