"""The booth screen as a visitor sees it: the rehearsal at its defaults, auto mode, a screenshot during the
round-robin slice of the high-load phase (docs/img/booth.png), once the steady phase's slices are compared.

    python -m bench.booth_screenshot [--out docs/img/booth.png]

Uses Debian's Chromium through playwright; prints where it saved the picture and the page's comparison rows.
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

from rehearsal.acceptance import AutoRun
from rehearsal.ports import pick_free
from rehearsal.settings import BOOTH
from rehearsal.stack import Stack, StackConfig

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "docs" / "img" / "booth.png"))
    parser.add_argument("--limit", type=float, default=600.0)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    kv_port, rr_port, ui_port = pick_free(3)
    config = StackConfig(kv_port=kv_port, rr_port=rr_port, ui_port=ui_port, router=BOOTH)
    chromium = os.environ.get("LOADGEN_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    with Stack(config, work_dir=Path(os.environ.get("TMPDIR", "/tmp")) / f"booth-shot-{ui_port}") as stack:
        stack.wait_ready(timeout_s=180)
        run = AutoRun(config.ui_url, token=config.control_token, metrics_url=config.ui_metrics_url)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1920, "height": 1080})
            page.goto(config.ui_url + f"/#token={config.control_token}")
            run.start()
            deadline = time.monotonic() + args.limit
            while time.monotonic() < deadline:
                scenario = run.http.get("/api/status").json()["scenario"]
                live = scenario.get("live") or {}
                if (scenario["phase"] == "HIGH_LOAD" and live.get("router") == "round-robin" and not live.get("draining")
                        and (scenario.get("countdown") or 0) <= 25):
                    break
                time.sleep(1.0)
            else:
                raise TimeoutError("no high-load round-robin slice within the limit")
            time.sleep(2.0)  # one more live snapshot on the page
            out = Path(args.out)
            out.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(out))
            rows = page.locator("#slices-body tr").all_inner_texts()
            browser.close()
        run.stop()
        run.close()
    print(f"saved {out}; compared slices on screen: {rows}")


if __name__ == "__main__":
    main()
