"""Requests per minute per customer (and failed authentications per client address): a token
bucket in this process's memory.

The bucket holds up to `limit` tokens and refills at `limit` per minute, so a client may burst
to its limit and then proceed at the steady rate. With several processes each keeps its own
buckets, unless they share them in Redis (`ratelimit_redis`), which falls back to these.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Protocol


class Limiter(Protocol):
    """What the API asks of a limiter, wherever it keeps its buckets."""

    async def allow(self, who: Hashable, per_minute: int | None = None) -> bool:
        """Spend a token if there is one; whether there was."""
        ...

    async def exhausted(self, who: Hashable, per_minute: int | None = None) -> bool:
        """Whether `who` has no token left, spending none."""
        ...


# A bucket untouched this long is full again, the same as none: it is dropped, so a flood from
# ever-new addresses costs memory for the last minute or two of them, not for all of them.
_FORGET_AFTER = 60.0


class RateLimiter:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.default = per_minute
        self._clock = clock
        self._buckets: dict[Hashable, tuple[float, float]] = {}  # who → (tokens, updated at)
        self._swept = clock()

    async def allow(self, who: Hashable, per_minute: int | None = None) -> bool:
        limit = per_minute or self.default
        now = self._clock()
        if now - self._swept > _FORGET_AFTER:
            self._sweep(now)
        tokens = self._tokens(who, limit, now)
        allowed = tokens >= 1.0
        self._buckets[who] = (tokens - 1.0 if allowed else tokens, now)
        return allowed

    def __len__(self) -> int:
        """Buckets held."""
        return len(self._buckets)

    def _sweep(self, now: float) -> None:
        self._buckets = {
            who: bucket for who, bucket in self._buckets.items() if now - bucket[1] <= _FORGET_AFTER
        }
        self._swept = now

    async def exhausted(self, who: Hashable, per_minute: int | None = None) -> bool:
        return self._tokens(who, per_minute or self.default, self._clock()) < 1.0

    def _tokens(self, who: Hashable, limit: int, now: float) -> float:
        tokens, updated = self._buckets.get(who, (float(limit), now))
        return min(float(limit), tokens + (now - updated) * limit / 60.0)
