"""The operator's daily work in Chromium, against the real API, dispatcher and simulated panel:
a new customer's key shown once, a top-up, an order found and watched until it settles, the
uncertain queue resolved; every page opens from the navigation (screenshots of each)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from playwright.async_api import expect
from support import money_holds
from test_resolve import uncertain_order
from test_sync import upstream_of

from tests.browser.browsing import reload_until, sign_in

pytestmark = pytest.mark.browser


async def test_a_new_customers_key_is_shown_once_and_works(page, stack, screenshot) -> None:
    await sign_in(page)
    await page.goto("/customers")
    await page.get_by_label("Name", exact=True).fill("bob")
    await page.get_by_role("button", name="Create customer").click()
    key = (await page.locator("#new-key").inner_text()).strip()
    await expect(page.locator("main")).to_contain_text("shown once")
    assert "error" not in await stack.api.call(key=key, action="balance")
    await page.reload()  # sends the form again: refused, and the key is not shown
    await expect(page.locator("p.flash.error")).to_contain_text("exists already")
    assert await page.locator("#new-key").count() == 0
    assert key not in await page.content()
    assert await stack.pool.fetchval("SELECT count(*) FROM customers WHERE name = 'bob'") == 1
    await page.get_by_role("link", name="bob", exact=True).click()
    await expect(page.get_by_role("heading", name="bob")).to_be_visible()
    assert key not in await page.content()
    await page.get_by_role("link", name="Customers", exact=True).click()
    await screenshot(page, "customer-created")


async def test_a_top_up_with_its_reason_shows_in_the_balance_and_the_audit_log(
    page, stack, screenshot
) -> None:
    await sign_in(page)
    await page.goto("/customers/acme")
    await page.get_by_label("Amount").fill("25")
    await page.get_by_label("Reason").fill("wire 4711")
    await page.get_by_role("button", name="Apply", exact=True).click()
    await expect(page.locator("p.flash.ok")).to_be_visible()
    await expect(page.locator("main")).to_contain_text("125")
    assert await stack.pool.fetchval("SELECT balance FROM customers WHERE name = 'acme'") == 125
    await screenshot(page, "customer")
    await page.get_by_role("link", name="Audit log").click()
    await expect(page.locator("main")).to_contain_text("wire 4711")
    await screenshot(page, "audit-top-up")


async def test_an_order_placed_through_the_api_is_found_and_watched_until_completed(
    page, stack, screenshot
) -> None:
    order_id = (await stack.add(link="https://ig.com/watched"))["order"]
    await stack.settle()
    await sign_in(page)
    await page.get_by_role("link", name="Orders", exact=True).click()
    await page.locator(f'a[href="/orders/{order_id}"]').first.click()
    await expect(page).to_have_url(re.compile(rf"/orders/{order_id}$"))
    await expect(page.locator(".status")).not_to_have_text("Completed")
    stack.sim.state.skip(10)  # the provider finishes it
    await stack.jobs.status()
    await reload_until(page, ".status", "Completed")
    await screenshot(page, "order")


async def test_uncertain_orders_are_resolved_one_linked_one_refunded(
    page, stack, screenshot
) -> None:
    linked = await uncertain_order(stack, "https://ig.com/confirmed")
    upstream = stack.sim.state.orders_for_link("https://ig.com/confirmed")[0].id
    refunded = await uncertain_order(stack, "https://ig.com/never-arrived", fault="html")
    await sign_in(page)
    await page.goto("/orders/uncertain")
    await screenshot(page, "uncertain")
    await page.locator(f'a[href="/orders/{linked}"]').first.click()
    await page.get_by_label("Upstream order").fill(str(upstream))
    await page.get_by_label("Reason").fill("sim confirmed it")
    await page.get_by_role("button", name="Link", exact=True).click()
    await expect(page.locator("p.flash.ok")).to_be_visible()
    await page.goto("/orders/uncertain")
    await page.locator(f'a[href="/orders/{refunded}"]').first.click()
    await page.get_by_label("Reason").fill("never reached sim")
    await page.get_by_role("button", name="Refund", exact=True).click()
    await expect(page.locator("p.flash.ok")).to_be_visible()
    await screenshot(page, "order-refunded")
    assert (await stack.order(linked))["upstream_order_id"] == str(upstream)
    assert (await stack.order(refunded))["refunded"] == Decimal("0.135")
    await money_holds(stack.pool)
    await page.goto("/orders/uncertain")
    await expect(page.locator(f'a[href^="/orders/{linked}"]')).to_have_count(0)
    await expect(page.locator(f'a[href^="/orders/{refunded}"]')).to_have_count(0)


async def test_every_page_opens_from_the_navigation(page, stack, screenshot) -> None:
    links = [f"https://ig.com/nav{n}" for n in range(4)]
    partial, canceled, *_ = [(await stack.add(link=link))["order"] for link in links]
    await stack.settle()
    # The provider ends them its ways: the pages show money, refunds and several statuses.
    stack.sim.state.force_status(await upstream_of(stack, partial), "Partial", remains=40)
    stack.sim.state.force_status(await upstream_of(stack, canceled), "Canceled")
    stack.sim.state.skip(10)
    await stack.jobs.status()
    await stack.jobs.balances()
    await sign_in(page)
    for name in ("Orders", "Customers", "Services", "Providers", "Audit log", "Dashboard"):
        async with page.expect_navigation() as answer:
            await page.get_by_role("link", name=name, exact=True).click()
        assert (await answer.value).status == 200, name
        await expect(page.locator("h1")).to_be_visible()
        await screenshot(page, name.split()[0].lower())
