"""The panel's state: balance, orders and refills progressing over compressed time, and the log
of every request that reached it.

Progress is computed lazily from the clock whenever an order is read, so the simulator needs no
background task and a test can jump ahead with `skip()` instead of sleeping.
"""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from reseller.money import quantize
from reseller.orders import links
from reseller.simulator import catalog, outcomes
from reseller.simulator.config import SimConfig
from reseller.simulator.models import (
    CANCELED,
    FINAL,
    RecordedRequest,
    SimError,
    SimOrder,
    SimRefill,
)

DONE_STEP = 3  # ticks: 0 Pending, 1-2 In progress, 3 final


class Simulator:
    def __init__(
        self, config: SimConfig | None = None, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.config = config or SimConfig()
        self.services = catalog.load(self.config.services)
        self.requests: list[RecordedRequest] = []
        self.orders: dict[int, SimOrder] = {}
        self.refills: dict[int, SimRefill] = {}
        self.down = False
        self.rng = random.Random(self.config.seed)
        self._balance = Decimal(self.config.balance)
        self._clock = clock
        self._skipped = 0.0
        self._next_order = self.config.first_order_id
        self._next_refill = self.config.first_refill_id
        self._active: set[int] = set()
        self._adds: Counter[str] = Counter()
        self._last_for_link: dict[tuple[int, str], int] = {}
        # Active orders by (service, link key): the real target, however the link is written.
        self._on_target: dict[tuple[int, str], list[int]] = {}
        self.duplicate_refusals = 0  # adds refused because their link had an active order

    # --- clock and request log ---

    def now(self) -> float:
        return self._clock() + self._skipped

    def skip(self, seconds: float) -> None:
        """Move the simulated clock forward: orders progress as if that time had passed."""
        self._skipped += seconds

    def record(
        self, method: str, params: dict[str, str], fault: str | None = None
    ) -> RecordedRequest:
        entry = RecordedRequest(
            action=params.get("action"),
            params={k: v for k, v in params.items() if k != "key"},
            time=self.now(),
            method=method,
            fault=fault,
        )
        self.requests.append(entry)
        if fault != "down" and entry.action == "add":
            self._adds[params.get("link") or params.get("username") or ""] += 1
        limit = self.config.max_recorded
        if len(self.requests) > limit + limit // 10:  # trim in batches: amortised O(1)
            del self.requests[: len(self.requests) - limit]
        return entry

    def adds_for_link(self, link: str) -> int:
        """How many add requests for this link reached the panel (whatever their outcome)."""
        return self._adds[link]

    def orders_for_link(self, link: str) -> list[SimOrder]:
        return [o for o in self.orders.values() if o.link == link]

    # --- test hooks ---

    def set_rate(self, service_id: int, rate: Decimal | str) -> None:
        self.services[service_id].rate = Decimal(rate)

    def remove_service(self, service_id: int) -> None:
        self.services.pop(service_id, None)

    def add_service(self, spec: dict) -> None:
        service = catalog.from_dict(spec)
        self.services[service.service] = service

    def force_status(self, order_id: int, status: str, remains: int | None = None) -> None:
        """Pin an order to `status` (any spelling) and settle its money as a panel would: the
        refund becomes what that status implies (none for a status that is not final)."""
        order = self.orders[order_id]
        kind = status.lower()
        if remains is None:
            remains = {"completed": 0, "partial": order.quantity // 2}.get(
                kind, order.quantity if kind in CANCELED else order.remains
            )
        order.remains = remains
        order.status = status
        order.pinned = True
        order.final = kind in FINAL
        if kind != "pending" and not order.start_count:
            order.start_count = outcomes.start_count(self.config, order.id)
        self._settle(order, order.refund_for(kind, remains))
        if order.final:
            self._active.discard(order.id)

    def force_refill_status(self, refill_id: int, status: str) -> None:
        refill = self.refills[refill_id]
        refill.status = status
        refill.pinned = True

    # --- money ---

    @property
    def balance(self) -> Decimal:
        """The panel balance, after every refund that is due by now."""
        self.settle_all()
        return self._balance

    @balance.setter
    def balance(self, value: Decimal) -> None:
        self._balance = Decimal(value)

    def settle_all(self) -> None:
        now = self.now()
        for order_id in list(self._active):
            self._advance(self.orders[order_id], now)

    def _settle(self, order: SimOrder, refund: Decimal) -> None:
        """Bring the order's refund to `refund`: the balance moves by the difference only."""
        refund = min(max(refund, Decimal(0)), order.charge)
        if outcomes.keeps_refund(self.config, order.id):
            refund = Decimal(0)
        self._balance += refund - order.refunded
        order.refunded = refund

    # --- orders ---

    def place_order(
        self,
        service: catalog.SimService,
        link: str,
        quantity: int,
        charge: Decimal,
        fields: dict[str, str],
        runs: int = 1,
    ) -> SimOrder:
        if self.config.refuse_duplicate_links:
            last = self._last_for_link.get((service.service, link))
            active = self.order(last) if last is not None else None
            if active is not None and not active.final:
                self.duplicate_refusals += 1
                raise SimError(
                    "You have active order with this link. Please wait until order being"
                    f" completed. (active order: {active.id})"
                )
        if outcomes.overcharges(self.config, self._next_order):
            charge = quantize(charge * (100 + self.config.overcharge_percent) / 100)
        if charge > self._balance and charge > self.balance:  # settle refunds only if needed
            raise SimError("Not enough funds on balance")
        order = SimOrder(
            id=self._next_order,
            service=service.service,
            type=service.type,
            link=link,
            quantity=quantity,
            charge=charge,
            created=self.now(),
            fields=fields,
            runs=runs,
            remains=quantity,
        )
        on_target = self._on_target.setdefault((service.service, links.link_key(link)), [])
        on_target[:] = [i for i in on_target if not self._is_final(i)]
        order.overlapped = bool(on_target)
        on_target.append(order.id)
        self._next_order += 1
        self._balance -= charge
        self.orders[order.id] = order
        self._active.add(order.id)
        self._last_for_link[(service.service, link)] = order.id
        return order

    def _is_final(self, order_id: int) -> bool:
        order = self.order(order_id)
        return order is None or order.final

    def overlapped(self) -> list[SimOrder]:
        """Orders placed while their target had an active order of the same service."""
        return [o for o in self.orders.values() if o.overlapped]

    def order(self, order_id: int | None) -> SimOrder | None:
        """The order as of now, or None."""
        order = self.orders.get(order_id) if order_id is not None else None
        if order is not None:
            self._advance(order, self.now())
        return order

    def request_cancel(self, order_id: int | None) -> None:
        order = self.order(order_id)
        if order is None:
            raise SimError("Incorrect order ID")
        service = self.services.get(order.service)
        if service is None or not service.cancel or order.final or order.cancel_at is not None:
            raise SimError("Cancel is not available for this order")
        tick = self.config.tick
        step = int((self.now() - order.created) / tick) if tick > 0 else 0
        order.cancel_remains = order.quantity if order.status == "Pending" else order.remains
        order.cancel_at = order.created + (step + 1) * max(tick, 0.0)

    def _advance(self, order: SimOrder, now: float) -> None:
        if order.final:
            return
        if order.cancel_at is not None and now >= order.cancel_at:
            self._finish(order, order.cancel_remains)
            return
        if order.pinned:
            return
        tick = outcomes.tick_for(self.config, order)
        step = DONE_STEP if tick <= 0 else int((now - order.created) / tick)
        if step >= DONE_STEP:
            self._finish(order, outcomes.remains_at_end(self.config, order))
        elif step >= 1:
            order.status = "In progress"
            order.start_count = order.start_count or outcomes.start_count(self.config, order.id)
            order.remains = order.quantity - order.quantity * step // DONE_STEP

    def _finish(self, order: SimOrder, remains: int) -> None:
        remains = min(max(remains, 0), order.quantity)
        if remains == 0:
            order.status = "Completed"
        elif remains == order.quantity:
            order.status = "Canceled"
        else:
            order.status = "Partial"
        order.remains = remains
        order.start_count = order.start_count or outcomes.start_count(self.config, order.id)
        order.final = True
        self._settle(order, order.refund_for(order.status.lower(), remains))
        self._active.discard(order.id)

    # --- refills ---

    def request_refill(self, order_id: int | None) -> int:
        order = self.order(order_id)
        if order is None:
            raise SimError("Incorrect order ID")
        service = self.services.get(order.service)
        if service is None or not service.refill or order.status not in ("Completed", "Partial"):
            raise SimError("Refill is not available for this order")
        refill = SimRefill(id=self._next_refill, order=order.id, created=self.now())
        self._next_refill += 1
        self.refills[refill.id] = refill
        return refill.id

    def refill(self, refill_id: int | None) -> SimRefill | None:
        refill = self.refills.get(refill_id) if refill_id is not None else None
        if refill is None or refill.pinned or refill.status in ("Completed", "Rejected"):
            return refill
        tick = self.config.tick
        step = DONE_STEP if tick <= 0 else int((self.now() - refill.created) / tick)
        if step >= 2:
            refill.status = outcomes.refill_end(self.config, refill.id)
        elif step == 1:
            refill.status = "In progress"
        return refill
