"""The heap is frozen between collections, and a cycle that was garbage when frozen is still
freed by the next collection: freezing must not turn into a leak."""

from __future__ import annotations

import asyncio
import gc
import weakref

from reseller import heap


class Node:
    def __init__(self) -> None:
        self.me = self  # a cycle: only the collector frees it


async def test_a_frozen_cycle_outlives_full_passes_until_the_next_collection() -> None:
    now = [0.0]
    keeper = asyncio.create_task(heap.keep_frozen(0.01, 100.0, clock=lambda: now[0]))
    try:
        garbage = Node()
        alive = weakref.ref(garbage)
        del garbage
        await asyncio.sleep(0.05)  # frozen by now, and not yet collected
        assert gc.get_freeze_count() > 0
        gc.collect()
        assert alive() is not None  # a full pass does not walk the frozen heap
        now[0] = 100.0  # the collection is due
        await asyncio.sleep(0.05)
        assert alive() is None
    finally:
        keeper.cancel()
        await asyncio.gather(keeper, return_exceptions=True)
    assert gc.get_freeze_count() == 0  # thawed when stopped
