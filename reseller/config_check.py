"""Whether a valid config file may be applied to this installation: `config check` and reload
(SIGHUP) run exactly these checks, so a file the check refuses is never applied by a reload.

The file's own validity (types, ranges, references) is `config.load`'s; these are what the
file alone cannot tell: environment variables, and currencies the database's customers use.
"""

from __future__ import annotations

from reseller import currencies, db
from reseller.config import Config
from reseller.db import Q


async def problems(config: Config, pool: db.Database) -> list[str]:
    codes = [r["currency"] for r in await pool.fetch(Q.customer_currencies)]
    return [*config.missing_secrets(), *currencies.unpriced_customers(config, codes)]
