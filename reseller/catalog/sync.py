"""Keeping the catalog in step with the providers and the config.

`sync` fetches every provider's `services` (in parallel), stores what each offers, then
`rebuild`s the local catalog from the config and the stored offers. A provider that fails to
answer keeps its last known offers: a provider being down is not its services disappearing.
The currency each provider last named (recorded by the balance check) is read too: a provider
naming another currency than its configured one has its services off sale, restarts included;
so are the operator's overrides (`catalog.overrides`). Every rebuild says what it changed for
customers (`Changes`): services put on or taken off sale, and how many sell rates moved.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from reseller import audit, db, errors, locks, logs, money
from reseller.catalog import build as catalog_build
from reseller.catalog.build import Built, UpstreamKey
from reseller.catalog.model import Offer
from reseller.config import Config
from reseller.db import Q
from reseller.upstream import ProviderClient, Upstreams, UpstreamService

log = logs.get_logger()

NOT_IN_CONFIG = "not in config"
# Off sale by the operator's choice (dropped from the config or the imports), or before the
# provider's first sync (a provider that never answers is its own alert): nothing to alert.
EXPECTED_OFF_SALE = (NOT_IN_CONFIG, catalog_build.NO_IMPORT_RULE, catalog_build.NOT_SYNCED)
# A `catalog_changed` line names at most this many services per list, each reason cut to
# _LOGGED_REASON characters (an import of thousands must not make a line of megabytes); the
# counts beside the lists are whole.
_LOGGED_SERVICES = 20
_LOGGED_REASON = 100


@dataclass(frozen=True, slots=True)
class Changes:
    """What a rebuild changed for customers."""

    put_on_sale: tuple[int, ...] = ()
    taken_off_sale: tuple[tuple[int, str], ...] = ()  # (local ID, why)
    prices_moved: int = 0  # sell rates changed on services on sale before and after

    def __bool__(self) -> bool:
        return bool(self.put_on_sale or self.taken_off_sale or self.prices_moved)


@dataclass(frozen=True, slots=True)
class Rebuilt:
    built: Built
    changes: Changes


@dataclass
class SyncReport:
    offered: dict[str, int] = field(default_factory=dict)  # provider → services offered
    failed: dict[str, str] = field(default_factory=dict)  # provider → why
    disabled: list[tuple[int, str]] = field(default_factory=list)  # (local ID, reason)
    enabled: int = 0
    changes: Changes = field(default_factory=Changes)


def log_changes(changes: Changes, *, cause: str) -> None:
    """One `catalog_changed` line, when the rebuild `cause` names changed anything."""
    if not changes:
        return
    log.info(
        "catalog_changed",
        cause=cause,
        put_on_sale=len(changes.put_on_sale),
        taken_off_sale=len(changes.taken_off_sale),
        prices_moved=changes.prices_moved,
        put_on_sale_ids=list(changes.put_on_sale[:_LOGGED_SERVICES]),
        taken_off_sale_why=[
            f"{service_id}: {why[:_LOGGED_REASON]}"
            for service_id, why in changes.taken_off_sale[:_LOGGED_SERVICES]
        ],
    )


async def sync(
    pool: db.Database,
    config: Config,
    upstreams: Upstreams,
    *,
    refuse_to_empty: bool = False,
    by: audit.Actor | None = None,
) -> SyncReport:
    """Fetch, store and rebuild; with `refuse_to_empty`, see `rebuild`. `by`: the operator who
    asked (the scheduled sync is no one), audited with what changed."""
    report = SyncReport()
    fetched: dict[str, list[Offer]] = {}
    clients = list(upstreams)
    results = await asyncio.gather(*(_fetch(c) for c in clients), return_exceptions=True)
    for client, result in zip(clients, results, strict=True):
        if isinstance(result, BaseException):
            report.failed[client.name] = str(result)
            log.warning("catalog_fetch_failed", provider=client.name, error=str(result))
            continue
        fetched[client.name] = result
        report.offered[client.name] = len(result)
    rebuilt = await rebuild(pool, config, fetched=fetched, refuse_to_empty=refuse_to_empty, by=by)
    built, report.changes = rebuilt.built, rebuilt.changes
    log_changes(report.changes, cause="sync")
    report.enabled = sum(e.enabled for e in built.entries)
    report.disabled = [
        (e.service.id, e.disabled_reason or "") for e in built.entries if not e.enabled
    ]
    return report  # what changed is logged by log_changes, not every disabled service again


def report_lines(report: SyncReport) -> list[str]:
    """A sync's report in words, as `services sync` prints it and the console shows it."""
    lines = [f"{provider}: {count} services offered" for provider, count in report.offered.items()]
    lines += [
        f"{provider}: FAILED ({why}); its last known services are kept"
        for provider, why in report.failed.items()
    ]
    lines.append(f"{report.enabled} services on sale, {len(report.disabled)} disabled")
    lines += [f"  disabled {service_id}: {reason}" for service_id, reason in report.disabled]
    return lines + change_lines(report.changes)


