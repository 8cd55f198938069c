"""What a person does in the console, as the browser tests say it."""

from __future__ import annotations

import time

from console_client import ADMIN, PASSWORD
from playwright.async_api import Page


async def sign_in(page: Page, name: str = ADMIN, password: str = PASSWORD) -> int:
    """Fill the sign-in form and send it; the HTTP status of the page it ends on."""
    await page.goto("/login")
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    async with page.expect_navigation() as answer:
        await page.get_by_role("button", name="Sign in").click()
    return (await answer.value).status


async def open_page(page: Page, path: str) -> int:
    """Go to `path`; the HTTP status of the page it ends on."""
    answer = await page.goto(path)
    assert answer is not None  # None only for a move within the same document
    return answer.status


async def reload_until(page: Page, selector: str, text: str, within: float = 5.0) -> None:
    """Reload the page until `selector` reads `text`, as a person waiting for it would."""
    deadline = time.monotonic() + within
    while (shown := (await page.locator(selector).inner_text()).strip()) != text:
        assert time.monotonic() < deadline, f"{selector} still reads {shown!r}, not {text!r}"
        await page.wait_for_timeout(100)
        await page.reload()
