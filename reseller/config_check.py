"""Whether a valid config file may be applied to this installation: `config check` and reload
(SIGHUP) run exactly these checks, so a file the check refuses is never applied by a reload.

The file's own validity (types, ranges, references) is `config.load`'s; these are what the
file alone cannot tell: environment variables, and currencies the database's customers use.
"""

from __future__ import annotations

from reseller import currencies, db, errors
from reseller.api import ratelimit_redis
from reseller.config import Config
from reseller.db import Q


async def problems(config: Config, pool: db.Database) -> list[str]:
    codes = [r["currency"] for r in await pool.fetch(Q.customer_currencies)]
    return [
        *config.missing_secrets(),
        *_redis_url_problems(config.api.rate_limit_redis_env),
        *currencies.unpriced_customers(config, codes),
    ]


def _redis_url_problems(variable: str | None) -> list[str]:
    """A named Redis variable must hold a Redis URL: unset, the limits stay per process."""
    if variable is None:
        return []
    try:
        url = ratelimit_redis.configured_url(variable)
    except errors.ConfigError as exc:
        return [exc.message]
    if url is None:
        return [f"api.rate_limit_redis_env: environment variable {variable} is not set"]
    return []
