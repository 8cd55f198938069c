"""The database outage: SIGKILL the embedded postmaster of a `reseller serve` under a steady
stream of `add` orders, time how long until the customer is answered normally again, then check
the books: every acknowledged order exists exactly once, and nothing else was charged."""

from __future__ import annotations

import asyncio
import itertools
import os
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from bench import _customer, _hostile, _procs
from reseller import db
from reseller.embedded_pg import EmbeddedPostgres

WATCH_SECONDS = 0.1


@dataclass(frozen=True, slots=True)
class Load:
    clients: int
    rate: float  # adds per second per client
    before: float  # seconds of load before the kill
    bound: float  # seconds after the kill the bench waits for recovery at most
    settle: float  # seconds of normal answers that count as recovered


@dataclass(frozen=True, slots=True)
class Outage:
    recovered_after: float | None  # seconds from the kill; None: not within the bound
    serve_exit: int | None  # the serving process's exit code, had it exited by itself
    answers: list[_customer.Answer]
    failed_after_kill: Counter[str]  # the failed answers after the kill, by what they said


def postmaster_pid(cluster: Path, parent: int) -> int:
    """The cluster's postmaster, refused unless `parent` (our `reseller serve`) started it."""
    pid = int((cluster / "postmaster.pid").read_text().split()[0])
    stat = Path(f"/proc/{pid}/stat").read_text()
    ppid = int(stat.rsplit(")", 1)[1].split()[1])
    if ppid != parent:
        raise RuntimeError(f"postmaster {pid} is not a child of reseller serve ({parent})")
    return pid


async def kill_under_load(
    url: str, key: str, serve: _procs.Server, cluster: Path, load: Load
) -> Outage:
    answers: list[_customer.Answer] = []
    stop = False
    clients = [
        asyncio.ensure_future(
            _customer.paced(
                url,
                _add_forms(key, client),
                rate=load.rate,
                keep_going=lambda: not stop,
                headers={_hostile.ADDRESS_HEADER: _hostile.CUSTOMER_ADDRESS},
                into=answers,
            )
        )
        for client in range(load.clients)
    ]
    try:
        await asyncio.sleep(load.before)
        os.kill(postmaster_pid(cluster, serve.pid), signal.SIGKILL)
        killed = time.perf_counter()
        while time.perf_counter() - killed < load.bound and serve.exit_code() is None:
            await asyncio.sleep(WATCH_SECONDS)
            first = recovered_at(answers, killed)
            if first is not None and time.perf_counter() - first >= load.settle:
                break
    finally:
        stop = True  # requests in flight finish: their answers decide what the books must show
        await asyncio.gather(*clients)
    # Judged again on every answer: one in flight at the stop may still have failed.
    first = recovered_at(answers, killed)
    failed = Counter(
        _customer.describe(a)
        for a in answers
        if a.done > killed and not _customer.answered(a, "order")
    )
    recovered = None if first is None else first - killed
    return Outage(recovered, serve.exit_code(), answers, failed)


def _add_forms(key: str, client: int) -> Iterator[dict[str, str]]:
    """`add` orders for simulated-panel service 1, each with its own link: the link finds
    the orders a request made, whatever its answer said."""
    for n in itertools.count():
        yield {
            "key": key,
            "action": "add",
            "service": "1",
            "quantity": "100",
            "link": f"https://instagram.com/p/resilience-{client}-{n}",
        }


def recovered_at(answers: list[_customer.Answer], killed: float) -> float | None:
    """When the customer was answered normally again: the first normal answer to a request
    sent after the kill and after every request that failed; None while the last failed."""
    failures = (a.sent for a in answers if a.done > killed and not _customer.answered(a, "order"))
    since = max(failures, default=killed)
    normal = [a.done for a in answers if a.sent > since and _customer.answered(a, "order")]
    return min(normal, default=None)


# --- the books ---


@dataclass(frozen=True, slots=True)
class Books:
    acknowledged: int  # requests answered {"order": id}
    found_once: int  # … whose order exists, under that ID, made once, charged once
    lost: int  # … whose order is missing
    doubled: int  # … whose request made more than one order, or whose order was charged twice
    unanswered: int  # requests with no answer at all: their order may exist or not
    charged_unanswered: int  # orders made by an unanswered request
    charged_after_error: int  # orders made by a request that was answered with an error
    balance: Decimal
    ledger: Decimal  # the sum of the customer's ledger, which the balance must equal
    expected_balance: Decimal  # opening − net charges of the orders that may exist

    @property
    def holds(self) -> bool:
        return (
            self.lost == self.doubled == self.charged_after_error == 0
            and self.balance == self.ledger == self.expected_balance
        )


_ORDERS = """
SELECT o.id, o.link,
       count(*) FILTER (WHERE l.kind = 'charge') AS charges,
       coalesce(sum(-l.amount), 0) AS net_charge
FROM orders o LEFT JOIN ledger l ON l.order_id = o.id
WHERE o.customer_id = $1
GROUP BY o.id
"""
_BALANCE = """
SELECT c.balance, (SELECT sum(amount) FROM ledger WHERE customer_id = c.id) AS ledger
FROM customers c WHERE c.id = $1
"""


def check_books(
    cluster: Path, customer_id: int, opening: Decimal, answers: list[_customer.Answer]
) -> Books:
    """Read with the serving process stopped, on the cluster started afresh (crash recovery
    included): whatever became of the killed server, what it acknowledged must be there."""
    with EmbeddedPostgres(cluster) as server:
        return asyncio.run(_books(server.dsn, customer_id, opening, answers))


async def _books(
    dsn: str, customer_id: int, opening: Decimal, answers: list[_customer.Answer]
) -> Books:
    async with db.connection(dsn) as conn:
        orders = await conn.fetch(_ORDERS, customer_id)
        balance = await conn.fetchrow(_BALANCE, customer_id)
    by_link: dict[str, list[db.Record]] = defaultdict(list)
    for order in orders:
        by_link[order["link"]].append(order)
    acknowledged = [a for a in answers if _customer.answered(a, "order")]
    unanswered = [a for a in answers if a.status is None]
    errored = [a for a in answers if a.status is not None and not _customer.answered(a, "order")]
    once = lost = doubled = 0
    for answer in acknowledged:
        made = by_link.get(answer.form["link"], [])
        if len(made) > 1 or any(o["charges"] > 1 for o in made):
            doubled += 1
        elif made and made[0]["id"] == answer.body["order"]:
            once += 1
        else:
            lost += 1
    may_exist = [o for a in (*acknowledged, *unanswered) for o in by_link.get(a.form["link"], [])]
    expected = opening - sum((o["net_charge"] for o in may_exist), Decimal(0))
    return Books(
        acknowledged=len(acknowledged),
        found_once=once,
        lost=lost,
        doubled=doubled,
        unanswered=len(unanswered),
        charged_unanswered=sum(bool(by_link.get(a.form["link"])) for a in unanswered),
        charged_after_error=sum(bool(by_link.get(a.form["link"])) for a in errored),
        balance=balance["balance"],
        ledger=balance["ledger"],
        expected_balance=expected,
    )
