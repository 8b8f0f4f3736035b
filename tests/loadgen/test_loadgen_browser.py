"""The web UI in headless Chromium: the booth view at 1920x1080 (headline, chart, routing map, no scrollbars),
presets by click and by key, live numbers, auto mode with captions, the conversation viewer."""

from __future__ import annotations

import math
import os
import shutil
import time
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


def test_page_loads_and_a_preset_click_or_key_runs_it_side_by_side(pair, page):
    lg, _, _ = pair
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    assert page.locator("#model").inner_text() == "model test-model"
    labels = [b.inner_text().splitlines()[0] for b in page.locator("#presets button").all()]
    assert labels == ["Long-context chat1", "High load2", "Short prompts3", "Summarization4", "Reasoning5"]
    page.wait_for_function("document.getElementById('ws-state').textContent === 'live'")
    lg.post("/api/workload/config", {**FAST, "maxTokens": 2})
    page.locator("#presets button", has_text="High load").click()
    config = wait_for(lambda: (s := lg.status())["running"] and s["config"]["totalRPS"] == 3.0 and s["config"], what="preset to run")
    assert config["maxConcurrency"] == 24 and config["mix"] == {"a": 1.0, "b": 0.0, "c": 0.0} and config["router"] == "ab"
    page.keyboard.press("3")  # one key per preset
    config = wait_for(lambda: (c := lg.status()["config"])["openingTokens"] == 500 and c, what="key 3 preset")
    assert config["totalRPS"] == 2.0
    page.keyboard.press("d")
    page.wait_for_selector("#advanced", state="visible")
    page.wait_for_function("document.getElementById('server-config').textContent.includes('2 RPS · concurrency 16')")
    assert page.input_value("#rps") == "2" and page.input_value("#opening") == "500"
    page.keyboard.press("Escape")
    page.wait_for_selector("#advanced", state="hidden")
    page.keyboard.press("s")
    wait_for(lambda: not lg.status()["running"], what="key S to stop")


def test_start_shows_live_numbers_and_charts_update(pair, page):
    lg, _, _ = pair
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    page.locator("#advanced-toggle").click()
    page.fill("#rps", "20")
    page.fill("#opening", "3000")
    page.locator("#router button[data-router='kv']").click()
    wait_for(lambda: lg.status()["config"]["router"] == "kv", what="router kv")
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
    page.locator("#advanced-close").click()
    page.locator("#stop").click()
    page.wait_for_function("document.getElementById('run-state').textContent === 'stopped'")
    assert lg.status()["running"] is False


def test_auto_mode_toggle_shows_phase_and_countdown(pair, page):
    lg, _, _ = pair
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    page.locator("#auto").click()
    page.wait_for_function("document.getElementById('phase-pill').textContent === 'WARM_UP'")
    assert lg.status()["scenario"]["mode"] == "auto"
    page.wait_for_function("document.getElementById('phase-countdown').textContent.endsWith('left')")
    assert page.inner_text("#phase-label") == "Warm-up" and page.inner_text("#phase-cycle") == "cycle 1"
    assert "turn 1 costs the same on both routers" in page.inner_text("#phase-description")
    assert page.inner_text("#auto").startswith("Stop auto mode")
    page.keyboard.press("a")  # the same toggle by key
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
    page.locator("#presets button", has_text="High load").click()
    page.wait_for_function("document.getElementById('message').textContent.includes('401')")
    assert lg.status()["config"]["totalRPS"] == 2 and not lg.status()["running"]
    page.keyboard.press("a")
    page.wait_for_timeout(300)
    assert lg.status()["scenario"]["mode"] == "manual"
    page.fill("#token", TOKEN)
    page.dispatch_event("#token", "change")
    page.locator("#presets button", has_text="High load").click()
    wait_for(lambda: lg.status()["config"]["totalRPS"] == 3.0, what="config with token")
    page.locator("#stop").click()
    wait_for(lambda: not lg.status()["running"], what="stopped with token")


