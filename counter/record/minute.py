"""What every hit of one site in one minute shares, made once a minute instead of per hit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from counter.keys import Keys
from counter.periods import SPANS, Periods, seconds_until_end_of_day
from counter.sites import Site

EXCLUDED_TTL_S = 3 * 86400
# A rate key covers one fixed minute; it outlives the minute a little, then expires.
RATE_WINDOW_S = 60
RATE_TTL_S = 2 * RATE_WINDOW_S
# The expiry record_hit.lua gives each span's visitors HLL, in the order of its keys.
HLL_TTLS_S = tuple(span.hll_ttl_s for span in SPANS)


@dataclass(frozen=True, slots=True)
class HitMinute:
    """What every hit of one site in one minute shares: its local day, the keys of
    ``record_hit.lua`` and the exclusion counts' TTL. A minute never spans local midnight (zone
    offsets are whole minutes), so the day holds for all of it; the TTL, made at the minute's
    first hit, runs at most a minute long, on three days."""

    site: Site
    minute: int
    today: str  # the local date, ISO
    keys: tuple[str, ...]
    excluded_ttl_s: int


class Minutes:
    """Each site's current :class:`HitMinute`, for one process."""

    def __init__(self, keys: Keys) -> None:
        self._keys = keys
        self._known: dict[str, HitMinute] = {}

    def of(self, site: Site, now: datetime) -> HitMinute:
        """The site's minute of ``now``, made once a minute (and when its config changes)."""
        minute = int(now.timestamp()) // RATE_WINDOW_S
        known = self._known.get(site.id)
        if known is not None and known.minute == minute and known.site is site:
            return known
        periods = Periods.of(now, site.tz, site.first_weekday)
        made = HitMinute(
            site=site,
            minute=minute,
            today=periods.today.isoformat(),
            keys=self._keys.site(site.id).record_hit_keys(periods, minute),
            excluded_ttl_s=EXCLUDED_TTL_S + seconds_until_end_of_day(now, site.tz),
        )
        self._known[site.id] = made
        return made
