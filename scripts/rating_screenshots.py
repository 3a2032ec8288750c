"""Screenshots of the rating page on a laptop (1280×800) and a phone (390×844), for the docs.

Serves a small study of the default scenario on a loopback port (uvicorn, in a thread), signs
a rater in through the invite page with Playwright's Chromium and writes
``rating-laptop.png``, ``rating-phone.png`` (and the Italian laptop page,
``rating-laptop-it.png``) into ``--out``. Needs the ``serve`` and ``dev`` extras and a Chromium
(``/usr/bin/chromium`` by default).

    python scripts/rating_screenshots.py --out docs/images
"""

from __future__ import annotations

import argparse
import socket
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import uvicorn
from playwright.sync_api import sync_playwright

from fairtwin.elicit import ElicitationStudy, PreferenceStore, StudyBrief, create_app
from fairtwin.pipeline import ExperimentConfig, load_scenario, sample_stage

ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]


def small_run(out: Path) -> Path:
    """A run folder with the samples of 40 training weeks (a minute at most)."""
    config = ExperimentConfig().override(scenario={"n_train": 40}, sampler={"n_samples": 3},
                                         n_jobs=1)
    config.save(out / "config.toml")
    sample_stage(config, load_scenario(config)).save(out / "samples.npz")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--run", type=Path, default=None, help="a run folder (default: a small one)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run = args.run or small_run(Path(tmp))
        store = PreferenceStore(Path(tmp) / "study.db")
        study = ElicitationStudy(store, run, seed=5, brief=StudyBrief(quota=40))
        rater, token = store.add_rater("Dr. Rossi")
        # the first question: two decisions of the busiest week (the most patients without a
        # bed before any decision), as a rater would meet it in a wave
        ds, twin = study.dataset, study.scenario.twin
        rows = sorted({int(r) for r, _, _ in study.pairs()},
                      key=lambda r: -twin.guarded(np.zeros(twin.n_decision),
                                                  study.scenario.contexts[int(ds.context_ids[r])]))
        row, left, right = next(p for p in study.pairs() if p[0] == rows[0])
        store.add_query(rater.id, row, left, right)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        server = uvicorn.Server(uvicorn.Config(create_app(study), host="127.0.0.1", port=port,
                                               log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, headless=True, args=ARGS)
                shots = [("rating-laptop.png", {"width": 1280, "height": 800}, False, "en"),
                         ("rating-phone.png", {"width": 390, "height": 844}, True, "en"),
                         ("rating-laptop-it.png", {"width": 1280, "height": 800}, False, "it")]
                for name, viewport, mobile, lang in shots:
                    page = browser.new_page(viewport=viewport, is_mobile=mobile, has_touch=mobile,
                                            locale=lang, extra_http_headers={"Accept-Language": lang})
                    page.goto(f"{base}/invite/{token}")
                    page.click("#start")
                    page.goto(f"{base}/rate")
                    page.wait_for_load_state("load")
                    page.screenshot(path=str(args.out / name))
                    print(args.out / name)
                    page.close()
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)


if __name__ == "__main__":
    main()
