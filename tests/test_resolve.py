"""The operator links an uncertain order to an upstream ID only when the provider confirms it
could be ours (`reseller orders resolve ID --upstream-order N`), over the real CLI, database and
simulated provider; a linked order is then polled and settled like any other."""

from __future__ import annotations

from decimal import Decimal

import pytest
from support import add_on_the_panel, money_holds
from test_cli import run

from reseller.orders import upstream_match
from reseller.upstream.parse import StatusAnswer


async def uncertain_order(stack, link: str, fault: str = "timeout") -> int:
    """An order whose `add` answer was lost: with `timeout` the provider has it, with `html`
    it never reached the provider."""
    setattr(stack.sim.state.config.faults, fault, 1.0)
    order_id = (await stack.add(link=link))["order"]
    await stack.settle()
    setattr(stack.sim.state.config.faults, fault, 0.0)
    assert (await stack.order(order_id))["dispatch_state"] == "uncertain"
    return order_id


async def nothing_changed(stack, order_id: int) -> None:
    order = await stack.order(order_id)
    assert (order["dispatch_state"], order["upstream_order_id"]) == ("uncertain", None)
    assert await stack.pool.fetchval("SELECT count(*) FROM audit_log") == 0
    await money_holds(stack.pool)


@pytest.mark.parametrize("upstream", ["abc", "999999"])
async def test_resolve_refuses_an_upstream_order_the_provider_does_not_know(
    stack, operator, capsys, upstream
) -> None:
    order_id = await uncertain_order(stack, "https://ig.com/unknown-id")
    code, out, err = await run(
        capsys, "orders", "resolve", str(order_id), "--upstream-order", upstream
    )
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert f"sim does not know upstream order {upstream}" in err
    await nothing_changed(stack, order_id)


async def test_resolve_refuses_an_upstream_order_whose_status_does_not_fit_the_order(
    stack, operator, capsys
) -> None:
    link = "https://ig.com/not-ours"
    order_id = await uncertain_order(stack, link, fault="html")
    outside = await add_on_the_panel(stack, link, quantity=50)  # 0.045 upstream; ours 0.09
    code, _, err = await run(
        capsys, "orders", "resolve", str(order_id), "--upstream-order", str(outside)
    )
    assert code == 2
    assert err.count("\n") == 1
    assert "charge 0.045, where this order costs 0.09 upstream" in err
    await nothing_changed(stack, order_id)


async def test_resolve_refuses_an_upstream_order_linked_to_another_order(
    stack, operator, capsys
) -> None:
    placed = (await stack.add(link="https://ig.com/taken"))["order"]
    await stack.settle()
    taken = (await stack.order(placed))["upstream_order_id"]
    order_id = await uncertain_order(stack, "https://ig.com/taken-too")
    code, _, err = await run(capsys, "orders", "resolve", str(order_id), "--upstream-order", taken)
    assert code == 2
    assert f"upstream order {taken} is already linked to order {placed}" in err
    await nothing_changed(stack, order_id)


async def test_resolve_refuses_when_the_provider_cannot_be_asked(stack, operator, capsys) -> None:
    link = "https://ig.com/provider-down"
    order_id = await uncertain_order(stack, link)
    upstream = stack.sim.state.orders_for_link(link)[0].id
    stack.sim.state.down = True
    code, _, err = await run(
        capsys, "orders", "resolve", str(order_id), "--upstream-order", str(upstream)
    )
    assert code == 2
    assert "could not ask sim" in err
    await nothing_changed(stack, order_id)


async def test_resolve_refuses_an_order_whose_provider_is_not_in_the_config(
    stack, cli_env, tmp_path, capsys
) -> None:
    (tmp_path / "config.yaml").write_text("providers: []\n")
    link = "https://ig.com/no-provider"
    order_id = await uncertain_order(stack, link)
    upstream = stack.sim.state.orders_for_link(link)[0].id
    code, _, err = await run(
        capsys, "orders", "resolve", str(order_id), "--upstream-order", str(upstream)
    )
    assert code == 2
    assert "sim is not in the config" in err
    await nothing_changed(stack, order_id)


