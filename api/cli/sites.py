"""``visitor-stats sites …``: which websites are tracked, and their audited adjustments."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from aggregator.rollup import run_pass
from api.cli.common import app, fail, print_json, settings, with_store
from counter.access import KeyScope, issue_key, list_keys, revoke_key
from counter.errors import UnknownSite, VisitorStatsError
from counter.figures.adjustments import adjust_total, list_adjustments
from counter.keys import validate_site_id
from counter.sites import Measure, make_site
from counter.storage.store import Store

sites_app = typer.Typer(help="Manage tracked sites.", no_args_is_help=True)
app.add_typer(sites_app, name="sites")


@sites_app.command("add")
def sites_add(
    site: str,
    domain: Annotated[
        list[str], typer.Option("--domain", help="a domain the site's pages are on (repeatable)")
    ],
    timezone: Annotated[str, typer.Option(help="IANA timezone")] = "Asia/Ho_Chi_Minh",
    week_start: Annotated[str, typer.Option(help="first day of the week")] = "monday",
    count: Annotated[Measure, typer.Option(help="what the box counts")] = Measure.visits,
    locale: Annotated[str, typer.Option(help="the widget's language: vi or en")] = "vi",
    grouping: Annotated[
        str, typer.Option(help="digit grouping: '.' (48.812.107) or ',' (48,812,107)")
    ] = ".",
    keep_query: Annotated[
        bool, typer.Option(help="count /a?id=1 and /a?id=2 as different pages")
    ] = False,
    public_dashboard: Annotated[
        bool, typer.Option(help="/dashboard/SITE open to anyone (else it needs a read token)")
    ] = False,
) -> None:
    """Add (or update) a site."""
    current = settings()
    try:
        new = make_site(
            id=site,
            domains=domain,
            timezone=timezone,
            week_start=week_start,
            measure=count,
            online_window_s=current.online_window_s,
            session_timeout_s=current.session_timeout_s,
            locale=locale,
            grouping=grouping,
            keep_query=keep_query,
            public_dashboard=public_dashboard,
        )
    except VisitorStatsError as exc:
        fail(exc)

    async def work(store: Store) -> bool:
        try:
            await store.registry.get(new.id)
        except UnknownSite:
            existed = False
        else:
            existed = True
        await store.registry.put(new)
        return existed

    done = "updated" if with_store(work) else "added"
    typer.echo(
        f"{done} {new.id} ({', '.join(new.domains)}; {new.timezone}; counts {new.measure.value})"
    )


@sites_app.command("list")
def sites_list() -> None:
    """List the tracked sites."""
    for site in with_store(lambda store: store.registry.all()):
        typer.echo(
            f"{site.id}\t{','.join(site.domains)}\t{site.timezone}\t{site.week_start}\t{site.measure.value}"
        )


@sites_app.command("remove")
def sites_remove(site: str) -> None:
    """Stop tracking a site (its counts stay in the store; adding it again brings them back)."""
    with_store(lambda store: store.registry.remove(site))
    typer.echo(f"removed {site}")


@sites_app.command("adjust")
def sites_adjust(
    site: str,
    total: Annotated[int, typer.Option(min=0, help="the all-time figure from now on")],
    reason: Annotated[str, typer.Option(help="why (kept in the ledger)")],
) -> None:
    """Set the all-time figure to N (audited), e.g. to carry an old counter's total over."""

    async def work(store: Store) -> dict[str, Any]:
        entry = await adjust_total(store, site, total, reason)
        await run_pass(store, store.clock.now(), only=[validate_site_id(site)])
        return entry

    entry = with_store(work)
    typer.echo(f"{site}: all time {entry['before']:,} -> {entry['after']:,} ({entry['reason']})")


@sites_app.command("adjustments")
def sites_adjustments(site: str) -> None:
    """List the ledger of adjustments."""
    print_json(with_store(lambda store: list_adjustments(store, site)))


keys_app = typer.Typer(
    help="Ingest keys (a site's server counts its hits) and read tokens (the dashboard).",
    no_args_is_help=True,
)
sites_app.add_typer(keys_app, name="keys")


@keys_app.command("add")
def keys_add(
    site: str,
    name: Annotated[str, typer.Option(help="what the key is for, e.g. the CMS's host")] = "",
    scope: Annotated[
        KeyScope, typer.Option(help="ingest: POST /api/hit(s); read: dashboard and exports")
    ] = KeyScope.ingest,
) -> None:
    """Make a key for SITE and print it: it is shown this once (the store keeps only a hash)."""

    async def work(store: Store) -> tuple[str, str]:
        config = await store.registry.get(site)
        record, key = await issue_key(
            store.redis, store.keys, config.id, scope, name, store.clock.now()
        )
        return record.id, key

    key_id, key = with_store(work)
    typer.echo(
        f"{scope.value} key {key_id} for {validate_site_id(site)} (shown only now):", err=True
    )
    typer.echo(key)


@keys_app.command("list")
def keys_list(site: str) -> None:
    """List SITE's keys: id, scope, name, made, revoked (never the keys themselves)."""

    async def work(store: Store) -> list[dict[str, object]]:
        config = await store.registry.get(site)
        return [k.public() for k in await list_keys(store.redis, store.keys, config.id)]

    for key in with_store(work):
        revoked = f"revoked {key['revoked_at']}" if key["revoked_at"] else "active"
        typer.echo(
            f"{key['id']}\t{key['scope']}\t{key['name'] or '-'}\t{key['created_at']}\t{revoked}"
        )


@keys_app.command("revoke")
def keys_revoke(site: str, key_id: str) -> None:
    """Revoke one of SITE's keys (by the id `keys list` shows); refused everywhere within 5 s."""

    async def work(store: Store) -> str | None:
        config = await store.registry.get(site)
        record = await revoke_key(store.redis, store.keys, config.id, key_id, store.clock.now())
        return record.revoked_at

    typer.echo(f"revoked {key_id} of {validate_site_id(site)} at {with_store(work)}")