# Booth screen: 1080p. A 55" 16:9 panel is ~68 cm tall, so 1 CSS px ~ 0.63 mm and a font's cap height
# ~0.7 of its size: 56 px gives ~25 mm capitals, the usual minimum for reading at 3 m (1 inch per 10 ft).
BOOTH_VIEWPORT = {"width": 1920, "height": 1080}
HEADLINE_MIN_PX = 56


# The page's pooled figures, read in one evaluation (one JavaScript turn: no render between the reads), once the
# page shows the same number of completed pairs as the API before and after the read.
PAGE_TEXTS = """() => ({drop: document.getElementById('hl-drop').textContent,
    detail: document.getElementById('hl-detail').textContent, note: document.getElementById('ttft-note').textContent,
    first: document.querySelector('#slices-body tr') ? document.querySelector('#slices-body tr').innerText : '',
    bars: Chart.getChart('chart-ttft').data.datasets.map((d) => d.data[1])})"""


def pooled_on_the_page(lg, page, timeout_s=30.0):
    deadline = time.monotonic() + timeout_s
    while True:
        before = lg.status()["scenario"]["pooled"]
        shown = page.evaluate(PAGE_TEXTS)
        pairs = f"over {before['pairs']} pair{'' if before['pairs'] == 1 else 's'} of time slices"
        if lg.status()["scenario"]["pooled"] == before and pairs in shown["note"] and pairs in shown["detail"]:
            return before, shown
        assert time.monotonic() < deadline, ("the page never showed the API's pooled pairs", before, shown)
        time.sleep(0.2)


def test_booth_view_fits_1080p_and_shows_the_headline_chart_and_routing_map(pair, browser):
    lg, _, _ = pair
    context = browser.new_context(viewport=BOOTH_VIEWPORT, bypass_csp=True)  # string predicates need eval (see the page fixture)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    lg.post("/api/workload/start", {"totalRPS": 20, "thinkTimeMs": {"min": 0, "max": 50}, "turns": {"min": 3, "max": 3}, "maxTokens": 4, "openingTokens": 3000})
    page.goto(lg.url + "/")
    page.wait_for_function("/−\\d+%/.test(document.getElementById('hl-drop').textContent)", timeout=30_000)
    page.wait_for_function("document.querySelectorAll('#map-kv .dot').length >= 3 && document.querySelectorAll('#map-rr .dot').length >= 3", timeout=30_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "booth-1920x1080.png"))
    lg.post("/api/workload/stop")

    import re

    headline = page.inner_text("#hl-main").replace("\n", " ")
    assert re.fullmatch(r"Follow-up turns: TTFT −\d+% with KV-aware routing", headline), headline
    assert re.fullmatch(r"\d[\d.]* ?[kM]? prompt tokens served from cache", page.inner_text("#hl-sub")), page.inner_text("#hl-sub")
    size = lambda sel: float(page.eval_on_selector(sel, "e => getComputedStyle(e).fontSize").removesuffix("px"))
    assert size("#hl-main") >= HEADLINE_MIN_PX and size("#hl-sub") >= 36 and size("#phase-description") >= 22
    # No scrollbars in a kiosk browser: nothing overflows the viewport, and every part sits inside it.
    assert page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]") == [1920, 1080]
    for selector in ("#hl-main", "#chart-ttft", "#map-kv", "#map-rr", "#phase-description", "#presets", "#auto"):
        box = page.locator(selector).bounding_box()
        assert box and box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= 1920 and box["y"] + box["height"] <= 1080, (selector, box)
    assert page.locator("#hl-main").bounding_box()["y"] < 100  # at the top
    assert page.locator("#chart-ttft").bounding_box()["height"] > 350
    assert "Why turn 2?" in page.inner_text("#why-turn2")
    context.close()
    assert not errors, errors


