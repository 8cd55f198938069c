"""The request limits shared by every process and host through Redis
(`api.rate_limit_redis_env` names the variable holding its URL).

Same buckets as `ratelimit.RateLimiter` (limit per minute, burst = limit), kept as GCRA: a key
holds the moment its bucket is full again, so one number per bucket and one atomic script per
check. The script reads Redis's own clock, so hosts with skewed clocks agree, and the key
expires at that moment, so an idle client leaves nothing behind.

Redis being away never fails a request: the check falls back to this process's own buckets.
One line is logged when it goes and one when it is back; meanwhile it is tried again only every
few seconds, by one request, so a dead Redis costs the others no latency.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Hashable

import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from reseller import errors, logs
from reseller.api.ratelimit import RateLimiter

log = logs.get_logger()
PREFIX = "reseller:rate"
RETRY_SECONDS = 5.0
# A healthy Redis on the network answers a check in about a millisecond; past these it counts
# as away. Short, because the requests in flight when it stalls wait this long (once: then the
# fallback answers at once); not shorter, so that a busy moment (a fork for a snapshot, a TLS
# handshake for rediss://) is not taken for an outage.
CONNECT_TIMEOUT_SECONDS = 0.25
COMMAND_TIMEOUT_SECONDS = 0.2

# KEYS[1]: the bucket, holding the moment (µs, Redis's clock) it is full again; none: full.
# ARGV[1]: requests per minute, also the burst; ARGV[2]: '1' spends a request, '0' only looks.
# The interval is whole µs rounded up (never faster than the limit), so the sums are exact.
SCRIPT = """
local limit = tonumber(ARGV[1])
local interval = math.ceil(60000000 / limit)
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local full_at = math.max(tonumber(redis.call('GET', KEYS[1])) or now, now)
local allowed = full_at - now <= (limit - 1) * interval
if allowed and ARGV[2] == '1' then
  full_at = full_at + interval
  local ttl_ms = math.ceil((full_at - now) / 1000)
  redis.call('SET', KEYS[1], string.format('%d', full_at), 'PX', string.format('%d', ttl_ms))
end
return allowed and 1 or 0
"""


def configured_url(variable: str) -> str | None:
    """The Redis URL `variable` holds; None when it is unset or empty. A value that is not a
    Redis URL is refused naming the variable, never quoting it: the URL may hold a password."""
    url = os.environ.get(variable, "")
    if not url:
        return None
    try:
        redis.asyncio.ConnectionPool.from_url(url)  # parses only; connects on first use
    except ValueError as exc:
        raise errors.ConfigError(
            f"api.rate_limit_redis_env: {variable} does not hold a Redis URL: {exc}"
        ) from None
    return url


class RedisBuckets:
    """One process's way to the shared buckets: the client, the script, and whether Redis is
    answering. Every limiter of the process goes through one, so it is probed and logged once."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = redis.asyncio.Redis.from_url(
            url,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS,
            socket_timeout=COMMAND_TIMEOUT_SECONDS,
            # One immediate retry on a broken connection (a pooled one the server or a proxy
            # closed); none after a timeout, which would only double the wait.
            retry=Retry(NoBackoff(), 1, supported_errors=(redis.ConnectionError,)),
            retry_on_error=[redis.ConnectionError],  # redis-py 5 retries only what this lists
        )
        self._script = self._client.register_script(SCRIPT)
        self._prefix = prefix
        self._clock = clock
        self._down_since: float | None = None
        self._retry_at = 0.0

    def limiter(self, kind: str, *, fallback: RateLimiter) -> RedisRateLimiter:
        """A limiter over the buckets named `kind` (customers, addresses), using `fallback`'s
        default limit and, while Redis is away, its buckets."""
        return RedisRateLimiter(self, kind, fallback)

    async def check(self, key: str, per_minute: int, *, spend: bool) -> bool | None:
        """Whether a request may go ahead by the shared bucket `key`; None when Redis cannot
        tell now."""
        if self._down_since is not None:
            if self._clock() < self._retry_at:
                return None
            self._retry_at = self._clock() + RETRY_SECONDS  # this request probes, no other
        try:
            allowed = await self._script(
                keys=[f"{self._prefix}:{key}"], args=[per_minute, int(spend)]
            )
        except (redis.RedisError, OSError) as exc:
            self._unavailable(exc)
            return None
        if self._down_since is not None:
            down = self._clock() - self._down_since
            self._down_since = None
            log.info("rate_limit_redis_restored", down_seconds=round(down, 1))
        return bool(allowed)

    async def close(self) -> None:
        await self._client.aclose()

    def _unavailable(self, exc: BaseException) -> None:
        now = self._clock()
        self._retry_at = now + RETRY_SECONDS
        if self._down_since is None:
            self._down_since = now
            # The error's class and text (host and port at most), never the URL.
            log.warning(
                "rate_limit_redis_unavailable",
                error=type(exc).__name__,
                detail=str(exc),
                fallback="per process",
                retry_seconds=RETRY_SECONDS,
            )


class RedisRateLimiter:
    """`ratelimit.Limiter` over shared buckets, or this process's own while Redis is away."""

    def __init__(self, buckets: RedisBuckets, kind: str, fallback: RateLimiter) -> None:
        self._buckets = buckets
        self._kind = kind
        self._fallback = fallback

    async def allow(self, who: Hashable, per_minute: int | None = None) -> bool:
        limit = per_minute or self._fallback.default
        allowed = await self._buckets.check(f"{self._kind}:{who}", limit, spend=True)
        return await self._fallback.allow(who, limit) if allowed is None else allowed

    async def exhausted(self, who: Hashable, per_minute: int | None = None) -> bool:
        limit = per_minute or self._fallback.default
        allowed = await self._buckets.check(f"{self._kind}:{who}", limit, spend=False)
        return await self._fallback.exhausted(who, limit) if allowed is None else not allowed
