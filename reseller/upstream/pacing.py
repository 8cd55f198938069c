"""Per-provider pacing: at most N calls in flight and R calls per minute."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager


class Pacer:
    """A semaphore for concurrency plus a token bucket (burst = one second's worth) for rate."""

    def __init__(self, *, concurrency: int, per_minute: int) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._rate = per_minute / 60.0
        self._burst = max(1.0, self._rate)
        self._tokens = self._burst
        self._updated = time.monotonic()
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            await self._take_token()
            yield

    async def _take_token(self) -> None:
        async with self._lock:  # callers queue in order; each waits for its own token
            now = time.monotonic()
            self._tokens = min(self._burst, self._tokens + (now - self._updated) * self._rate)
            self._updated = now
            if self._tokens < 1.0:
                wait = (1.0 - self._tokens) / self._rate
                await asyncio.sleep(wait)
                self._tokens, self._updated = 1.0, time.monotonic()
            self._tokens -= 1.0