def test_two_layers_panel_shows_ttft_beside_itl_and_the_before_after_line(make_stub, make_loadgen, page, tmp_path):
    """A baseline saved before a restart (runs file) plus this run saved from the page: the ITL line appears."""
    from loadgen.workload.itl_runs import RouterNumbers, RunBook, SavedRun

    runs_file = tmp_path / "itl-runs.json"
    RunBook(runs_file).add([SavedRun(label="baseline", method="none", saved_at=1.0,
                                     routers={"kv": RouterNumbers(requests=9, ttft_p50_ms=80, itl_p50_ms=12.3)})])
    kv = make_stub(itl_ms=3.0, max_tokens_cap=12)
    lg = make_loadgen(kv.url, speculative="eagle3", itl_runs_file=str(runs_file))
    assert lg.post("/api/workload/start", FAST | {"totalRPS": 20, "maxConversations": 3, "maxTokens": 12}).status_code == 200
    lg.wait_state("finished", timeout_s=60)

    page.goto(lg.url + "/")
    page.locator("#advanced-toggle").click()  # issue 11: the booth view is one 1080p screen; the panel is in "More"
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


def test_auto_mode_shows_the_live_slice_and_compares_completed_slices(make_stub, make_loadgen, browser):
    """Issue 21: the page says which router holds the replicas and compares completed twin slices; the booth
    screenshot shows a high-load slice."""
    # A miss costs ~300 ms of prefill at the 3,000-token openings, a hit ~0: a CPU-starved CI machine's stalls
    # (tens of ms; a cold run's Go builds gave x1.00 at 20 ms per 1k) cannot hide which router found the cache.
    kv, rr = make_stub(ttft_ms=5, prefill_ms_per_1k=100), make_stub(ttft_ms=5, prefill_ms_per_1k=100, prefix_cache=False)
    lg = make_loadgen(kv.url, rr.url, scenario_speedup=15)
    context = browser.new_context(viewport=BOOTH_VIEWPORT, bypass_csp=True)
    lg.post("/api/workload/start", {"totalRPS": 30, "thinkTimeMs": {"min": 0, "max": 5}, "turns": {"min": 3, "max": 3},
                                    "maxTokens": 2, "maxConversations": 40})  # a full routing map first
    wait_for(lambda: lg.status()["state"] == "finished", what="the warm-up run")
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    lg.post("/api/workload/config", {"thinkTimeMs": {"min": 0, "max": 5}, "turns": {"min": 2, "max": 2}, "maxTokens": 8, "openingTokens": 3000})
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    page.locator("#auto").click()
    page.wait_for_function("document.getElementById('slice-live').textContent.startsWith('Now: KV-aware alone on both replicas')")
    page.wait_for_function("document.getElementById('phase-pill').textContent === 'HIGH_LOAD' && "
                           "document.querySelectorAll('#slices-body tr').length >= 2", timeout=60_000)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "booth-auto-high-load-1920x1080.png"))
    rows = page.locator("#slices-body tr").all_inner_texts()
    # KV's turn 2 beats round-robin's; a pair's ratio on fewer than the pooled minimum of requests says so instead.
    steady = next(p for p in lg.status()["scenario"]["slices"] if p["phase"] == "STEADY_AB")
    enough = min(steady["kv"]["samples"]["2"], steady["roundRobin"]["samples"]["2"]) >= lg.status()["scenario"]["pooled"]["minRequests"]
    assert any(row.startswith("Steady A/B") and ("×0." if enough else "too few") in row for row in rows), (rows, steady)
    # Issue 31: one number source. The headline, the chart's note and the table's first row read the pooled
    # completed pairs the API reports (read before and after the page, so no slice completed in between).
    before, shown = pooled_on_the_page(lg, page)
    follow = before["groups"]["2+"]
    pairs = f"{before['pairs']} pair{'' if before['pairs'] == 1 else 's'} of time slices"
    assert shown["first"].startswith(f"all {before['pairs']} so far (90%)"), shown
    assert shown["note"].startswith(f"mean TTFT over {pairs}"), shown
    if follow["enough"]:
        drop = math.floor((1 - follow["ratio"]) * 100 + 0.5)
        assert shown["drop"] == ("−" if follow["ratio"] < 1 else "+") + f"{abs(drop)}%", (shown, follow)
        assert f"{follow['kvRequests']} vs {follow['rrRequests']} requests over {pairs}" in shown["detail"], shown
    else:
        assert shown["drop"] == "–" and "too few follow-ups yet" in shown["detail"], shown
    too_few = [t for t in ("1", "2", "3", "4", "5") if not before["groups"][t]["enough"] and
               (before["groups"][t]["kvRequests"] or before["groups"][t]["rrRequests"])]
    for turn in too_few:
        assert f"turn {turn} (" in shown["note"], shown
    assert page.evaluate("[document.documentElement.scrollWidth, document.documentElement.scrollHeight]") == [1920, 1080]
    # Nothing in the map panel runs over its own bottom edge (the legend and the controls stay readable).
    panel = page.locator(".map-panel").bounding_box()
    for selector in (".legend", "#map-note-kv", "#map-note-rr"):
        box = page.locator(selector).bounding_box()
        assert box["y"] + box["height"] <= panel["y"] + panel["height"] + 1, (selector, box, panel)
    lg.post("/api/scenario/stop")
    context.close()
    assert not errors, errors


