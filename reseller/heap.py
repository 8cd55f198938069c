"""Keeps the long-lived heap out of the garbage collector's full passes.

A full pass (generation 2) walks every object the collector tracks. The catalog and its priced
views live long and are large: one Service object per service per view, so 100 price groups
of 1 000 services make 100 000 of them. Under load, a full pass ran every few seconds and held
the event loop for 40–90 ms each time, and every request in flight waited through it: it was
the API's p99. Frozen objects (`gc.freeze`, the permanent generation) are not walked.

So every `freeze_seconds` the young generations are collected (a millisecond or two, to drop
the requests' fresh garbage) and whatever is alive is frozen. Freezing is a move of lists, with
no pause. Every `collect_seconds` the heap is thawed and collected once. This frees any cycle
that was already garbage when it was frozen (refcounting frees the rest as usual). The result
is one full pass an hour instead of one every few seconds.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Callable

FREEZE_SECONDS = 60.0
COLLECT_SECONDS = 3600.0


async def keep_frozen(
    freeze_seconds: float = FREEZE_SECONDS,
    collect_seconds: float = COLLECT_SECONDS,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Runs until cancelled, and then thaws what it froze."""
    collected = clock()
    try:
        while True:
            await asyncio.sleep(freeze_seconds)
            if clock() - collected >= collect_seconds:
                gc.unfreeze()
                gc.collect()
                collected = clock()
            gc.collect(1)
            gc.freeze()
    finally:
        gc.unfreeze()
