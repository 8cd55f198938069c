"""The heap is frozen between collections: fresh garbage is dropped before each freeze, and a
cycle that was old garbage when frozen is still freed by the next collection (no leak)."""

from __future__ import annotations

import asyncio
import gc
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from reseller import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


@asynccontextmanager
async def keeping_frozen(now: list[float]) -> AsyncIterator[None]:
    """keep_frozen every 10 ms, collecting when `now` reaches 100."""
    keeper = asyncio.create_task(heap.keep_frozen(0.01, 100.0, clock=lambda: now[0]))
    try:
        yield
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)


async def test_an_old_cycle_frozen_as_garbage_is_freed_by_the_next_collection() -> None:
    now = [0.0]
    async with keeping_frozen(now):
        node = Node()
        gc.collect()  # survives into the oldest generation
        alive = weakref.ref(node)
        del node  # old garbage now: only a full pass would free it
        await asyncio.sleep(0.05)  # frozen meanwhile
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert alive() is not None  # full passes do not walk the frozen heap
        now[0] = 100.0  # the hourly collection is due
        await asyncio.sleep(0.05)
        assert alive() is None
    assert gc.get_freeze_count() == 0  # thawed when stopped


async def test_fresh_garbage_is_collected_before_it_could_be_frozen() -> None:
    async with keeping_frozen([0.0]):
        node = Node()
        alive = weakref.ref(node)
        del node
        await asyncio.sleep(0.05)  # several freezes, no full pass
        assert gc.get_freeze_count() > 0
        assert alive() is None
