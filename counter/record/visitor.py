"""The cookieless visitor id, and which address a request really comes from.

A visitor is a keyed hash of (site, client IP, user agent) under a salt that lives one local day
(plus an hour's grace) and then expires in the store. The IP and user agent are hashed in
memory and never stored or logged; after the salt is gone nobody can link two days.
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache

from redis.asyncio import Redis

from counter.keys import SiteKeys
from counter.periods import seconds_until_end_of_day
from counter.sites import Site

SALT_GRACE_S = 3600


# Each X-Forwarded-For hop is an address (45 chars at most for IPv6 text); a header longer
# than this is cut from the left, where a client can write anything, before it is parsed.
MAX_FORWARDED_CHARS = 1024


def visitor_id(salt: bytes, site: str, client_ip: str, user_agent: str) -> str:
    material = b"\0".join((site.encode(), client_ip.encode(), user_agent.encode()))
    return hashlib.blake2b(material, key=salt[:64], digest_size=12).hexdigest()


def address_id(salt: bytes, site: str, client_ip: str) -> str:
    """The flood-cap key of a client address: a salted hash, never the address itself.

    An IPv6 host usually owns a whole /64, so IPv6 addresses count per /64 network.
    """
    ip = parsed_address(client_ip)
    network = client_ip.encode() if ip is None else ip.packed[: 8 if ip.version == 6 else 4]
    material = b"\0".join((b"address", site.encode(), network))
    return "a" + hashlib.blake2b(material, key=salt[:64], digest_size=12).hexdigest()


class SaltBook:
    """Each site's salt of the local day, fetched from the store once per day per process."""

    def __init__(self) -> None:
        self._salts: dict[tuple[str, date], bytes] = {}
        self._newest: date | None = None
        self._local: dict[date, bytes] = {}

    def local(self, day: date) -> bytes:
        """A salt of this process alone for ``day``, never stored: for hits spooled while the
        store (and so the shared salt) is out of reach."""
        salt = self._local.get(day)
        if salt is None:
            self._local = {day: secrets.token_bytes(32)}
            salt = self._local[day]
        return salt

    def cached(self, site_id: str, day: date) -> bytes | None:
        """The salt if this process has it (no store call): the outage spool's case."""
        return self._salts.get((site_id, day))

    async def salt(
        self, redis: Redis, keys: SiteKeys, site: Site, day: date, now: datetime
    ) -> bytes:
        cached = self._salts.get((site.id, day))
        if cached is not None:
            return cached
        # SET NX: every process and replica agrees on the first salt written for the day.
        # The relative TTL ends it an hour after the local day, well within 48 hours.
        ttl_s = seconds_until_end_of_day(now, site.tz) + SALT_GRACE_S
        async with redis.pipeline(transaction=False) as pipe:
            pipe.set(keys.salt(day), secrets.token_bytes(32), nx=True, ex=ttl_s)
            pipe.get(keys.salt(day))
            _, salt = await pipe.execute()
        if self._newest is None or day > self._newest:
            # Once per new day, not per miss (that was quadratic in the number of sites).
            # Yesterday stays: sites in other timezones may still be on it.
            self._newest = day
            self._salts = {k: v for k, v in self._salts.items() if k[1] >= day - timedelta(days=1)}
        self._salts[(site.id, day)] = salt
        return bytes(salt)


@lru_cache(maxsize=64)
def _networks(
    trusted: tuple[str, ...],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(n, strict=False) for n in trusted)


# Parsed addresses and their verdicts, kept for the addresses seen lately: a hit parses its
# client's address three times (its hop, the trust check, its flood-cap key), a visitor sends
# several hits, and the proxy's own address comes with every hit; ipaddress's parser was a
# fifth of a hit's own work. Process memory only, as the hits themselves.
ADDRESSES_KEPT = 16_384


@lru_cache(maxsize=ADDRESSES_KEPT)
def parsed_address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """``text`` as an address, or None when it is not one."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@lru_cache(maxsize=ADDRESSES_KEPT)
def _is_trusted(
    address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
) -> bool:
    ip = parsed_address(address)
    return ip is not None and any(ip in network for network in networks)


@lru_cache(maxsize=ADDRESSES_KEPT)
def _hop_address(hop: str) -> str | None:
    """One X-Forwarded-For hop as a canonical address (``1.2.3.4:80`` and ``[::1]:80`` too)."""
    hop = hop.strip()
    if hop.startswith("[") and "]" in hop:
        hop = hop[1 : hop.index("]")]
    elif hop.count(":") == 1:
        hop = hop.partition(":")[0]
    ip = parsed_address(hop)
    return None if ip is None else str(ip)


def client_ip(peer: str | None, forwarded_for: str | None, trusted: Sequence[str]) -> str:
    """The client's address: X-Forwarded-For is believed only when the peer is a trusted proxy.

    Walking the header from the right, the first address that is not a trusted proxy is the
    client (the left part can be written by the client itself). A hop that is not an address
    stops the walk: the last address vouched for (a trusted proxy, else the peer) stands.
    """
    peer = peer or ""
    networks = _networks(tuple(trusted))
    if not forwarded_for or not _is_trusted(peer, networks):
        return peer
    hops = forwarded_for[-MAX_FORWARDED_CHARS:].split(",")
    if len(forwarded_for) > MAX_FORWARDED_CHARS:
        hops = hops[1:]  # the cut left the first hop partial
    client = peer
    for hop in reversed(hops):
        address = _hop_address(hop)
        if address is None:
            break
        client = address
        if not _is_trusted(address, networks):
            break
    return client
