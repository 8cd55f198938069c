"""The console's guards as a person meets them in Chromium: signing in and out, the lock after
repeated wrong passwords, a form sent without its CSRF token, a viewer who can change nothing."""

from __future__ import annotations

import pytest
from console_client import PASSWORD, VIEWER
from playwright.async_api import expect

from tests.browser.browsing import open_page, sign_in

pytestmark = pytest.mark.browser


async def test_an_operator_signs_in_sees_the_dashboard_and_signs_out(page, screenshot) -> None:
    assert await sign_in(page) == 200
    await expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    await expect(page.locator("header")).to_contain_text("ana (admin)")
    await screenshot(page, "dashboard-empty")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    await page.goto("/")
    await expect(page).to_have_url("/login")


async def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(
    page, screenshot
) -> None:
    for _ in range(5):
        assert await sign_in(page, password="wrong horse battery") == 401
        await expect(page.get_by_role("alert")).to_have_text("Wrong name or password.")
    assert await sign_in(page, password=PASSWORD) == 429
    await expect(page.get_by_role("alert")).to_contain_text("Too many sign-in attempts")
    await screenshot(page, "sign-in-locked")


async def test_a_form_sent_without_its_csrf_token_is_refused_and_changes_nothing(
    page, stack, screenshot
) -> None:
    await sign_in(page)
    await page.goto("/customers")
    await page.locator("main input[name=csrf]").evaluate_all(
        "inputs => inputs.forEach(i => i.remove())"
    )
    await page.get_by_label("Name", exact=True).fill("mallory")
    async with page.expect_navigation() as answer:
        await page.get_by_role("button", name="Create customer").click()
    assert (await answer.value).status == 403
    await screenshot(page, "csrf-refused")
    assert await stack.pool.fetchval("SELECT count(*) FROM customers WHERE name = 'mallory'") == 0


async def test_a_viewer_is_shown_no_form_that_changes_anything_and_a_forced_one_is_refused(
    page, stack, screenshot
) -> None:
    order_id = (await stack.add(link="https://ig.com/viewer"))["order"]
    await stack.settle()
    await sign_in(page, VIEWER)
    for path in (
        "/",
        "/orders",
        f"/orders/{order_id}",
        "/orders/uncertain",
        "/customers",
        "/customers/acme",
        "/customers/acme/statement",
        "/services",
        "/providers",
        "/audit",
    ):
        assert await open_page(page, path) == 200, path
        posts = await page.locator("form[method=post]").evaluate_all(
            "forms => forms.map(f => f.getAttribute('action'))"
        )
        assert posts == ["/logout"], path
    await screenshot(page, "viewer-audit")
    balance = await stack.pool.fetchval("SELECT balance FROM customers WHERE name = 'acme'")
    token = await page.locator("input[name=csrf]").first.input_value()
    refused = await page.request.post(
        "/customers/acme/balance", form={"csrf": token, "amount": "1000", "reason": "gift"}
    )
    assert refused.status == 403
    assert "read-only" in await refused.text()
    assert await stack.pool.fetchval("SELECT balance FROM customers WHERE name = 'acme'") == balance