async def test_a_linked_order_is_listed_polled_and_settles_with_the_right_refund(
    stack, operator, capsys
) -> None:
    link = "https://ig.com/linked"
    order_id = await uncertain_order(stack, link)
    upstream = stack.sim.state.orders_for_link(link)[0].id
    code, out, _ = await run(
        capsys, "orders", "resolve", str(order_id), "--upstream-order", str(upstream)
    )
    assert (code, out) == (0, f"order {order_id}: linked to upstream order {upstream}\n")
    audit = await stack.pool.fetchrow("SELECT action, subject, detail FROM audit_log")
    assert dict(audit) == {
        "action": "resolve-link",
        "subject": f"order {order_id}",
        "detail": {"upstream_order": str(upstream)},
    }
    _, listing, _ = await run(capsys, "orders", "list")
    assert f"sim:{upstream}" in listing
    _, shown, _ = await run(capsys, "orders", "show", str(order_id))
    assert f"upstream_order_id  {upstream}\n" in shown
    stack.sim.state.force_status(upstream, "Partial", remains=40)
    await stack.jobs.status()
    order = await stack.order(order_id)
    assert (order["status"], order["remains"], order["refunded"]) == (
        "Partial",
        40,
        Decimal("0.054"),
    )
    assert order["settled_at"] is not None
    await money_holds(stack.pool)


# --- the fit rule itself (shared by the operator's link and the duplicate-link proof) ---

FACTS = {
    "quantity": 100,
    "runs": None,
    "upstream_rate": Decimal("0.90"),
    "upstream_type": "Default",
}


def status(state: str, charge: str | None, remains: int | None) -> StatusAnswer:
    return StatusAnswer(state, None if charge is None else Decimal(charge), 0, remains, "USD")


@pytest.mark.parametrize(
    "answer",
    [
        status("Pending", "0.09", 100),
        status("In progress", "0.1", 40),  # a panel rounding to cents
        status("Completed", "0.09", 0),
        status("Partial", "0.054", 40),  # charge net of the refund of 40 undelivered
        status("Partial", "0.09", 40),  # a panel that shows the charge before its refund
        status("Canceled", "0", 100),
    ],
)
def test_an_upstream_order_of_this_size_fits_whatever_its_status(answer) -> None:
    assert upstream_match.misfit(FACTS, answer, currency="USD") is None


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (status("Pending", "0.45", 100), "charge 0.45"),  # 500 units
        (status("In progress", "0.045", 20), "charge 0.045"),  # 50 units
        (status("Partial", "0.01", 40), "charge 0.01"),  # less than the delivered share
        (status("Pending", "0.09", 500), "remains 500"),
        (status("Pending", None, 100), "no charge"),
        (status(None, "0.09", 100), "status is not one we know"),
        (StatusAnswer("Pending", Decimal("0.09"), 0, 100, "EUR"), "in EUR"),
    ],
)
def test_an_upstream_order_that_is_not_this_one_does_not_fit(answer, why) -> None:
    assert why in upstream_match.misfit(FACTS, answer, currency="USD")


def test_a_drip_feed_or_package_order_is_costed_as_the_provider_charges_it() -> None:
    drip = {**FACTS, "runs": 3}  # 3 runs of 100
    assert upstream_match.misfit(drip, status("Pending", "0.27", 300), currency="USD") is None
    package = {
        "quantity": 1,
        "runs": None,
        "upstream_rate": Decimal("5"),
        "upstream_type": "Package",
    }
    assert upstream_match.misfit(package, status("Pending", "5", 1), currency="USD") is None
    assert "charge 10" in upstream_match.misfit(package, status("Pending", "10", 1), currency="USD")
