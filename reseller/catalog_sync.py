"""Keeping the catalog in step with the providers and the config.

`sync` fetches every provider's `services` (in parallel), stores what each offers, then
`rebuild`s the local catalog from the config and the stored offers. A provider that fails to
answer keeps its last known offers: a provider being down is not its services disappearing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from reseller import catalog_build, db, errors
from reseller.catalog_build import Built, UpstreamKey
from reseller.config import Config
from reseller.db import Q
from reseller.upstream import ProviderClient, Upstreams, UpstreamService

log = structlog.get_logger()
_LOCK_KEY = 0x6361_7461_6C6F_67  # "catalog"


@dataclass
class SyncReport:
    offered: dict[str, int] = field(default_factory=dict)  # provider → services offered
    failed: dict[str, str] = field(default_factory=dict)  # provider → why
    disabled: list[tuple[int, str]] = field(default_factory=list)  # (local ID, reason)
    enabled: int = 0


async def sync(pool: db.Pool, config: Config, upstreams: Upstreams) -> SyncReport:
    report = SyncReport()
    clients = list(upstreams)
    results = await asyncio.gather(*(_fetch(c) for c in clients), return_exceptions=True)
    for client, result in zip(clients, results, strict=True):
        if isinstance(result, BaseException):
            report.failed[client.name] = str(result)
            log.warning("catalog_fetch_failed", provider=client.name, error=str(result))
            continue
        await _store_offers(pool, client.name, result)
        report.offered[client.name] = len(result)
    built = await rebuild(pool, config)
    report.enabled = sum(e.enabled for e in built.entries)
    report.disabled = [
        (e.service.id, e.disabled_reason or "") for e in built.entries if not e.enabled
    ]
    for service_id, reason in report.disabled:
        log.warning("service_disabled", service=service_id, reason=reason)
    return report


async def _fetch(client: ProviderClient) -> list[UpstreamService]:
    try:
        return await client.services()
    except errors.UpstreamError:
        raise
    except Exception as exc:  # one provider's surprise must not stop the others' sync
        raise errors.UpstreamUnknown(f"{type(exc).__name__}: {exc}") from exc


async def _store_offers(pool: db.Pool, provider: str, services: list[UpstreamService]) -> None:
    async with pool.acquire() as conn, conn.transaction():
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


async def rebuild(pool: db.Pool, config: Config) -> Built:
    """Write the catalog the config and the stored offers describe (no upstream calls)."""
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q.lock_catalog, _LOCK_KEY)
        offered = {
            (r["provider"], r["service_id"]): _offer(r)
            for r in await conn.fetch(Q.offered_services)
        }
        import_ids: dict[UpstreamKey, int] = {
            (r["provider"], r["upstream_service"]): r["local_id"]
            for r in await conn.fetch(Q.import_ids)
        }
        built = catalog_build.build(config, offered, import_ids)
        await conn.executemany(
            Q.insert_import_id, [(p, s, i) for (p, s), i in built.new_import_ids.items()]
        )
        await _write(conn, built)
    return built


async def _write(conn: db.Connection, built: Built) -> None:
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


def _offer(row: db.Record) -> UpstreamService:
    return UpstreamService(
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
