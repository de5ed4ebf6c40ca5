"""Domain errors, defined once; the API maps each class to one HTTP status."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError


class VisitorStatsError(Exception):
    """Base class: the message is shown to the client as ``detail``."""


class InvalidInput(VisitorStatsError):
    """Malformed request: bad JSON, wrong types, a site id that could break a key."""


class UnknownSite(VisitorStatsError):
    def __init__(self, site: str) -> None:
        super().__init__(f"unknown site {site!r}: add it with `visitor-stats sites add`")
        self.site = site


class OriginRejected(VisitorStatsError):
    """The hit's Origin (or Referer) is not one of the site's domains."""


class BodyTooLarge(VisitorStatsError):
    pass


class KeyRefused(VisitorStatsError):
    """No site key or read token, or one that is not genuine or was revoked (counter.access)."""


class KeyForbidden(VisitorStatsError):
    """A genuine key used for another site, or beyond its scope (a read token counting hits)."""


class UnknownKey(VisitorStatsError):
    """A key id that is not one of the site's (revoking it)."""


class StoreUnavailable(VisitorStatsError):
    """The store did not answer within the time budget."""


class StoreRestoring(StoreUnavailable):
    """The store lost its data and the aggregator has not restored the registry yet: a site
    this process never saw cannot be told from an unknown one until it has (one pass)."""


def store_error_kind(error: BaseException) -> str:
    """A closed set of store error kinds, for metric labels and logs."""
    if isinstance(error, RedisTimeoutError):
        return "timeout"
    if isinstance(error, RedisConnectionError):
        return "connection"
    if isinstance(error, ResponseError):
        return "response"
    return "other"


def package_version() -> str:
    try:
        return version("visitor-stats")
    except PackageNotFoundError:
        return "unknown"
