"""Numbered SQL files in `sql/` (`001_init.sql`, …), applied in order, each once, recorded.

Safe when several processes start at once: a session advisory lock serialises them, and each
file runs in its own transaction together with its record (and its data step, for the few
whose new column needs a value SQL cannot compute).
"""

from __future__ import annotations

import re
from pathlib import Path

from reseller import db, locks
from reseller.db import Q
from reseller.orders import links

_MIGRATION_FILE = re.compile(r"^\d{3}_\w+\.sql$")


def migration_files(folder: Path | None = None) -> list[Path]:
    folder = folder or db.sql_dir()
    return sorted(p for p in folder.iterdir() if _MIGRATION_FILE.match(p.name))


async def migrate(conn: db.Connection, folder: Path | None = None) -> list[str]:
    """Apply what is not applied yet; returns the names applied by this call."""
    applied_now: list[str] = []
    with db.translate_errors():
        await conn.execute(Q.lock_migrations, locks.MIGRATIONS)
        try:
            await conn.execute(Q.create_migrations_table)
            done = {r["name"] for r in await conn.fetch(Q.applied_migrations)}
            for path in migration_files(folder):
                if path.name in done:
                    continue
                async with conn.transaction():
                    await conn.execute(path.read_text(encoding="utf-8"))
                    if (data_step := _DATA_STEPS.get(path.name)) is not None:
                        await data_step(conn)
                    await conn.execute(Q.record_migration, path.name)
                applied_now.append(path.name)
        finally:
            await conn.execute(Q.unlock_migrations, locks.MIGRATIONS)
    return applied_now


async def _link_keys_of_open_orders(conn: db.Connection) -> None:
    """017: orders still open get their link's key, so that a new order for the same target
    waits for them too (a key is computed in Python: `orders.links`)."""
    rows = await conn.fetch(Q.open_orders_without_link_key)
    await conn.executemany(Q.set_link_key, [(r["id"], links.link_key(r["link"])) for r in rows])


_DATA_STEPS = {"017_link_wait.sql": _link_keys_of_open_orders}
