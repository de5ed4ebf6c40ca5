"""Every Redis key visitor-stats uses is built here, and nowhere else.

Shape: ``<prefix>:{<site>}:<measure>:<granularity>[:<bucket>]``. The ``{site}`` hash tag puts
all of a site's keys in one Redis Cluster slot, so one Lua script can touch them together.
A site id is validated before it can reach a key.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from counter.errors import InvalidInput
from counter.periods import DAY, PERIODS, SPANS, TOTAL, Periods, Span

_SITE_ID = re.compile(r"[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?")


def validate_site_id(raw: object) -> str:
    """Return the canonical (lower-case) site id, or raise InvalidInput saying why."""
    if not isinstance(raw, str) or not raw:
        raise InvalidInput("site must be a non-empty string")
    site = raw.strip().lower()
    if not _SITE_ID.fullmatch(site):
        raise InvalidInput(
            "site id may hold only letters, digits, '.', '-' and '_' (at most 100, "
            "no spaces, braces or control characters)"
        )
    return site


def period_offset(measure: str, span: Span, start: date) -> str:
    """The field of ``SiteKeys.offsets`` carried into one period of ``span`` (the one that
    begins ``start``), bucketed as its visitors HLL: ``visits@year:2026``,
    ``pageviews@month:2026-11``. A measure's name holds no '@', so the two never meet."""
    return f"{measure}@{span.key}:{start.strftime(span.bucket_format)}"


@dataclass(frozen=True, slots=True)
class Keys:
    """Key names for one prefix (the deployment, or one test's isolated namespace)."""

    prefix: str

    # Global keys share the `{_registry}` hash tag (no site id can start with "_"), so the
    # registry and its epoch marker change together in one slot.
    @property
    def sites(self) -> str:
        return f"{self.prefix}:{{_registry}}:sites"

    @property
    def epoch(self) -> str:
        """HASH id, generation: which store this is, and the last snapshot it has seen."""
        return f"{self.prefix}:{{_registry}}:epoch"

    @property
    def last_pass(self) -> str:
        """STRING ISO-8601 instant (UTC): when the last successful aggregation pass finished.
        Written by the aggregator after each pass; ``/readyz`` reads it with one GET."""
        return f"{self.prefix}:{{_registry}}:pass:last"

    @property
    def leader(self) -> str:
        return f"{self.prefix}:aggregator:leader"

    def site(self, site: str) -> SiteKeys:
        return SiteKeys(f"{self.prefix}:{{{site}}}")


