"""Requests per minute per customer: a token bucket in this process's memory.

The bucket holds up to `limit` tokens and refills at `limit` per minute, so a client may burst
to its limit and then proceed at the steady rate. With several processes each keeps its own
buckets (see the README's note on scaling out).
"""

from __future__ import annotations

import time
from collections.abc import Callable


class RateLimiter:
    def __init__(self, per_minute: int, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.default = per_minute
        self._clock = clock
        self._buckets: dict[int, tuple[float, float]] = {}  # customer id → (tokens, updated at)

    def allow(self, customer_id: int, per_minute: int | None = None) -> bool:
        limit = per_minute or self.default
        now = self._clock()
        tokens, updated = self._buckets.get(customer_id, (float(limit), now))
        tokens = min(float(limit), tokens + (now - updated) * limit / 60.0)
        allowed = tokens >= 1.0
        self._buckets[customer_id] = (tokens - 1.0 if allowed else tokens, now)
        return allowed
