"""The console in Debian's Chromium, driven by Playwright: one browser per worker, a fresh
context (cookies, storage) and page per test, pointed at the `stack_console` over the stack."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright

VIEWPORT = {"width": 1280, "height": 800}
Screenshot = Callable[[Page, str], Awaitable[None]]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        reason = "Chromium is missing: apt-get install chromium"
        if os.environ.get("CI"):
            pytest.fail(reason)  # CI must run them, never skip them unseen
        pytest.skip(reason)
    async with async_playwright() as playwright:
        # Headless, and without the sandbox (Playwright's default): CI runs as root.
        browser = await playwright.chromium.launch(executable_path=executable)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser, stack_console) -> AsyncIterator[Page]:
    """A blank page of a new context, not signed in; relative URLs go to the console."""
    context = await browser.new_context(base_url=stack_console.url, viewport=VIEWPORT)
    context.set_default_timeout(5_000)  # a missing button fails in seconds, not in 30
    page = await context.new_page()
    yield page
    await context.close()


@pytest.fixture
def screenshot(tmp_path: Path) -> Screenshot:
    """`await screenshot(page, "orders")`: the whole page as orders.png, in
    $RESELLER_SCREENSHOTS when set (docs/screenshots for the README), else the test's tmp_path."""
    folder = Path(os.environ.get("RESELLER_SCREENSHOTS") or tmp_path).resolve()
    folder.mkdir(parents=True, exist_ok=True)

    async def take(page: Page, name: str) -> None:
        await page.screenshot(path=folder / f"{name}.png", full_page=True)

    return take
