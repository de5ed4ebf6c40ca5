"""Each old counter read from its own schema on a real server (MariaDB for the CMS counters,
Valkey for the Redis ones), imported, and checked where people see it: the box, the history,
each page's views. The CREATE TABLE statements are the ones each project ships (named beside
them), with the CMS's table prefix filled in."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import secrets
from collections.abc import AsyncIterator
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import redis.asyncio

from aggregator.rollup import run_pass
from counter.clock import FakeClock
from counter.figures import carryover
from counter.figures.adjustments import adjust_total, list_adjustments
from counter.figures.history import read_history
from counter.figures.oldcounters import Options, SourceUnreadable, read_carry
from counter.figures.stats import read_stats
from counter.record.recorder import Recorder
from counter.sites import Measure, Site
from counter.storage.store import Store
from tests.counter.figures.mariadb import MariaDB
from tests.helpers import BROWSER_B, hit

VN = ZoneInfo("Asia/Ho_Chi_Minh")


def at(day: date, hour: int = 12, minute: int = 0) -> int:
    """Unix seconds of a local time in Hà Nội."""
    return int(datetime(day.year, day.month, day.day, hour, minute, tzinfo=VN).timestamp())


async def carry_in(
    store: Store, site: Site, fmt: str, source: str, **options: Any
) -> carryover.Outcome:
    opts = Options(source=source, site=site, now=store.clock.now(), **options)
    planned = await carryover.plan(store, site.id, read_carry(fmt, opts))
    outcome = await carryover.apply(store, planned)
    await run_pass(store, store.clock.now(), only=[site.id])
    return outcome


async def history(store: Store, first: date, last: date) -> dict[str, dict[str, int]]:
    rows = await read_history(store, "demo.local", first, last)
    return {r["date"]: r for r in rows if r["pageviews"] or r["visits"] or r["visitors"]}


def execute(connection: Any, *statements: str, rows: list[tuple[Any, ...]] | None = None) -> None:
    with connection.cursor() as cur:
        for statement in statements:
            if rows is not None and "%s" in statement:
                cur.executemany(statement, rows)
            else:
                cur.execute(statement)


# -- NukeViet ------------------------------------------------------------------------------

# nukeviet/nukeviet install/action_mysql.php (NV_LANG_DATA = vi)
NUKEVIET_COUNTER = """CREATE TABLE nv4_counter (
   c_type varchar(100) NOT NULL,
   c_val varchar(100) NOT NULL,
   last_update int(11) NOT NULL DEFAULT '0',
   c_count int(11) unsigned NOT NULL DEFAULT '0',
   vi_count int(11) unsigned NOT NULL DEFAULT '0',
   UNIQUE KEY c_type (c_type,c_val)
) ENGINE=MyISAM"""

# nukeviet/nukeviet modules/news/action_mysql.php ($lang = vi, $module_data = news)
NUKEVIET_CAT = """CREATE TABLE nv4_vi_news_cat (
  catid smallint(5) unsigned NOT NULL AUTO_INCREMENT,
  parentid smallint(5) unsigned NOT NULL DEFAULT '0',
  title varchar(250) NOT NULL,
  titlesite varchar(250) DEFAULT '',
  alias varchar(250) NOT NULL DEFAULT '',
  description text,
  descriptionhtml text,
  image varchar(255) DEFAULT '',
  viewdescription tinyint(2) NOT NULL DEFAULT '0',
  weight smallint(5) unsigned NOT NULL DEFAULT '0',
  sort smallint(5) NOT NULL DEFAULT '0',
  lev smallint(5) NOT NULL DEFAULT '0',
  viewcat varchar(50) NOT NULL DEFAULT 'viewcat_page_new',
  numsubcat smallint(5) NOT NULL DEFAULT '0',
  subcatid varchar(255) DEFAULT '',
  numlinks tinyint(2) unsigned NOT NULL DEFAULT '3',
  newday tinyint(2) unsigned NOT NULL DEFAULT '2',
  featured int(11) NOT NULL DEFAULT '0',
  ad_block_cat varchar(255) NOT NULL DEFAULT '',
  layout_func varchar(100) NOT NULL DEFAULT '' COMMENT 'Layout khi xem chuyên mục',
  keywords text,
  admins text,
  add_time int(11) unsigned NOT NULL DEFAULT '0',
  edit_time int(11) unsigned NOT NULL DEFAULT '0',
  groups_view varchar(255) DEFAULT '',
  status smallint(4) NOT NULL DEFAULT '1',
  PRIMARY KEY (catid),
  UNIQUE KEY alias (alias),
  KEY parentid (parentid),
  KEY status (status)
) ENGINE=MyISAM"""

NUKEVIET_ROWS = """CREATE TABLE nv4_vi_news_rows (
  id int(11) unsigned NOT NULL auto_increment,
  catid smallint(5) unsigned NOT NULL default '0',
  listcatid varchar(255) NOT NULL default '',
  topicid smallint(5) unsigned NOT NULL default '0',
  admin_id mediumint(8) unsigned NOT NULL default '0',
  author varchar(250) default '',
  sourceid mediumint(8) NOT NULL default '0',
  addtime int(11) unsigned NOT NULL default '0',
  edittime int(11) unsigned NOT NULL default '0',
  status tinyint(4) NOT NULL default '1',
  weight int(11) unsigned NOT NULL default '0',
  publtime int(11) unsigned NOT NULL default '0',
  exptime int(11) unsigned NOT NULL default '0',
  archive tinyint(1) unsigned NOT NULL default '0',
  title varchar(250) NOT NULL default '',
  alias varchar(250) NOT NULL default '',
  hometext text NOT NULL,
  homeimgfile varchar(255) default '',
  homeimgalt varchar(255) default '',
  homeimgthumb tinyint(4) NOT NULL default '0',
  inhome tinyint(1) unsigned NOT NULL default '0',
  allowed_comm varchar(255) default '',
  allowed_rating tinyint(1) unsigned NOT NULL default '0',
  external_link tinyint(1) unsigned NOT NULL default '0',
  hitstotal mediumint(8) unsigned NOT NULL default '0',
  hitscm mediumint(8) unsigned NOT NULL default '0',
  total_rating int(11) NOT NULL default '0',
  click_rating int(11) NOT NULL default '0',
  instant_active tinyint(1) NOT NULL default '0',
  instant_template varchar(100) NOT NULL default '',
  instant_creatauto tinyint(1) NOT NULL default '0',
  PRIMARY KEY (id),
  KEY catid (catid),
  KEY topicid (topicid),
  KEY admin_id (admin_id),
  KEY author (author),
  KEY title (title),
  KEY addtime (addtime),
  KEY edittime (edittime),
  KEY publtime (publtime),
  KEY exptime (exptime),
  KEY status (status),
  KEY instant_active (instant_active),
  KEY instant_creatauto (instant_creatauto)
) ENGINE=MyISAM"""

ARTICLE = "/vi/news/tin-tuc/khai-mac-hoi-nghi-7.html"


def load_nukeviet(connection: Any) -> None:
    execute(connection, NUKEVIET_COUNTER, NUKEVIET_CAT, NUKEVIET_ROWS)
    # Last updated this morning, 25 November: the day rows are November's (25 not over yet).
    counter = [
        ("c_time", "start", 0, 1262304000),
        ("c_time", "last", 0, at(date(2026, 11, 25), 9)),
        ("total", "hits", 0, 48_812_107),
        ("year", "2025", 0, 21_000_000),
        ("year", "2026", 0, 9_000_000),
        ("month", "Nov", 0, 700_000),
        ("month", "Oct", 0, 800_000),
        *[("day", f"{d:02d}", 0, 1000 + d) for d in range(1, 25)],
        ("day", "25", 0, 400),
        *[("day", f"{d:02d}", 0, 0) for d in range(26, 32)],
    ]
    execute(
        connection,
        "INSERT INTO nv4_counter (c_type, c_val, last_update, c_count) VALUES (%s, %s, %s, %s)",
        rows=counter,
    )
    execute(
        connection,
        "INSERT INTO nv4_vi_news_cat (catid, title, alias) VALUES (2, 'Tin tức', 'tin-tuc')",
        "INSERT INTO nv4_vi_news_rows (id, catid, title, alias, hometext, hitstotal) VALUES "
        "(7, 2, 'Khai mạc hội nghị', 'khai-mac-hoi-nghi', '', 2638), "
        "(8, 2, 'Chưa ai đọc', 'chua-ai-doc', '', 0)",
    )


async def test_nukeviet_keeps_the_box_the_month_and_every_articles_views(
    store: Store, site: Site, recorder: Recorder, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        outcome = await carry_in(store, site, "nukeviet", mariadb.url(name))

        stats = await read_stats(store, "demo.local", ARTICLE)
        assert stats["total"] == 48_812_107
        assert stats["page_views"] == 2638
        days = await history(store, date(2026, 11, 1), date(2026, 11, 25))
        assert len(days) == 24 and "2026-11-25" not in days
        assert days["2026-11-24"]["visits"] == 1024
        assert outcome.days_changed == 24 and outcome.pages_changed == 1

        answer = await hit(recorder, f"https://demo.local{ARTICLE}")
        assert answer.box["page_views"] == 2639

        # Repeating it changes nothing: no ledger entry, the live hit stays.
        ledger = await list_adjustments(store, "demo.local")
        assert (await carry_in(store, site, "nukeviet", mariadb.url(name))).entry is None
        assert await list_adjustments(store, "demo.local") == ledger
        again = await read_stats(store, "demo.local", ARTICLE)
        assert again["page_views"] == 2639 and again["total"] == 48_812_108


async def test_a_list_page_reads_each_articles_carried_views(
    store: Store, site: Site, mariadb: MariaDB, client: httpx.AsyncClient
) -> None:
    second = "/vi/news/tin-tuc/le-be-mac-9.html"
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        execute(
            connection,
            "INSERT INTO nv4_vi_news_rows (id, catid, title, alias, hometext, hitstotal) VALUES "
            "(9, 2, 'Lễ bế mạc', 'le-be-mac', '', 15)",
        )
        mariadb.grant(name)
        await carry_in(store, site, "nukeviet", mariadb.url(name))
    urls = [f"https://demo.local{ARTICLE}", second, "/vi/news/tin-tuc/chua-ai-doc-8.html"]
    answer = await client.get("/api/stats/pages", params={"site": site.id, "url": urls})
    assert answer.status_code == 200, answer.text
    assert answer.json()["page_views"] == dict(zip(urls, [2638, 15, 0], strict=True))


async def test_nukeviet_years_and_months_show_as_it_counted_them_after_the_switch(
    store: Store, site: Site, recorder: Recorder, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        await carry_in(store, site, "nukeviet", mariadb.url(name))
        stats = await read_stats(store, "demo.local")
        # Its day rows of November (1 to 24 imported) are only part of its year and month.
        assert (stats["year"], stats["last_year"]) == (9_000_000, 21_000_000)
        assert (stats["month"], stats["last_month"]) == (700_000, 800_000)
        assert stats["week"] == 1023 + 1024  # Monday 23 and Tuesday 24, as it kept them
        # Counted here from now on, and a second run carries nothing twice.
        await hit(recorder, ARTICLE)
        await carry_in(store, site, "nukeviet", mariadb.url(name))
    again = await read_stats(store, "demo.local")
    assert (again["year"], again["last_year"]) == (9_000_001, 21_000_000)
    assert (again["month"], again["last_month"]) == (700_001, 800_000)
    assert again["pageviews"]["year"] == 9_000_001
    assert len(await list_adjustments(store, "demo.local")) == 1


async def test_an_import_is_in_the_ledger_with_its_source_and_totals_before_and_after(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        await carry_in(store, site, "nukeviet", mariadb.url(name))
    (entry,) = await list_adjustments(store, "demo.local")
    assert entry["kind"] == "import" and entry["reason"] == "import nukeviet"
    assert entry["source"] == f"nukeviet db {name} prefix nv4"
    assert entry["read_from"].startswith("mysql://importer@127.0.0.1:")
    assert "s3cret" not in str(entry)
    assert entry["at"] == "2026-11-25T10:00:00+07:00"
    assert entry["totals_before"]["visits"] == 0
    assert entry["totals_after"]["visits"] == entry["after"] == 48_812_107
    assert entry["days"] == 24 and entry["pages"] == 1


async def test_the_same_database_reached_another_way_is_not_imported_twice(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        mariadb.add_reader(name, "auditor", "An-other-99")
        await carry_in(store, site, "nukeviet", mariadb.url(name))
        ledger = await list_adjustments(store, "demo.local")
        # By another host name for the same server, and by another account that may read it.
        elsewhere = mariadb.url(name, "An-other-99", user="auditor", host="localhost")
        assert (await carry_in(store, site, "nukeviet", elsewhere)).entry is None
    assert await list_adjustments(store, "demo.local") == ledger
    stats = await read_stats(store, "demo.local", ARTICLE)
    assert stats["total"] == 48_812_107 and stats["page_views"] == 2638


# -- Vinaora Visitors Counter ----------------------------------------------------------------

# vinaora/vinaora-visitors-counter packages/plg_vvisit_counter/sql/install.mysql.noutf8.sql
VINAORA_25 = """CREATE TABLE IF NOT EXISTS `jos_vvisit_counter` (
	`time` INT(10) UNSIGNED NOT NULL,
	`visits` MEDIUMINT(8) UNSIGNED NOT NULL DEFAULT '0',
	`guests` MEDIUMINT(8) UNSIGNED NOT NULL DEFAULT '0',
	`bots` MEDIUMINT(8) UNSIGNED NOT NULL DEFAULT '0',
	`members` MEDIUMINT(8) UNSIGNED NOT NULL DEFAULT '0',
	UNIQUE INDEX `time` (`time`),
	PRIMARY KEY (`time`)
)"""

# Vinaora Visitors Counter 2.0, com_vvisit_counter/sql/install.mysql.utf8.sql (as bundled in
# phongjalvn/gmtech administrator/components/com_vvisit_counter/)
VINAORA_20 = """CREATE TABLE IF NOT EXISTS `jos_vvcounter_logs` (
	`time` int unsigned NOT NULL,
	`visits` mediumint unsigned NOT NULL DEFAULT '0',
	`guests` mediumint unsigned NOT NULL DEFAULT '0',
	`members` mediumint unsigned NOT NULL DEFAULT '0',
	`bots` mediumint unsigned NOT NULL DEFAULT '0',
	UNIQUE KEY (`time`)
) ENGINE=MyISAM  DEFAULT CHARSET=utf8"""

# Vinaora Visitors Counter 1.x, mod_vvisit_counter helper.php createTable()
VINAORA_1X = """CREATE TABLE IF NOT EXISTS `jos_vvisitcounter` (
	`id` int(11) unsigned NOT NULL auto_increment,
	`tm` int NOT NULL,
	`ip` varchar(16) NOT NULL DEFAULT '0.0.0.0',
	PRIMARY KEY (`id`)
) ENGINE=MyISAM AUTO_INCREMENT=1 DEFAULT CHARSET=utf8"""


@pytest.mark.parametrize(
    ("version", "schema", "table"),
    [
        ("2.5", VINAORA_25, "jos_vvisit_counter"),
        ("2.0", VINAORA_20, "jos_vvcounter_logs"),
    ],
)
async def test_vinaora_slots_belong_to_the_day_they_end_in_and_the_initial_value_counts(
    store: Store, site: Site, mariadb: MariaDB, version: str, schema: str, table: str
) -> None:
    d23, d24 = date(2026, 11, 23), date(2026, 11, 24)
    slots = [
        (at(d23, 10), 100, 90, 5, 5),
        # Ends at midnight: the module sums `time > start AND time <= stop`, so 23 November's.
        (at(d24, 0), 10, 10, 0, 0),
        (at(d24, 15), 200, 190, 10, 0),
        (at(date(2026, 11, 25), 9), 7, 7, 0, 0),  # today: all time only
    ]
    with mariadb.database() as (name, connection):
        execute(connection, schema)
        execute(
            connection,
            f"INSERT INTO {table} (`time`, visits, guests, bots, members) VALUES (%s, %s, %s, %s, %s)",
            rows=slots,
        )
        mariadb.grant(name)
        await carry_in(store, site, "vinaora", mariadb.url(name), initial_value=5000)
    days = await history(store, d23, d24)
    assert days["2026-11-23"]["visits"] == 110 and days["2026-11-24"]["visits"] == 200
    assert (await read_stats(store, "demo.local"))["total"] == 5000 + 317
    (entry,) = await list_adjustments(store, "demo.local")
    assert entry["format"] == f"vinaora {version}"


async def test_vinaora_1x_shows_max_id_as_all_time_and_never_reads_the_ip_column(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    d24 = date(2026, 11, 24)
    with mariadb.database() as (name, connection):
        execute(connection, VINAORA_1X)
        execute(
            connection,
            "INSERT INTO jos_vvisitcounter (id, tm, ip) VALUES (%s, %s, %s)",
            rows=[
                (998, at(d24, 8), "203.0.113.1"),
                (999, at(d24, 9), "203.0.113.2"),
                (1000, at(date(2026, 11, 25), 8), "203.0.113.3"),
            ],
        )
        # The importer may read id and tm only: reading ip would fail the import.
        mariadb.grant(name, "SELECT (id, tm)", "`jos_vvisitcounter`")
        await carry_in(store, site, "vinaora", mariadb.url(name))
    assert (await history(store, d24, d24))["2026-11-24"]["visits"] == 2
    assert (await read_stats(store, "demo.local"))["total"] == 1000


# -- WP Statistics -----------------------------------------------------------------------------

# wp-statistics/wp-statistics src/Service/Database/Schema/Manager.php, built as
# src/Service/Database/Operations/Create.php builds it (prefix wp_statistics_)
WP_SUMMARY = """CREATE TABLE IF NOT EXISTS `wp_statistics_summary_totals` (
`ID` bigint(20) UNSIGNED NOT NULL AUTO_INCREMENT,
`date` date NOT NULL UNIQUE,
`visitors` bigint(20) UNSIGNED NOT NULL,
`views` bigint(20) UNSIGNED NOT NULL,
PRIMARY KEY (ID)
)"""
WP_VISITOR = """CREATE TABLE IF NOT EXISTS `wp_statistics_visitor` (
`ID` bigint(20) NOT NULL AUTO_INCREMENT,
`last_counter` date NOT NULL,
`referred` text NOT NULL,
`agent` varchar(180) NOT NULL,
`platform` varchar(180),
`version` varchar(180),
`device` varchar(180),
`model` varchar(180),
`UAString` varchar(190),
`ip` varchar(60) NOT NULL,
`location` varchar(10),
`user_id` BIGINT(40) NOT NULL,
`hits` int(11),
`honeypot` int(11),
`city` varchar(100),
`region` varchar(100),
`continent` varchar(50),
`source_channel` varchar(50),
`source_name` varchar(100),
`first_page` bigint(20) UNSIGNED DEFAULT NULL,
`first_view` datetime DEFAULT NULL,
`last_page` bigint(20) UNSIGNED DEFAULT NULL,
`last_view` datetime DEFAULT NULL,
PRIMARY KEY (ID),
UNIQUE KEY date_ip_agent (last_counter, ip, agent(50), platform(50), version(50)),
KEY agent (agent),
KEY platform (platform),
KEY version (version),
KEY device (device),
KEY model (model),
KEY location (location),
KEY ip (ip)
)"""
WP_PAGES = """CREATE TABLE IF NOT EXISTS `wp_statistics_pages` (
`page_id` BIGINT(20) NOT NULL AUTO_INCREMENT,
`uri` varchar(190) NOT NULL,
`type` varchar(180) NOT NULL,
`date` date NOT NULL,
`count` int(11) NOT NULL,
`id` int(11) NOT NULL,
PRIMARY KEY (page_id),
UNIQUE KEY date_2 (date, uri),
KEY url (uri),
KEY date (date),
KEY id (id),
KEY uri (uri, count, id)
)"""
WP_HISTORICAL = """CREATE TABLE IF NOT EXISTS `wp_statistics_historical` (
`ID` bigint(20) NOT NULL AUTO_INCREMENT,
`category` varchar(25) NOT NULL,
`page_id` bigint(20) NOT NULL,
`uri` varchar(190) NOT NULL,
`value` bigint(20) NOT NULL,
PRIMARY KEY (ID),
KEY category (category),
UNIQUE KEY uri (uri)
)"""


async def test_wp_statistics_days_purged_totals_and_pages(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        execute(connection, WP_SUMMARY, WP_VISITOR, WP_PAGES, WP_HISTORICAL)
        execute(
            connection,
            "INSERT INTO wp_statistics_summary_totals (`date`, visitors, views) VALUES "
            "('2026-11-20', 30, 90), ('2026-11-21', 40, 120)",
            "INSERT INTO wp_statistics_visitor (last_counter, referred, agent, platform, version, "
            "ip, user_id, hits) VALUES "
            "('2026-11-24', '', 'Chrome', 'Windows', '131', '#hash#1', 0, 3), "
            "('2026-11-24', '', 'Safari', 'iOS', '17', '#hash#2', 0, 2), "
            "('2026-11-25', '', 'Chrome', 'Windows', '131', '#hash#1', 0, 1)",
            "INSERT INTO wp_statistics_pages (uri, type, `date`, `count`, id) VALUES "
            "('/xin-chao/', 'post', '2026-11-21', 70, 5), ('/xin-chao/', 'post', '2026-11-24', 4, 5), "
            "('/', 'home', '2026-11-24', 1, 0)",
            "INSERT INTO wp_statistics_historical (category, page_id, uri, value) VALUES "
            "('visits', 0, '-1', 1000), ('visitors', 0, '-2', 300), ('uri', 5, '/xin-chao/', 26)",
        )
        mariadb.grant(name)
        await carry_in(store, site, "wp-statistics", mariadb.url(name))
    stats = await read_stats(store, "demo.local", "https://demo.local/xin-chao/")
    assert stats["pageviews"]["total"] == 90 + 120 + 5 + 1 + 1000
    assert stats["visitors"]["total"] == 30 + 40 + 2 + 1 + 300
    assert stats["page_views"] == 70 + 4 + 26
    days = await history(store, date(2026, 11, 20), date(2026, 11, 25))
    assert days["2026-11-24"]["pageviews"] == 5 and days["2026-11-24"]["visitors"] == 2
    assert set(days) == {"2026-11-20", "2026-11-21", "2026-11-24"}


# wp-statistics/wp-statistics includes/class-wp-statistics-install.php (before 14.12, when views
# per day were kept here and summary_totals did not exist), DB::table('visit') = wp_statistics_visit
WP_VISIT = """CREATE TABLE wp_statistics_visit (
ID bigint(20) NOT NULL AUTO_INCREMENT,
last_visit datetime NOT NULL,
last_counter date NOT NULL,
visit int(10) NOT NULL,
PRIMARY KEY  (ID),
UNIQUE KEY unique_date (last_counter)
) DEFAULT CHARACTER SET utf8mb4"""


async def test_wp_statistics_without_summary_totals_takes_its_days_views_from_visit(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        execute(connection, WP_VISIT, WP_VISITOR, WP_PAGES)
        execute(
            connection,
            # 22 November: views kept, its visitor rows gone (purged, or visitors not recorded).
            "INSERT INTO wp_statistics_visit (last_visit, last_counter, visit) VALUES "
            "('2026-11-22 23:10:00', '2026-11-22', 50), ('2026-11-24 22:00:00', '2026-11-24', 9), "
            "('2026-11-25 09:00:00', '2026-11-25', 4)",
            # Its visitor rows' hits (5) are not its views: visit says 9 for 24 November.
            "INSERT INTO wp_statistics_visitor (last_counter, referred, agent, platform, version, "
            "ip, user_id, hits) VALUES "
            "('2026-11-24', '', 'Chrome', 'Windows', '131', '#hash#1', 0, 3), "
            "('2026-11-24', '', 'Safari', 'iOS', '17', '#hash#2', 0, 2), "
            "('2026-11-25', '', 'Chrome', 'Windows', '131', '#hash#1', 0, 1)",
            "INSERT INTO wp_statistics_pages (uri, type, `date`, `count`, id) VALUES "
            "('/xin-chao/', 'post', '2026-11-22', 40, 5), ('/xin-chao/', 'post', '2026-11-24', 6, 5)",
        )
        mariadb.grant(name)
        await carry_in(store, site, "wp-statistics", mariadb.url(name))
    days = await history(store, date(2026, 11, 20), date(2026, 11, 25))
    assert set(days) == {"2026-11-22", "2026-11-24"}  # 25 November is not over: all time only
    assert days["2026-11-24"] == {"date": "2026-11-24", "pageviews": 9, "visits": 2, "visitors": 2}
    # A day of views without visitor rows shows its views, not zero, in the box's measure.
    assert days["2026-11-22"]["pageviews"] == 50 and days["2026-11-22"]["visits"] == 50
    stats = await read_stats(store, "demo.local", "/xin-chao/")
    assert stats["pageviews"]["total"] == 50 + 9 + 4
    assert stats["total"] == 50 + 2 + 1
    assert stats["page_views"] == 46
    (entry,) = await list_adjustments(store, "demo.local")
    assert entry["source"] == f"wp-statistics db {name} prefix wp_statistics_"


# -- Busuanzi (soxft/busuanzi) and Vercount, in their own Redis key layouts ---------------------


@pytest.fixture
async def old_redis(redis_url: str) -> AsyncIterator[tuple[redis.asyncio.Redis, str]]:
    """The old counter's Redis (the session's server), under names of this test's own."""
    client = redis.asyncio.Redis.from_url(redis_url)
    tag = f"old{secrets.token_hex(4)}"
    try:
        yield client, tag
    finally:
        keys = [k async for k in client.scan_iter(match=f"*{tag}*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def md516(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()[8:24]


async def test_busuanzi_redis_brings_site_pv_uv_and_the_sitemaps_pages(
    store: Store,
    site: Site,
    old_redis: tuple[redis.asyncio.Redis, str],
    redis_url: str,
    tmp_path: Path,
) -> None:
    client, prefix = old_redis
    host = "demo.local"
    await client.set(f"{prefix}:site_pv:{md516(host)}", 48_812_107)
    await client.pfadd(f"{prefix}:site_uv:{md516(host)}", *[f"visitor{i}" for i in range(37)])
    await client.zadd(
        f"{prefix}:page_pv:{md516(host)}",
        {md516("/posts/hello/"): 2638, md516("/about/"): 12, md516("/gone/"): 5},
    )
    sitemap = tmp_path / "sitemap.xml"
    sitemap.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        "<url><loc>https://demo.local/posts/hello/</loc></url>"
        "<url><loc>https://demo.local/about/</loc></url></urlset>"
    )
    uv = await client.pfcount(f"{prefix}:site_uv:{md516(host)}")
    await carry_in(
        store, site, "busuanzi-redis", redis_url, key_prefix=prefix, sitemap=str(sitemap)
    )
    stats = await read_stats(store, "demo.local", "https://demo.local/posts/hello/")
    assert stats["pageviews"]["total"] == 48_812_107
    assert stats["visitors"]["total"] == uv
    assert stats["page_views"] == 2638
    assert (await read_stats(store, "demo.local", "/about/"))["page_views"] == 12


@pytest.mark.parametrize("indexed", [True, False])
async def test_vercount_brings_its_plain_keys(
    store: Store,
    site: Site,
    old_redis: tuple[redis.asyncio.Redis, str],
    redis_url: str,
    indexed: bool,
) -> None:
    client, tag = old_redis
    host = f"{tag}.blog.test"
    await client.set(f"pv:site:{host}", 9000)
    await client.set(f"uv:site:count:{host}", 700)
    await client.set(f"pv:page:{host}:/posts/a/", 321)
    await client.set(f"pv:page:{host}:/posts/b/", 4)
    if indexed:
        await client.sadd(f"pv:page:index:{host}", "/posts/a/", "/posts/b/")
    await carry_in(store, site, "vercount", redis_url, host=host)
    stats = await read_stats(store, "demo.local", "/posts/a/")
    assert stats["pageviews"]["total"] == 9000 and stats["visitors"]["total"] == 700
    assert stats["page_views"] == 321
    # The same keys through another name of the server are the same import.
    other_name = {"127.0.0.1": "localhost", "localhost": "127.0.0.1"}
    elsewhere = next(
        redis_url.replace(a, b, 1) for a, b in (*other_name.items(), ("", "")) if a in redis_url
    )
    assert (await carry_in(store, site, "vercount", elsewhere, host=host)).entry is None
    assert (await read_stats(store, "demo.local", "/posts/a/"))["page_views"] == 321


async def test_a_redis_source_without_the_sites_keys_is_refused(
    store: Store, site: Site, redis_url: str
) -> None:
    with pytest.raises(SourceUnreadable, match="no vercount keys"):
        await carry_in(store, site, "vercount", redis_url, host="nobody.test")


# -- GoatCounter's CSV export, and the daily CSV -----------------------------------------------

GOAT_HEADER = (
    '"2,Path",Title,Event,User-Agent,Browser,System,Session,Bot,Referrer,Referrer scheme,'
    "Screen size,Location,FirstVisit,Date\n"
)


def goat_row(path: str, session: str, when: str, *, event: str = "false", bot: str = "0") -> str:
    return (
        f'{path},Title,{event},,Firefox 120,Linux,{session},{bot},,,"1920,1080,1",VN,true,{when}\n'
    )


async def test_goatcounter_export_gives_days_pages_and_leaves_out_bots_and_events(
    store: Store, site: Site, tmp_path: Path
) -> None:
    export = tmp_path / "goatcounter-export.csv"
    export.write_text(
        GOAT_HEADER
        + goat_row("/a", "s1", "2026-11-23T20:00:00Z")  # 24 November in Hà Nội
        + goat_row("/a", "s1", "2026-11-24T01:00:00Z")
        + goat_row("/b", "s2", "2026-11-24T02:00:00Z")
        + goat_row("/a", "s3", "2026-11-24T02:00:00Z", bot="3")
        + goat_row("click-share", "s2", "2026-11-24T02:00:00Z", event="true")
        + goat_row("/b", "s4", "2026-11-25T01:00:00Z")  # today
    )
    await carry_in(store, site, "goatcounter", str(export))
    days = await history(store, date(2026, 11, 24), date(2026, 11, 25))
    assert days == {
        "2026-11-24": {"date": "2026-11-24", "pageviews": 3, "visits": 2, "visitors": 2}
    }
    stats = await read_stats(store, "demo.local", "/a")
    assert stats["page_views"] == 2
    assert stats["pageviews"]["total"] == 4 and stats["total"] == 3


async def test_the_daily_csv_sets_its_days_as_before(
    store: Store, site: Site, tmp_path: Path
) -> None:
    daily = tmp_path / "days.csv"
    daily.write_text("date,pageviews,visits,visitors\n2026-11-23,30,20,10\n")
    outcome = await carry_in(store, site, "csv", str(daily))
    assert outcome.days_changed == 1
    assert (await read_stats(store, "demo.local"))["total"] == 20
    assert (await carry_in(store, site, "csv", str(daily))).entry is None


async def test_a_copied_export_is_not_imported_twice_and_a_later_one_adds_only_its_news(
    store: Store, site: Site, tmp_path: Path
) -> None:
    rows = goat_row("/a", "s1", "2026-11-23T20:00:00Z") + goat_row(
        "/b", "s2", "2026-11-24T01:00:00Z"
    )
    export = tmp_path / "goatcounter-export.csv"
    export.write_text(GOAT_HEADER + rows)
    await carry_in(store, site, "goatcounter", str(export))
    ledger = await list_adjustments(store, "demo.local")
    copied = tmp_path / "elsewhere" / "export-copy.csv"
    copied.parent.mkdir()
    copied.write_bytes(export.read_bytes())
    assert (await carry_in(store, site, "goatcounter", str(copied))).entry is None
    assert await list_adjustments(store, "demo.local") == ledger
    assert (await read_stats(store, "demo.local", "/a"))["page_views"] == 1
    # A later full export of the same site begins alike: only the hit it adds is carried.
    later = tmp_path / "goatcounter-export-later.csv"
    later.write_text(GOAT_HEADER + rows + goat_row("/a", "s3", "2026-11-24T02:00:00Z"))
    await carry_in(store, site, "goatcounter", str(later))
    stats = await read_stats(store, "demo.local", "/a")
    assert stats["page_views"] == 2 and stats["pageviews"]["total"] == 3


# -- Progress while reading a long source -------------------------------------------------------


async def test_reading_a_long_table_tells_progress_each_chunk_of_rows(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    first = at(date(2026, 1, 1), 0)
    slots = [(first + 600 * i, 1, 1, 0, 0) for i in range(2500)]
    heard: list[int] = []
    with mariadb.database() as (name, connection):
        execute(connection, VINAORA_25)
        execute(
            connection,
            "INSERT INTO jos_vvisit_counter (`time`, visits, guests, bots, members) "
            "VALUES (%s, %s, %s, %s, %s)",
            rows=slots,
        )
        mariadb.grant(name)
        opts = Options(source=mariadb.url(name), site=site, now=store.clock.now())
        carry = read_carry("vinaora", dataclasses.replace(opts, progress=heard.append))
    assert heard == [1000, 1000, 500]  # the slots, fetched in chunks as they are read
    assert carry.totals is not None and carry.totals[Measure.visits] == 2500


async def test_scanning_an_old_redis_tells_progress_each_batch_of_keys(
    store: Store, site: Site, old_redis: tuple[redis.asyncio.Redis, str], redis_url: str
) -> None:
    client, tag = old_redis
    host = f"{tag}.blog.test"
    await client.set(f"pv:site:{host}", 9000)
    await client.mset({f"pv:page:{host}:/posts/{i}/": 1 for i in range(2500)})
    heard: list[int] = []
    opts = Options(source=redis_url, site=site, now=store.clock.now(), host=host)
    carry = read_carry("vercount", dataclasses.replace(opts, progress=heard.append))
    assert len(carry.pages) == 2500
    assert len(heard) > 1 and sum(heard) >= 2500  # SCAN batches (a key may come twice)


# -- What an import must never do --------------------------------------------------------------


async def test_a_day_the_store_counted_itself_is_kept_and_not_counted_twice(
    store: Store, site: Site, recorder: Recorder, clock: FakeClock, mariadb: MariaDB
) -> None:
    clock.set(datetime(2026, 11, 24, 9, 0, tzinfo=VN))
    await hit(recorder, "/a")
    await hit(recorder, "/b", ua=BROWSER_B)
    clock.set(datetime(2026, 11, 25, 10, 0, tzinfo=VN))
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        await carry_in(store, site, "nukeviet", mariadb.url(name))
    days = await history(store, date(2026, 11, 24), date(2026, 11, 24))
    assert days["2026-11-24"]["visits"] == 2  # as counted here, not the old 1024
    # The old counter's 24 November left its all time; ours took its place.
    assert (await read_stats(store, "demo.local"))["total"] == 48_812_107 - 1024 + 2


async def test_an_import_during_live_traffic_loses_and_doubles_nothing(
    store: Store, site: Site, recorder: Recorder, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        url = mariadb.url(name)

        async def traffic(first: int) -> int:
            """60 pageviews of 60 new visitors (so 60 visits too)."""
            counted = 0
            for i in range(first, first + 60):
                result = await hit(recorder, ARTICLE, ip=f"198.51.100.{i}", ua=f"{BROWSER_B} {i}")
                counted += result.counted
                await asyncio.sleep(0)
            return counted

        first, counted = await asyncio.gather(carry_in(store, site, "nukeviet", url), traffic(0))
        assert first.entry is not None
        second, more = await asyncio.gather(carry_in(store, site, "nukeviet", url), traffic(100))
        assert second.entry is None
    await run_pass(store, store.clock.now(), only=["demo.local"])
    stats = await read_stats(store, "demo.local", ARTICLE)
    assert counted + more == 120
    assert stats["page_views"] == 2638 + 120
    assert stats["total"] == 48_812_107 + 120
    assert stats["pageviews"]["total"] == 48_812_107 + 120


async def test_an_adjustment_after_an_import_stands_when_the_import_is_repeated(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        await carry_in(store, site, "nukeviet", mariadb.url(name))
        await adjust_total(store, "demo.local", 50_000_000, "the number on the printed report")
        await carry_in(store, site, "nukeviet", mariadb.url(name))
    await run_pass(store, store.clock.now(), only=["demo.local"])
    assert (await read_stats(store, "demo.local"))["total"] == 50_000_000


async def test_an_import_whose_old_counter_shows_less_never_lowers_the_all_time(
    store: Store, site: Site, recorder: Recorder, mariadb: MariaDB
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection)
        mariadb.grant(name)
        await carry_in(store, site, "nukeviet", mariadb.url(name))
        await hit(recorder, ARTICLE)
        await run_pass(store, store.clock.now(), only=[site.id])
        shown = await read_stats(store, "demo.local")
        assert shown["total"] == 48_812_107 + 1
        # The old counter now shows less than the site does (its database restored from an
        # older backup): a lower all time, and a lower 24 November.
        execute(
            connection,
            "UPDATE nv4_counter SET c_count = 1000 WHERE c_type = 'total'",
            "UPDATE nv4_counter SET c_count = 24 WHERE c_type = 'day' AND c_val = '24'",
        )
        opts = Options(source=mariadb.url(name), site=site, now=store.clock.now())
        planned = await carryover.plan(store, site.id, read_carry("nukeviet", opts))
        assert all(count >= 0 for count in planned.carried.values())
        assert any("never lowers the all time" in line for line in planned.describe())
        await carryover.apply(store, planned)
        await run_pass(store, store.clock.now(), only=[site.id])
        after = await read_stats(store, "demo.local")
        ledger = await list_adjustments(store, "demo.local")
        # Run again: nothing moves.
        assert (await carry_in(store, site, "nukeviet", mariadb.url(name))).entry is None
    assert after["total"] == shown["total"]
    assert after["pageviews"]["total"] == shown["pageviews"]["total"]
    assert after["visitors"]["total"] == shown["visitors"]["total"]
    # The day itself is the old counter's to set, as it says now; the all time stays.
    days = await history(store, date(2026, 11, 24), date(2026, 11, 24))
    assert days["2026-11-24"]["visits"] == 24
    assert [e["after"] >= e["before"] for e in ledger] == [True, True]
    assert await list_adjustments(store, "demo.local") == ledger
    # The site counts on from where it was.
    await hit(recorder, "/another", ua=BROWSER_B)
    await run_pass(store, store.clock.now(), only=[site.id])
    assert (await read_stats(store, "demo.local"))["total"] == shown["total"] + 1


@pytest.mark.parametrize(
    ("fmt", "setup", "message"),
    [
        ("nukeviet", None, "table 'nv4_counter' not found"),
        ("nukeviet", "prefix", "table 'nv5_counter' not found"),
        ("vinaora", None, "no Vinaora table"),
        ("wp-statistics", None, "not found"),
    ],
)
async def test_a_missing_table_or_wrong_prefix_is_refused_and_nothing_is_written(
    store: Store, site: Site, mariadb: MariaDB, fmt: str, setup: str | None, message: str
) -> None:
    with mariadb.database() as (name, connection):
        load_nukeviet(connection) if setup else execute(connection, "CREATE TABLE other (id int)")
        mariadb.grant(name)
        prefix = "nv5" if setup else None
        with pytest.raises(SourceUnreadable, match=message):
            await carry_in(store, site, fmt, mariadb.url(name), table_prefix=prefix)
    assert await list_adjustments(store, "demo.local") == []
    assert await history(store, date(2026, 11, 1), date(2026, 11, 25)) == {}


async def test_an_unreachable_server_and_a_wrong_password_say_so(
    store: Store, site: Site, mariadb: MariaDB
) -> None:
    from tests.servers import free_port

    with pytest.raises(SourceUnreadable, match="cannot connect"):
        await carry_in(store, site, "nukeviet", f"mysql://u:p@127.0.0.1:{free_port()}/db")
    with mariadb.database() as (name, _):
        mariadb.grant(name)
        with pytest.raises(SourceUnreadable, match="access denied") as refused:
            await carry_in(store, site, "nukeviet", mariadb.url(name, password="Xy-not-it-42"))
    assert "Xy-not-it-42" not in str(refused.value)
    with pytest.raises(SourceUnreadable, match=r"cannot connect|Error"):
        await carry_in(store, site, "busuanzi-redis", f"redis://127.0.0.1:{free_port()}/0")
    assert await list_adjustments(store, "demo.local") == []
