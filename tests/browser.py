"""Debian's chromium for the browser tests: where it is, how it is started, and what happens without it.

Without chromium a browser test is skipped, unless ``LANGOS_REQUIRE_BROWSER=1`` (set by
``.ci/run``) turns the skip into a failure.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path
from typing import Any, AsyncIterator

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def browser_required() -> bool:
    return os.environ.get("LANGOS_REQUIRE_BROWSER") == "1"


def require_tools(*tools: str) -> None:
    """Skip the calling test module unless each of ``tools`` is installed, or fail when the browser is required."""
    for tool in tools:
        path = CHROMIUM if tool == "chromium" else shutil.which(tool)
        if path is not None and Path(path).exists():
            continue
        if browser_required():
            raise RuntimeError(f"{tool} not found. Install Debian's chromium and poppler-utils packages (scripts/setup --browser).")
        pytest.skip(f"{tool} is not installed", allow_module_level=True)


def skip_without_chromium() -> pytest.MarkDecorator:
    """Return a mark that skips one test when chromium is missing.

    With the browser required, the test runs and fails instead.
    """
    return pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not browser_required(), reason="Debian's chromium is not installed"
    )


@contextlib.asynccontextmanager
async def launch_chromium() -> AsyncIterator[Any]:
    """Start headless chromium through Playwright, and close it afterwards."""
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()