def change_lines(changes: Changes) -> list[str]:
    """What a rebuild changed for customers, in words."""
    if not changes:
        return ["changed: nothing (no service put on or taken off sale, no sell rate moved)"]
    lines = [
        f"changed: {len(changes.put_on_sale)} put on sale, {len(changes.taken_off_sale)} taken"
        f" off sale, {changes.prices_moved} sell rates moved"
    ]
    if changes.put_on_sale:
        lines.append(f"  put on sale: {', '.join(map(str, changes.put_on_sale))}")
    lines += [f"  taken off sale {service_id}: {why}" for service_id, why in changes.taken_off_sale]
    return lines


async def _fetch(client: ProviderClient) -> list[Offer]:
    try:
        return [_from_upstream(s) for s in await client.services()]
    except errors.UpstreamError:
        raise
    except Exception as exc:  # one provider's surprise must not stop the others' sync
        raise errors.UpstreamUnknown(f"{type(exc).__name__}: {exc}") from exc


async def _store_offers(conn: db.Transaction, provider: str, services: list[Offer]) -> None:
    await conn.executemany(
        Q.upsert_upstream_service,
        [
            (
                provider,
                s.id,
                s.name,
                s.type,
                s.category,
                s.rate,
                s.min,
                s.max,
                s.refill,
                s.cancel,
                s.dripfeed,
            )
            for s in services
        ],
    )
    await conn.execute(Q.mark_upstream_gone, provider, [s.id for s in services])


async def rebuild(
    pool: db.Database,
    config: Config,
    *,
    fetched: Mapping[str, list[Offer]] | None = None,
    refuse_to_empty: bool = False,
    by: audit.Actor | None = None,
) -> Rebuilt:
    """Write the catalog the config and the stored offers describe (no upstream calls), after
    storing the `fetched` offers (provider → services) in the same transaction; with `by`, the
    audit entry of it too (the providers that answered and what changed).

    With `refuse_to_empty`, a catalog with services on sale that would be left with none raises
    CatalogWouldEmpty and nothing is written, not even the offers (stored, they would empty the
    catalog at the next rebuild): a provider answering `[]` or a config naming no services is far
    likelier a mistake than the end of all sales.
    """
    async with pool.transaction() as conn:
        rebuilt = await rebuild_within(
            conn, config, fetched=fetched, refuse_to_empty=refuse_to_empty
        )
        if by is not None:
            changes = rebuilt.changes
            detail = {
                "answered": sorted(fetched or {}),
                "put_on_sale": list(changes.put_on_sale),
                "taken_off_sale": [service_id for service_id, _ in changes.taken_off_sale],
                "prices_moved": changes.prices_moved,
            }
            await audit.record(conn, by, "services-sync", "catalog", detail)
        return rebuilt


async def rebuild_within(
    conn: db.Transaction,
    config: Config,
    *,
    fetched: Mapping[str, list[Offer]] | None = None,
    refuse_to_empty: bool = False,
) -> Rebuilt:
    """`rebuild` in the caller's transaction: an operator's override commits with the catalog
    it makes."""
    await conn.execute(Q.no_statement_timeout)
    await conn.execute(Q.lock_catalog, locks.CATALOG_WRITE)
    for provider, services in (fetched or {}).items():
        await _store_offers(conn, provider, services)
    offered = {
        (r["provider"], r["service_id"]): _from_row(r) for r in await conn.fetch(Q.offered_services)
    }
    import_ids: dict[UpstreamKey, int] = {
        (r["provider"], r["upstream_service"]): r["local_id"]
        for r in await conn.fetch(Q.import_ids)
    }
    reported = {r["provider"]: r["currency"] for r in await conn.fetch(Q.provider_balances)}
    overrides = {r["service_id"]: r["reason"] for r in await conn.fetch(Q.service_overrides)}
    routes = {r["service_id"]: r["route"] for r in await conn.fetch(Q.routes_for_pricing)}
    built = catalog_build.build(config, offered, import_ids, reported, overrides, routes)
    if refuse_to_empty:
        await _refuse_to_empty(conn, built)
    on_sale_before = {r["id"]: r["rate"] for r in await conn.fetch(Q.services_on_sale)}
    await conn.executemany(
        Q.insert_import_id, [(p, s, i) for (p, s), i in built.new_import_ids.items()]
    )
    await _write(conn, built)
    return Rebuilt(built, _changes(on_sale_before, built))


