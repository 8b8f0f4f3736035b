"""The page under its real Content-Security-Policy (no bypass): it runs, the live feed connects, nothing is
blocked; the token handed over in the URL fragment works and leaves the address bar; a down frontend shows
a banner."""

from __future__ import annotations

import pytest
from loadgen_testkit import TOKEN, wait_for
from test_loadgen_browser import browser  # noqa: F401  (the shared Chromium fixture)

from rehearsal.ports import pick_free

pytestmark = pytest.mark.browser


@pytest.fixture
def strict_page(browser):  # noqa: F811
    context = browser.new_context(viewport={"width": 1440, "height": 1000})
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("console", lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None)
    yield page, problems
    context.close()


def test_page_works_under_its_csp(pair, strict_page):
    lg, _, _ = pair
    page, problems = strict_page
    page.goto(lg.url + "/")
    page.locator("#ws-state", has_text="live").wait_for(timeout=15_000)
    page.locator("#model", has_text="model test-model").wait_for()
    assert page.locator("#presets button").count() == 5  # issue 11's presets
    page.locator("#map-kv").wait_for(state="attached")
    assert problems == []


def test_token_from_the_fragment_is_kept_and_removed_from_the_url(make_stub, make_loadgen, strict_page):
    lg = make_loadgen(make_stub().url, token=TOKEN, client_token=None)
    page, problems = strict_page
    page.goto(f"{lg.url}/#token={TOKEN}")
    page.locator("#presets button", has_text="High load").click()
    wait_for(lambda: lg.status()["config"]["totalRPS"] == 3.0, what="preset applied with the fragment's token")
    assert "token" not in page.url
    assert problems == []


def test_banner_while_a_frontend_is_unreachable(make_loadgen, strict_page):
    [port] = pick_free(1)
    lg = make_loadgen(f"http://127.0.0.1:{port}")
    page, problems = strict_page
    page.goto(lg.url + "/")
    banner = page.locator("#upstream-banner")
    assert banner.is_hidden()
    lg.post("/api/workload/start", {"totalRPS": 5, "maxConversations": 3})
    banner.wait_for(state="visible", timeout=15_000)
    assert "KV-aware unreachable" in banner.inner_text()
    assert problems == []
