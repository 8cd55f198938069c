"""Keeping the catalog in step with the providers and the config.

`sync` fetches every provider's `services` (in parallel), stores what each offers, then
`rebuild`s the local catalog from the config and the stored offers. A provider that fails to
answer keeps its last known offers: a provider being down is not its services disappearing.
The currency each provider last named (recorded by the balance check) is read too: a provider
naming another currency than its configured one has its services off sale, restarts included.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field

import structlog

from reseller import db, errors, locks
from reseller.catalog import build as catalog_build
from reseller.catalog.build import Built, UpstreamKey
from reseller.catalog.model import Offer
from reseller.config import Config
from reseller.db import Q
from reseller.upstream import ProviderClient, Upstreams, UpstreamService

log = structlog.get_logger()


@dataclass
class SyncReport:
    offered: dict[str, int] = field(default_factory=dict)  # provider → services offered
    failed: dict[str, str] = field(default_factory=dict)  # provider → why
    disabled: list[tuple[int, str]] = field(default_factory=list)  # (local ID, reason)
    enabled: int = 0


async def sync(
    pool: db.Database, config: Config, upstreams: Upstreams, *, refuse_to_empty: bool = False
) -> SyncReport:
    """Fetch, store and rebuild; with `refuse_to_empty`, see `rebuild`."""
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
    built = await rebuild(pool, config, fetched=fetched, refuse_to_empty=refuse_to_empty)
    report.enabled = sum(e.enabled for e in built.entries)
    report.disabled = [
        (e.service.id, e.disabled_reason or "") for e in built.entries if not e.enabled
    ]
    for service_id, reason in report.disabled:
        log.warning("service_disabled", service=service_id, reason=reason)
    return report


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
) -> Built:
    """Write the catalog the config and the stored offers describe (no upstream calls), after
    storing the `fetched` offers (provider → services) in the same transaction.

    With `refuse_to_empty`, a catalog with services on sale that would be left with none raises
    CatalogWouldEmpty and nothing is written, not even the offers (stored, they would empty the
    catalog at the next rebuild): a provider answering `[]` or a config naming no services is far
    likelier a mistake than the end of all sales.
    """
    async with pool.transaction() as conn:
        await conn.execute(Q.no_statement_timeout)
        await conn.execute(Q.lock_catalog, locks.CATALOG_WRITE)
        for provider, services in (fetched or {}).items():
            await _store_offers(conn, provider, services)
        offered = {
            (r["provider"], r["service_id"]): _from_row(r)
            for r in await conn.fetch(Q.offered_services)
        }
        import_ids: dict[UpstreamKey, int] = {
            (r["provider"], r["upstream_service"]): r["local_id"]
            for r in await conn.fetch(Q.import_ids)
        }
        reported = {r["provider"]: r["currency"] for r in await conn.fetch(Q.provider_balances)}
        built = catalog_build.build(config, offered, import_ids, reported)
        if refuse_to_empty:
            await _refuse_to_empty(conn, built)
        await conn.executemany(
            Q.insert_import_id, [(p, s, i) for (p, s), i in built.new_import_ids.items()]
        )
        await _write(conn, built)
    return built


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
            (s.id, s.name, s.type, s.category, s.rate, s.min, s.max, s.refill, s.cancel, s.dripfeed)
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
        Q.disable_services_except, [e.service.id for e in built.entries], "not in config"
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
