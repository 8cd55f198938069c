"""Group commit for one customer's concurrent adds.

On durable storage each commit waits for its WAL flush, and one customer's adds queue on that
customer's row lock: one flush at a time. Here, while one of a customer's adds is being
committed, that customer's next adds (in this process) wait and then go together, in one
transaction (`place.place_together`): one lock, one debit, one flush for the lot. There is no
timer: a batch is whatever arrived while the previous commit was in flight, so a lone add is
placed at once, by the statement it always used. Every answer waits for its batch's commit;
a batch that fails fails each of its adds, and nothing of it stays. Adds from other processes
still queue on the row lock, so nothing can overdraw.
"""

from __future__ import annotations

import asyncio

from reseller import db, errors, metrics
from reseller.orders import place
from reseller.orders.place import Placement

Waiting = list[tuple[Placement, "asyncio.Future[int]"]]


class GroupCommit:
    def __init__(self, pool: db.Database) -> None:
        self._pool = pool
        self._committing: set[int] = set()  # customers with a commit in flight
        self._waiting: dict[int, Waiting] = {}  # their next batch, in arrival order
        self._tasks: set[asyncio.Task[None]] = set()  # held: the loop keeps weak references

    async def place(self, placement: Placement) -> int:
        """The new order's ID once its transaction has committed; InsufficientBalance, or the
        database's error, as a lone add would raise it."""
        customer_id = placement.customer.id
        if customer_id in self._committing:
            future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
            self._waiting.setdefault(customer_id, []).append((placement, future))
            return await future
        self._committing.add(customer_id)
        try:
            metrics.ADD_BATCH_SIZE.observe(1)
            return await place.place(self._pool, placement)
        finally:
            self._next(customer_id)

    def _next(self, customer_id: int) -> None:
        """After a commit: the adds that arrived meanwhile go next, or the customer is idle."""
        if customer_id in self._waiting:
            task = asyncio.create_task(self._drain(customer_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            self._committing.discard(customer_id)

    async def _drain(self, customer_id: int) -> None:
        try:
            while batch := self._waiting.pop(customer_id, None):
                await self._commit(batch)
        finally:
            self._committing.discard(customer_id)

    async def _commit(self, batch: Waiting) -> None:
        batch = [(p, future) for p, future in batch if not future.done()]  # not given up on
        if not batch:
            return
        metrics.ADD_BATCH_SIZE.observe(len(batch))
        try:
            if len(batch) == 1:
                placed: list[int | None] = [await place.place(self._pool, batch[0][0])]
            else:
                placed = await place.place_together(self._pool, [p for p, _ in batch])
        except errors.InsufficientBalance:  # a lone add refused (or the balance's CHECK)
            placed = [None] * len(batch)
        except asyncio.CancelledError:  # shutting down: the waiters are cancelled with it
            for _, future in batch:
                future.cancel()
            raise
        except Exception as exc:  # rolled back: none of the batch exists
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), order_id in zip(batch, placed, strict=True):
            if future.done():
                continue
            if order_id is None:
                future.set_exception(errors.InsufficientBalance())
            else:
                future.set_result(order_id)
