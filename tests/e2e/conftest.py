"""Browser tests for the slides: headless Debian Chromium driven by Python Playwright.

They run with `make test-e2e` (pytest tests/e2e -m e2e) and are skipped otherwise, and skipped with
the reason when Chromium or Playwright is missing (.ci/run installs both and sets
D2L_E2E_REQUIRED=1, which turns those skips into failures). Nothing here downloads a
browser: Playwright drives the system's /usr/bin/chromium (D2L_CHROMIUM overrides the path).
Screenshots and reports go to build/e2e-artifacts/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import pytest
from e2e_support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    CHROMIUM_HINT,
    PLAYWRIGHT_HINT,
    SLIDES,
    VIEWPORT,
    Guard,
    deck_id,
    deck_notebooks,
    export_decks,
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "e2e: browser tests in headless Chromium (make test-e2e)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests are slow: they run only when asked for with -m e2e (make test-e2e)."""
    if "e2e" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="browser test: run it with make test-e2e")
    for item in items:
        if item.get_closest_marker("e2e"):
            item.add_marker(skip)


def _missing(reason: str) -> None:
    """Skip, or fail where the browser tests must run (CI sets D2L_E2E_REQUIRED=1)."""
    if os.environ.get("D2L_E2E_REQUIRED") == "1":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        _missing(f"Chromium is not installed at {CHROMIUM}: {CHROMIUM_HINT}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing(f"Python Playwright is not installed: {PLAYWRIGHT_HINT}")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                     headless=True, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def guarded_page(browser):
    """A fresh 1280x720 page whose requests can reach loopback only; yields (page, guard)."""
    context = browser.new_context(viewport=VIEWPORT, device_scale_factor=1)
    context.set_default_timeout(30_000)
    guard = Guard()
    page = context.new_page()
    guard.attach(page)
    try:
        yield page, guard
    finally:
        context.close()


# --- static decks -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def exported_decks(browser) -> Path:
    """Run the `make slides` backend once per session (fast when the decks are up to date)."""
    export_decks()
    return SLIDES


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


@pytest.fixture(scope="session")
def deck_server(exported_decks):
    """Serve build/slides on a free loopback port; yields its base URL."""
    handler = functools.partial(_QuietHandler, directory=str(exported_decks))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "notebook" in metafunc.fixturenames:
        nbs = deck_notebooks()
        metafunc.parametrize("notebook", nbs, ids=[deck_id(p) for p in nbs])
