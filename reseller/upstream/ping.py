"""Whether a provider answers now, and how fast: it is asked its balance (the cheapest call
every panel has). Nothing is recorded: the balances job keeps the provider's health."""

from __future__ import annotations

import time
from dataclasses import dataclass

from reseller import errors
from reseller.upstream.client import ProviderClient


@dataclass(frozen=True, slots=True)
class Ping:
    milliseconds: int | None  # None: it did not answer
    error: str | None = None

    def __str__(self) -> str:
        return f"FAILED {self.error}" if self.error else f"ok {self.milliseconds} ms"


async def ping(client: ProviderClient) -> Ping:
    started = time.perf_counter()
    try:
        await client.balance()
    except errors.UpstreamError as exc:
        return Ping(None, f"{type(exc).__name__}: {exc.message}")
    return Ping(round((time.perf_counter() - started) * 1000))