@dataclass(frozen=True, slots=True)
class SiteKeys:
    base: str  # "<prefix>:{<site>}"

    @property
    def config(self) -> str:
        """STRING: the site's settings as JSON."""
        return f"{self.base}:site:config"

    @property
    def pageviews_by_day(self) -> str:
        """HASH local date -> pageviews; written by each hit, so it is the daily history."""
        return f"{self.base}:pageviews:day"

    @property
    def visits_by_day(self) -> str:
        """HASH local date -> visits; written by each hit that starts a visit."""
        return f"{self.base}:visits:day"

    @property
    def visitors_by_day(self) -> str:
        """HASH local date -> unique visitors; written once when the day is closed."""
        return f"{self.base}:visitors:day"

    @property
    def totals(self) -> str:
        """HASH measure -> all-time count (before adjustments)."""
        return f"{self.base}:total:all"

    @property
    def offsets(self) -> str:
        """HASH measure -> audited adjustment offset added to the count; and, for an old
        counter's figures of whole periods (NukeViet's year/2026), :func:`period_offset`
        fields -> what its period held beyond the days it brought (carry_totals.lua). In
        this hash because the durable snapshot saves and restores it whole."""
        return f"{self.base}:offset:all"

    @property
    def adjustments(self) -> str:
        """LIST of JSON ledger entries, oldest first."""
        return f"{self.base}:adjustment:ledger"

    @property
    def open_days(self) -> str:
        """SET of local dates that saw hits and are not closed yet."""
        return f"{self.base}:open:day"

    @property
    def last_seen(self) -> str:
        """ZSET visitor id -> last seen (ms since epoch): online and session state."""
        return f"{self.base}:visitor:seen"

    @property
    def reading(self) -> str:
        """HASH visitor id -> the page of its last pageview or heartbeat: who reads what now.
        Let go with the visitor's presence (prune_presence.lua)."""
        return f"{self.base}:reading:visitor"

    @property
    def online_pages(self) -> str:
        """ZSET page path -> readers: the visitors seen since :attr:`online_cursor` whose last
        hit was on the page. The hit script moves a visitor from page to page; each pass
        moves the cursor to the online window's start and lets go of those it passed."""
        return f"{self.base}:online:page"

    @property
    def online_cursor(self) -> str:
        """STRING ms: :attr:`online_pages` counts the visitors seen since. Missing (a new
        store, a loss, or its hour is up): the next pass counts every reader afresh."""
        return f"{self.base}:online:cursor"

    @property
    def online_next(self) -> str:
        """ZSET page path -> readers: :attr:`online_pages` counted afresh, while it is counted
        (live_pages.lua; the hit script moves the visitors already counted)."""
        return f"{self.base}:online:page:next"

    @property
    def online_next_at(self) -> str:
        """HASH since, upto: :attr:`online_next` counts the visitors seen from ``since`` to
        before ``upto`` so far."""
        return f"{self.base}:online:next"

    @property
    def bots_seen(self) -> str:
        """ZSET crawler (a short hash of its user agent) -> last seen ms: crawlers online,
        counted apart from visitors ("Máy chủ tìm kiếm")."""
        return f"{self.base}:bots:seen"

    @property
    def page_views(self) -> str:
        """HASH normalised page path -> all-time views."""
        return f"{self.base}:pageviews:page"

    @property
    def epoch(self) -> str:
        """HASH id, generation: the snapshot generation this site's data has reached."""
        return f"{self.base}:epoch:marker"

    @property
    def summary(self) -> str:
        """STRING: the JSON summary the aggregator writes and /api/stats reads."""
        return f"{self.base}:summary:current"

    def visitors_of(self, span: Span, start: date) -> str:
        """HLL of the visitors of one period of ``span`` (the period that begins ``start``);
        written by each hit, read by the pass, counted into the day's row when it closes."""
        return f"{self.base}:visitors:{span.key}:{start.strftime(span.bucket_format)}"

    @property
    def page_titles(self) -> str:
        """HASH normalised page path -> its latest title; written by a pageview that carries
        one (record_hit.lua), pruned by the aggregator to the pages of the top sets."""
        return f"{self.base}:title:page"

    @property
    def top_total(self) -> str:
        """ZSET page path -> all-time views (page_views' figure: ZADD GT by each hit, ZADD by
        carry_pages.lua for a page carried over or set by hand): the all-time most viewed;
        trimmed by the aggregator to counter/figures/top.py's TOP_KEEP."""
        return f"{self.base}:top:all"

    def top_of(self, span: Span, start: date) -> str:
        """ZSET page path -> pageviews in one period of ``span`` (the one that begins
        ``start``), bucketed like its visitors HLL; ZINCRBY by each hit, trimmed by the
        aggregator to TOP_KEEP, expiring after the next period as the HLL does."""
        return f"{self.base}:top:{span.key}:{start.strftime(span.bucket_format)}"

    def top_key(self, periods: Periods, period: str) -> str:
        """The sorted set ranking the pages of ``period`` (a name of PERIODS, or TOTAL)."""
        for span in SPANS:
            if period in (span.current, span.previous):
                return self.top_of(span, periods.starts[period])
        if period == TOTAL:
            return self.top_total
        raise InvalidInput(f"period must be one of {', '.join((*PERIODS, TOTAL))}")

    def top_keys(self, periods: Periods) -> list[str]:
        """Every top set that can still be read: each period's, then all time's."""
        return [*(self.top_key(periods, period) for period in PERIODS), self.top_total]

    def visitors_hll(self, day: date) -> str:
        """HLL of one local day's visitors."""
        return self.visitors_of(DAY, day)

    def excluded(self, day: date) -> str:
        """HASH reason -> hits excluded on that local day."""
        return f"{self.base}:excluded:day:{day.isoformat()}"

    def salt(self, day: date) -> str:
        return f"{self.base}:salt:day:{day.isoformat()}"

    def hit_ids(self, minute: int) -> str:
        """SET of the hit ids counted in one minute (by the hit's own time): a replayed hit
        whose first attempt did reach the store is not counted twice."""
        return f"{self.base}:hit:minute:{minute}"

    def rate(self, minute: int) -> str:
        """HASH counter -> hits in one fixed minute (``minute`` = minutes since the epoch):
        one field per visitor id and per hashed client address, and ``#site``. Never an IP."""
        return f"{self.base}:rate:minute:{minute}"

    # -- each script's KEYS, in the order its header lists them ----------------------------
    def record_hit_keys(self, periods: Periods, minute: int) -> tuple[str, ...]:
        """record_hit.lua: its fixed keys, then the top set of each span's current period, then
        the visitors HLL of each (both the day's first)."""
        return (
            self.last_seen,
            self.pageviews_by_day,
            self.visits_by_day,
            self.totals,
            self.page_views,
            self.open_days,
            self.visitors_by_day,
            self.summary,
            self.rate(minute),
            self.excluded(periods.today),
            self.hit_ids(minute),
            self.epoch,
            self.page_titles,
            self.top_total,
            self.reading,
            self.online_pages,
            self.online_cursor,
            self.online_next,
            self.online_next_at,
            *(self.top_of(span, periods.starts[span.current]) for span in SPANS),
            *(self.visitors_of(span, periods.starts[span.current]) for span in SPANS),
        )

    def live_pages_keys(self) -> list[str]:
        """live_pages.lua."""
        return [
            self.last_seen,
            self.reading,
            self.online_pages,
            self.online_cursor,
            self.online_next,
            self.online_next_at,
        ]

    def online_expire_keys(self) -> list[str]:
        """online_expire.lua."""
        return [self.last_seen, self.reading, self.online_pages, self.online_cursor]

    def prune_presence_keys(self) -> list[str]:
        """prune_presence.lua."""
        return [self.last_seen, self.reading, self.bots_seen, self.online_cursor]

    def read_site_keys(self, periods: Periods) -> list[str]:
        """read_site.lua: its fixed keys, then one visitors HLL per period, in PERIODS order."""
        hlls = {}
        for span in SPANS:
            for period in (span.current, span.previous):
                hlls[period] = self.visitors_of(span, periods.starts[period])
        return [
            self.pageviews_by_day,
            self.visits_by_day,
            self.visitors_by_day,
            self.totals,
            self.offsets,
            self.last_seen,
            self.excluded(periods.today),
            *(hlls[period] for period in PERIODS),
        ]

    def close_day_keys(self, day: date) -> list[str]:
        return [self.open_days, self.visitors_by_day, self.totals, self.visitors_hll(day)]

    def import_day_keys(self) -> list[str]:
        return [self.pageviews_by_day, self.visits_by_day, self.visitors_by_day, self.totals]

    def adjust_total_keys(self, today: date) -> list[str]:
        return [
            self.totals,
            self.offsets,
            self.adjustments,
            self.visitors_by_day,
            self.visitors_hll(today),
        ]

    def snapshot_hll_keys(self, periods: Periods) -> list[str]:
        """snapshot_site.lua's KEYS after :meth:`snapshot_keys`: the visitors HLL of each
        span's current period, so a restore brings the day's and month's visitors back."""
        return [self.visitors_of(span, periods.starts[span.current]) for span in SPANS]

    def restore_keys(self, hlls: list[str]) -> list[str]:
        """restore_site.lua: :meth:`snapshot_keys`, the open days, then each HLL of the
        snapshot (by its name as snapshotted) with its scratch key."""
        pairs = [k for key in hlls for k in (key, self.scratch(key))]
        return [*self.snapshot_keys(), self.open_days, *pairs]

    def scratch(self, key: str) -> str:
        """STRING: an HLL of a snapshot while restore_site.lua merges it into ``key`` (one of
        this site's keys, so the same slot); deleted in the same call."""
        return f"{key}:restore"

    def snapshot_keys(self) -> list[str]:
        """snapshot_site.lua and restore_site.lua: everything durable about the site."""
        return [
            self.epoch,
            self.config,
            self.totals,
            self.offsets,
            self.adjustments,
            self.pageviews_by_day,
            self.visits_by_day,
            self.visitors_by_day,
            self.page_views,
            self.access,
            self.page_imports,
            self.imported_days,
            self.page_adjustments,
        ]

    @property
    def access(self) -> str:
        """HASH key id -> JSON record of one ingest key or read token (counter/access.py):
        its site, scope, name, SHA-256 of the key, made and revoked at. Never the key."""
        return f"{self.base}:access:key"

    # -- carrying an old counter over (counter/figures/carryover.py, pages.py) -------------
    @property
    def page_imports(self) -> str:
        """HASH "<source>|<path>" -> the views an import has carried into page_views for that
        page; written by carry_pages.lua, so a second run adds only the difference."""
        return f"{self.base}:pageviews:imported"

    @property
    def page_adjustments(self) -> str:
        """LIST of JSON entries, oldest first: each page's views set by hand (`pages set`)."""
        return f"{self.base}:pageviews:ledger"

    @property
    def imported_days(self) -> str:
        """HASH local date -> the import source that set that day's history row; a day the
        store counted itself is never overwritten by an old counter's figures."""
        return f"{self.base}:imported:day"

    def carry_pages_keys(self) -> list[str]:
        """carry_pages.lua: the pages' views, what each source carried in, the pages ledger,
        then the all-time most viewed (each changed page takes its new figure there)."""
        return [self.page_views, self.page_imports, self.page_adjustments, self.top_total]

    def carry_totals_keys(self) -> list[str]:
        return [self.totals, self.offsets, self.adjustments]
