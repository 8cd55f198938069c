"""The operator's overrides of the catalog: a service taken off sale by hand stays off sale
through every rebuild (start, reload, sync) until the operator puts it back.

Kept in `service_overrides`, read by every rebuild (`sync.rebuild_within`), which hands them to
the pure builder. Each change is recorded in the audit trail in its own transaction.
"""

from __future__ import annotations

from reseller import audit, db, errors, locks
from reseller.audit import Actor
from reseller.catalog import build as catalog_build
from reseller.catalog import sync as catalog_sync
from reseller.config import Config
from reseller.db import Q


async def disable(pool: db.Database, service_id: int, *, by: Actor) -> None:
    """Off sale now and at every rebuild, for `by.reason` (required: `services list` shows it).
    Needs no config: taking a service off sale is right whatever the catalog would say."""
    if not by.reason:
        raise ValueError("disabling a service needs a reason")
    async with pool.transaction() as conn:
        # Behind any rebuild under way: one that read the overrides before this commits would
        # otherwise put the service back on sale.
        await conn.execute(Q.lock_catalog, locks.CATALOG_WRITE)
        was = await conn.fetchrow(
            Q.disable_by_operator, service_id, catalog_build.operator_reason(by.reason)
        )
        if was is None:
            raise errors.NotFound(f"no service with ID {service_id}")
        await conn.execute(Q.upsert_override, service_id, by.reason)
        before = "on sale" if was["enabled"] else f"off sale: {was['disabled_reason']}"
        await audit.record(conn, by, "service-disable", _subject(service_id), {"was": before})


async def enable(
    pool: db.Database, config: Config, service_id: int, *, by: Actor
) -> catalog_sync.Rebuilt:
    """Remove the override and rebuild the catalog from `config` and the stored offers, as a
    reload does: the service is on sale again only if the catalog allows it."""
    async with pool.transaction() as conn:
        if await conn.fetchval(Q.delete_override, service_id) is None:
            if not await conn.fetchval(Q.service_exists, service_id):
                raise errors.NotFound(f"no service with ID {service_id}")
            raise errors.ResellerError(
                f"service {service_id} is not disabled by the operator; nothing changed"
            )
        rebuilt = await catalog_sync.rebuild_within(conn, config, refuse_to_empty=True)
        now = state(rebuilt, service_id)
        await audit.record(conn, by, "service-enable", _subject(service_id), {"now": now})
    return rebuilt


def state(rebuilt: catalog_sync.Rebuilt, service_id: int) -> str:
    """Where a service stands after a rebuild, in words."""
    entry = next((e for e in rebuilt.built.entries if e.service.id == service_id), None)
    if entry is None:
        return f"off sale: {catalog_sync.NOT_IN_CONFIG}"
    return "on sale" if entry.enabled else f"off sale: {entry.disabled_reason}"


def _subject(service_id: int) -> str:
    return f"service {service_id}"
