"""A real headless Chromium for the suite's page tests, cut off from the internet.

Pages are opened in Debian's ``chromium`` (``/usr/bin/chromium``, or ``HOTHAT_CHROMIUM``) through Playwright's
Python package; nothing downloads a browser build. ``.ci/run`` installs the package ``chromium`` when it is missing.
Without a browser the tests that need one **fail** with the command to run: a browser test never skips silently.

Every context the kit opens lets requests through only to 127.0.0.1 / localhost and to local schemes (``file:``,
``data:``, ``blob:``, ``about:``); any other request is aborted and recorded, and the test fails at teardown naming
it: a municipal intranet often has no internet, and a page that needs it is broken there.

Playwright's async API, on one event loop for the whole session (one browser start per run, not per test); a
test that uses the fixtures runs on that loop too::

    pytestmark = pytest.mark.asyncio(loop_scope="session")

    async def test_page(offline_page: OfflinePage) -> None:
        await offline_page.page.goto(url)
        ...
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import pytest
import pytest_asyncio

if TYPE_CHECKING:
    from playwright.async_api import Browser, BrowserContext, Page, Route

# Chromium's background services (updates, sync, safe browsing) would otherwise try the network at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
_LOCAL_SCHEMES = {"file", "data", "blob", "about", "chrome-error"}


def chromium_path() -> str | None:
    """The browser to drive: ``HOTHAT_CHROMIUM``, else ``chromium`` on the PATH, else Debian's path if present."""
    configured = os.environ.get("HOTHAT_CHROMIUM")
    if configured:
        return configured
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def is_local(url: str) -> bool:
    """Whether a request stays on this machine."""
    parts = urlsplit(url)
    return parts.scheme in _LOCAL_SCHEMES or (parts.hostname or "") in _LOCAL_HOSTS


@attrs.define
class OfflinePage:
    """A page in a fresh context, and every request it tried to send off this machine."""

    page: Page
    outside: list[str]


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def chromium() -> AsyncIterator[Browser]:
    """The session's browser (a ``playwright.async_api.Browser``)."""
    path = chromium_path()
    if path is None:
        pytest.fail(
            "no Chromium to run the page tests: install Debian's package (apt-get install chromium) or set "
            "HOTHAT_CHROMIUM to a Chromium binary; .ci/run installs it",
            pytrace=False,
        )
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=path, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


async def open_offline(browser: Browser, **context_options: Any) -> tuple[BrowserContext, OfflinePage]:
    """A new context and page that may reach only this machine; returns ``(context, OfflinePage)``."""
    context = await browser.new_context(**context_options)
    outside: list[str] = []

    async def guard(route: Route) -> None:
        url = route.request.url
        if is_local(url):
            await route.continue_()
        else:
            outside.append(url)
            await route.abort("internetdisconnected")

    await context.route("**/*", guard)
    return context, OfflinePage(await context.new_page(), outside)


@pytest_asyncio.fixture(loop_scope="session")
async def offline_page(chromium: Browser) -> AsyncIterator[OfflinePage]:
    """A page in a desktop-sized context; the test fails if the page tried to reach beyond 127.0.0.1."""
    context, page = await open_offline(chromium, viewport={"width": 1280, "height": 900}, locale="sv-SE")
    try:
        yield page
    finally:
        await context.close()
    assert not page.outside, f"the page tried to reach the internet: {page.outside}"
