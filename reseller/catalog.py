"""The local service catalog: what customers see in `services` and may order.

The catalog lives in the `services` table. Something writes it — today the config file's
`services:` section (`apply_config`), later the upstream sync — and the API reads it through
`load`, which also encodes the `services` answer once per change instead of once per request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

import orjson

from reseller import db, money
from reseller.config import ServiceConfig
from reseller.db import Q

_LOCK_KEY = 0x6361_7461_6C6F_67  # "catalog"


@dataclass(frozen=True, slots=True)
class Service:
    id: int
    name: str
    type: str
    category: str
    rate: Decimal  # per 1000 units, or per package for package types
    min: int
    max: int
    refill: bool
    cancel: bool
    dripfeed: bool

    def as_api(self) -> dict[str, object]:
        return {
            "service": self.id,
            "name": self.name,
            "type": self.type,
            "category": self.category,
            "rate": money.format_amount(self.rate),
            "min": str(self.min),
            "max": str(self.max),
            "refill": self.refill,
            "cancel": self.cancel,
            "dripfeed": self.dripfeed,
        }


class Catalog:
    """An immutable snapshot of the enabled services, with the encoded `services` answer."""

    def __init__(self, services: Iterable[Service]) -> None:
        self._by_id = {s.id: s for s in services}
        self.encoded = orjson.dumps([s.as_api() for s in self._by_id.values()])

    def get(self, service_id: int) -> Service | None:
        return self._by_id.get(service_id)

    def __len__(self) -> int:
        return len(self._by_id)


async def load(pool: db.Pool) -> Catalog:
    rows = await pool.fetch(Q.enabled_services)
    return Catalog(
        Service(
            id=r["id"],
            name=r["name"],
            type=r["type"],
            category=r["category"],
            rate=r["rate"],
            min=r["min_quantity"],
            max=r["max_quantity"],
            refill=r["refill"],
            cancel=r["cancel"],
            dripfeed=r["dripfeed"],
        )
        for r in rows
    )


async def apply_config(pool: db.Pool, services: Iterable[ServiceConfig]) -> None:
    """Make the table match the config: upsert its services, disable the ones it dropped."""
    services = list(services)
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute(Q.lock_catalog, _LOCK_KEY)
        for s in services:
            await conn.execute(
                Q.upsert_service,
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
            await conn.execute(Q.upsert_service_upstream, s.id, 0, s.provider, s.upstream_service)
            await conn.execute(Q.delete_service_upstreams_after, s.id, 0)
        await conn.execute(Q.disable_services_except, [s.id for s in services], "not in config")


class LiveCatalog:
    """The catalog the API serves now; replaced whole when the catalog changes."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.current = catalog or Catalog(())

    async def refresh(self, pool: db.Pool) -> None:
        self.current = await load(pool)
