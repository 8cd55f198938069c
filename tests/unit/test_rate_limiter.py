"""The per-process token bucket: a burst up to the limit, then the steady rate, and buckets of
clients gone quiet are forgotten (a flood from ever-new addresses must not grow memory for ever)."""

from __future__ import annotations

from reseller.api.ratelimit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_a_burst_up_to_the_limit_then_one_token_per_minute_over_limit() -> None:
    clock = Clock()
    limiter = RateLimiter(6, clock=clock)
    assert [await limiter.allow("a") for _ in range(7)] == [True] * 6 + [False]
    assert await limiter.exhausted("a")
    clock.now += 10  # 6 per minute: one token every 10 s
    assert not await limiter.exhausted("a")
    assert [await limiter.allow("a") for _ in range(2)] == [True, False]


async def test_buckets_untouched_for_a_minute_are_forgotten_and_start_full() -> None:
    clock = Clock()
    limiter = RateLimiter(2, clock=clock)
    for n in range(1000):  # a flood, each request from a new address
        await limiter.allow(f"10.0.{n // 256}.{n % 256}")
    await limiter.allow("recent")
    assert len(limiter) == 1001
    clock.now += 61
    await limiter.allow("recent")  # the sweep runs at most once a minute, on a request
    assert len(limiter) == 1
    assert [await limiter.allow("10.0.0.0") for _ in range(3)] == [True, True, False]