def test_with_enough_requests_the_headline_chart_and_table_show_the_pooled_slices(make_stub, make_loadgen, browser):
    """Issue 31: once the completed pairs hold enough follow-ups, the headline is the pooled follow-up drop with
    its 90% interval and request counts, the table's first row the pooled ratios, and the chart's turn 2 bars
    the pooled means: one number on the whole page (auto mode at half the phase lengths: ~2 min)."""
    kv, rr = make_stub(ttft_ms=5, prefill_ms_per_1k=100), make_stub(ttft_ms=5, prefill_ms_per_1k=100, prefix_cache=False)
    lg = make_loadgen(kv.url, rr.url, scenario_speedup=2)
    lg.post("/api/workload/config", {"thinkTimeMs": {"min": 0, "max": 5}, "turns": {"min": 2, "max": 2}, "maxTokens": 4,
                                     "openingTokens": 3000})
    context = browser.new_context(viewport=BOOTH_VIEWPORT, bypass_csp=True)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(lg.url + "/")
    page.wait_for_selector("#presets button")
    lg.post("/api/scenario/auto")
    wait_for(lambda: lg.status()["scenario"]["pooled"].get("groups", {}).get("2+", {}).get("enough"),
             what="enough pooled follow-ups", timeout_s=240)
    before, shown = pooled_on_the_page(lg, page)
    bars = shown["bars"]
    lg.post("/api/scenario/stop")
    follow, turn2 = before["groups"]["2+"], before["groups"]["2"]
    signed = lambda r: ("−" if r < 1 else "+") + f"{abs(math.floor((1 - r) * 100 + 0.5))}%"  # noqa: E731
    assert shown["drop"] == signed(follow["ratio"]) and follow["ratio"] < 1, (shown, follow)
    assert shown["detail"] == (f"follow-ups {math.floor(follow['kvMs'] + 0.5)} ms vs {math.floor(follow['rrMs'] + 0.5)} ms · "
                               f"90%: {signed(follow['high'])} to {signed(follow['low'])} · {follow['kvRequests']} vs "
                               f"{follow['rrRequests']} requests over {before['pairs']} pair{'' if before['pairs'] == 1 else 's'} "
                               "of time slices"), (shown, follow)
    assert f"×{turn2['ratio']:.2f} [{turn2['low']:.2f}-{turn2['high']:.2f}]" in shown["first"], (shown, turn2)
    assert bars == [turn2["kvMs"], turn2["rrMs"]], (bars, turn2)
    context.close()
    assert not errors, errors