def _changes(on_sale_before: Mapping[int, Decimal], built: Built) -> Changes:
    """`on_sale_before`: local ID → sell rate of each service on sale before the rebuild."""
    after = {e.service.id: e for e in built.entries}
    taken_off = []
    moved = 0
    for service_id, rate in sorted(on_sale_before.items()):
        entry = after.get(service_id)
        if entry is None:
            taken_off.append((service_id, NOT_IN_CONFIG))
        elif not entry.enabled:
            taken_off.append((service_id, entry.disabled_reason or ""))
        elif money.quantize(entry.service.rate) != rate:  # stored as NUMERIC(20, 5)
            moved += 1
    return Changes(
        put_on_sale=tuple(
            sorted(i for i, e in after.items() if e.enabled and i not in on_sale_before)
        ),
        taken_off_sale=tuple(taken_off),
        prices_moved=moved,
    )


async def _refuse_to_empty(conn: db.Transaction, built: Built) -> None:
    if any(e.enabled for e in built.entries):
        return
    on_sale = await conn.fetchval(Q.count_enabled_services)
    if not on_sale:
        return  # nothing to lose: an empty catalog staying empty is no change
    reasons = [f"service {e.service.id}: {e.disabled_reason}" for e in built.entries]
    why = ", ".join(reasons[:3]) or "the config names no services"
    if len(reasons) > 3:
        why += f" and {len(reasons) - 3} more"
    raise errors.CatalogWouldEmpty(
        f"refused: this sync would take every service off sale ({on_sale} on sale now, none"
        f" after; {why}); nothing was changed"
    )


async def _write(conn: db.Transaction, built: Built) -> None:
    enabled = [e.service for e in built.entries if e.enabled]
    await conn.executemany(
        Q.upsert_service,
        [
            (
                s.id,
                s.name,
                s.type,
                s.category,
                s.rate,
                s.min,
                s.max,
                s.refill,
                s.cancel,
                s.dripfeed,
                s.cost,
                s.allow_overlap,
                s.dripfeed_emulated,
            )
            for s in enabled
        ],
    )
    await conn.executemany(
        Q.disable_service,
        [
            (
                e.service.id,
                e.disabled_reason,
                e.service.name,
                e.service.type,
                e.service.category,
                e.service.rate,
                e.service.min,
                e.service.max,
                e.service.refill,
                e.service.cancel,
            )
            for e in built.entries
            if not e.enabled
        ],
    )
    await conn.execute(Q.delete_service_upstreams, [e.service.id for e in built.entries])
    await conn.executemany(
        Q.insert_service_upstream,
        [
            (e.service.id, c.priority, c.provider, c.upstream_service, c.cost_rate)
            for e in built.entries
            for c in e.candidates
        ],
    )
    await conn.execute(
        Q.disable_services_except, [e.service.id for e in built.entries], NOT_IN_CONFIG
    )


def _from_upstream(s: UpstreamService) -> Offer:
    """The client's parsed answer as the catalog's own type: `build` knows nothing upstream."""
    return Offer(
        id=s.id,
        name=s.name,
        type=s.type,
        category=s.category,
        rate=s.rate,
        min=s.min,
        max=s.max,
        refill=s.refill,
        cancel=s.cancel,
        dripfeed=s.dripfeed,
    )


def _from_row(row: db.Record) -> Offer:
    return Offer(
        id=row["service_id"],
        name=row["name"],
        type=row["type"],
        category=row["category"],
        rate=row["rate"],
        min=min(row["min_quantity"], catalog_build.MAX_QUANTITY),
        max=min(row["max_quantity"], catalog_build.MAX_QUANTITY),
        refill=row["refill"],
        cancel=row["cancel"],
        dripfeed=row["dripfeed"],
    )
