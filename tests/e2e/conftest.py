"""A real chromium (Debian's) driven by Playwright; skipped with the reason when unavailable."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("HELPLINE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--disable-quic"]
SCREENSHOTS = Path(os.environ.get("HELPLINE_SCREENSHOT_DIR", Path(__file__).resolve().parents[1] / "artifacts"))


def pytest_collection_modifyitems(config, items):
    for item in items:
        item.add_marker(pytest.mark.browser)


@pytest.fixture
async def browser():
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        pytest.skip(f"no chromium at {CHROMIUM}: install Debian's chromium (`apt-get install chromium`) for browser tests")
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (`pip install -e '.[test]'`)")
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        await browser.close()


@pytest.fixture
def screenshot():
    """Save a page screenshot under tests/artifacts (or HELPLINE_SCREENSHOT_DIR, e.g. docs/screenshots)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    async def take(page, name: str, **kw) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        await page.screenshot(path=str(path), **kw)
        return path

    return take
