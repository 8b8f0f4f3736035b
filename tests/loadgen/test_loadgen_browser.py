"""The web UI in headless Chromium: it loads, a preset click changes the server's config, live numbers update."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from loadgen_testkit import FAST, TOKEN, wait_for

pytestmark = pytest.mark.browser

# `make setup` installs Debian's chromium; CI runners may provide another Chromium named `chromium` on PATH.
CHROMIUM = os.environ.get("LOADGEN_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHOTS = Path(os.environ.get("LOADGEN_SCREENSHOTS", "/tmp/loadgen-screenshots"))


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):  # a set-up fault, not a reason to pass without testing the page
        pytest.fail(f"no Chromium at {CHROMIUM}: run `make setup` (it installs Debian's chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    # Playwright's string predicates (wait_for_function) need eval, which the page's CSP forbids;
    # tests/loadgen/test_loadgen_edge_browser.py checks the page under its real CSP.
    context = browser.new_context(viewport={"width": 1440, "height": 1000}, bypass_csp=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    yield pg
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


def test_page_loads_and_a_preset_click_changes_the_server_config(pair, page):
    lg, _, _ = pair
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    assert page.locator("#model").inner_text() == "model test-model"
    assert [b.inner_text().splitlines()[0] for b in page.locator("#presets button").all()] == ["Light Load", "Moderate Load", "Heavy Load"]
    page.wait_for_function("document.getElementById('ws-state').textContent === 'live'")
    page.locator("#presets button", has_text="Heavy Load").click()
    config = wait_for(lambda: (c := lg.status()["config"])["totalRPS"] == 4.0 and c, what="server config to change")
    assert config["maxConcurrency"] == 20 and config["mix"] == {"a": 1.0, "b": 0.0, "c": 0.0}
    page.wait_for_function("document.getElementById('server-config').textContent.includes('4 RPS · concurrency 20')")
    assert page.input_value("#rps") == "4" and page.input_value("#concurrency") == "20"
    page.locator("#presets button", has_text="Light Load").click()
    wait_for(lambda: lg.status()["config"]["totalRPS"] == 1.0, what="light preset")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "preset.png"), full_page=True)


def test_start_shows_live_numbers_and_charts_update(pair, page):
    lg, _, _ = pair
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    page.fill("#rps", "20")
    page.fill("#opening", "3000")
    page.locator("#router button[data-router='ab']").click()
    wait_for(lambda: lg.status()["config"]["router"] == "ab", what="router ab")
    lg.post("/api/workload/config", {**FAST})  # keep the test quick: short think time, 3 turns
    page.locator("#start").click()
    wait_for(lambda: lg.status()["running"], what="workload to start")
    assert lg.status()["config"]["totalRPS"] == 20 and lg.status()["config"]["openingTokens"] == 3000
    page.wait_for_function("+document.getElementById('requests-ok').textContent >= 10", timeout=30_000)
    first = int(page.inner_text("#requests-ok"))
    page.wait_for_function(f"+document.getElementById('requests-ok').textContent > {first}", timeout=30_000)
    page.wait_for_function("document.getElementById('rate-kv').textContent !== '–'")
    # The TTFT-by-turn chart got data for both routers.
    bars = page.evaluate("Chart.getChart('chart-ttft').data.datasets.map(d => d.data.filter(v => v != null).length)")
    assert bars[0] >= 2 and bars[1] >= 2
    page.screenshot(path=str(SHOTS / "live.png"), full_page=True)
    page.locator("#stop").click()
    page.wait_for_function("document.getElementById('run-state').textContent === 'stopped'")
    assert lg.status()["running"] is False


def test_auto_mode_toggle_shows_phase_and_countdown(pair, page):
    lg, _, _ = pair
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    page.locator("#auto").click()
    page.wait_for_function("document.getElementById('phase-pill').textContent === 'RAMP_UP'")
    assert lg.status()["scenario"]["mode"] == "auto"
    page.wait_for_function("document.getElementById('phase-countdown').textContent.endsWith('left')")
    assert page.inner_text("#phase-label") == "Ramp Up" and page.inner_text("#phase-cycle") == "cycle 1"
    assert page.inner_text("#auto") == "Stop auto mode"
    page.locator("#auto").click()
    page.wait_for_function("document.getElementById('phase-pill').textContent === 'IDLE'")
    assert lg.status()["scenario"]["mode"] == "manual" and lg.status()["running"] is False


def test_conversation_list_and_viewer(pair, page):
    lg, _, _ = pair
    lg.post("/api/workload/start", {"totalRPS": 30, "maxConversations": 3, **FAST})
    lg.wait_state("finished")
    page.goto(lg.url + "/#/conversations")
    page.wait_for_selector("#conv-table tbody tr")
    assert page.locator("#conv-table tbody tr").count() == 3
    assert page.is_hidden("#view-dashboard")
    conv_id = page.locator("#conv-table tbody tr").first.get_attribute("data-id")
    page.locator("#conv-table tbody tr").first.click()
    page.wait_for_selector("#turn-table tbody tr")
    assert page.url.endswith(f"#/conversations/{conv_id}")
    assert page.text_content("#conv-id") == conv_id
    assert page.locator("#turn-table tbody tr").count() == 3
    assert page.locator("#messages .msg.assistant").count() == 3


def test_without_the_token_a_preset_click_is_refused_and_nothing_changes(make_stub, make_loadgen, page):
    lg = make_loadgen(make_stub().url, token=TOKEN, client_token=None)
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    assert page.is_visible("#token")
    page.locator("#presets button", has_text="Heavy Load").click()
    page.wait_for_function("document.getElementById('message').textContent.includes('401')")
    assert lg.status()["config"]["totalRPS"] == 2
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    page.locator("#presets button", has_text="Heavy Load").click()
    wait_for(lambda: lg.status()["config"]["totalRPS"] == 4.0, what="config with token")


def test_two_layers_panel_shows_ttft_beside_itl_and_the_before_after_line(make_stub, make_loadgen, page, tmp_path):
    """A baseline saved before a restart (runs file) plus this run saved from the page: the ITL line appears."""
    from loadgen.itl_runs import RouterNumbers, RunBook, SavedRun

    runs_file = tmp_path / "itl-runs.json"
    RunBook(runs_file).add([SavedRun(label="baseline", method="none", saved_at=1.0,
                                     routers={"kv": RouterNumbers(requests=9, ttft_p50_ms=80, itl_p50_ms=12.3)})])
    kv = make_stub(itl_ms=3.0, max_tokens_cap=12)
    lg = make_loadgen(kv.url, speculative="eagle3", itl_runs_file=str(runs_file))
    assert lg.post("/api/workload/start", FAST | {"totalRPS": 20, "maxConversations": 3, "maxTokens": 12}).status_code == 200
    lg.wait_state("finished", timeout_s=60)

    page.goto(lg.url + "/")
    page.wait_for_selector("[data-testid=itl-panel]")
    assert "EAGLE3" in page.locator("[data-testid=itl-method]").inner_text()
    page.wait_for_function("document.querySelector('[data-testid=itl-p50-kv]').textContent.endsWith('ms')")
    assert page.locator("[data-testid=ttft-p50-kv]").inner_text().endswith("ms")
    assert page.locator("#itl-save-method").input_value() == "eagle3"
    page.locator("#itl-save").click()
    page.wait_for_function("document.querySelector('[data-testid=itl-line]').textContent.startsWith('ITL p50: 12.3 ms')")
    line = page.locator("[data-testid=itl-line]").inner_text()
    assert "without speculative decoding \u2192" in line and "with EAGLE3" in line, line
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("[data-testid=itl-panel]").screenshot(path=str(SHOTS / "two-layers-panel.png"))
