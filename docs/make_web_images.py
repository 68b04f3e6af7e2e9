"""The pictures of ``ganforge serve`` in docs/web.md: docs/images/web-playground.png,
web-dashboard.png and web-explorer.png, taken in headless Chromium (the system's, through
Playwright) from the real pages.

    python docs/make_web_images.py --runs runs    # a folder holding gan-ring8 and dcgan-digits runs

The runs shown: ``--runs`` must hold a gan-ring8 run (the dashboard) and a dcgan-digits run
(the explorer), e.g. ``ganforge train --preset gan-ring8 --out RUNS/gan-ring8 --train.steps 4000
--train.eval_every 500`` and ``ganforge train --preset dcgan-digits --out RUNS/dcgan-digits
--train.steps 1500 --train.sample_every 100``. The playground trains its default (the gan-ring8
networks) for ``--seconds`` before its picture.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", required=True)
    ap.add_argument("--ring8", default="gan-ring8", help="the toy run shown on the dashboard")
    ap.add_argument("--images", default="dcgan-digits", help="the image run shown in the explorer")
    ap.add_argument("--seconds", type=float, default=25.0)
    ap.add_argument("--out", default=str(ROOT / "docs" / "images"))
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()

    import torch
    from playwright.sync_api import sync_playwright

    from ganforge.web.testing import BackgroundServer

    torch.set_num_threads(1)
    out = Path(args.out)
    server = BackgroundServer(args.runs)
    url = server.url
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 700}, bypass_csp=True)  # wait_for_function evaluates strings
            page.goto(server.login("#/playground"))  # the printed URL: the token, then a cookie
            page.wait_for_function("window.__pg && window.__pg.frames > 0", timeout=60_000)
            page.click("#pg-play")
            time.sleep(args.seconds)
            page.click("#pg-pause")
            time.sleep(0.5)
            page.screenshot(path=str(out / "web-playground.png"))

            page.set_viewport_size({"width": 1300, "height": 900})
            page.goto(f"{url}/#/runs/{args.ring8}")
            page.wait_for_selector("#pane-0 img.frame[src]")
            page.click(f'#runs-table tr[data-run="{args.images}"] button.side')
            page.wait_for_selector("#pane-1 img.frame[src]")
            time.sleep(1)
            page.screenshot(path=str(out / "web-dashboard.png"))

            page.goto(f"{url}/#/explore/{args.images}")
            page.wait_for_function("window.__ex && window.__ex.renders >= 1", timeout=60_000)
            page.click("#ex-samples img[data-k='2']")
            page.click("#ex-set-a")
            page.click("#ex-samples img[data-k='5']")
            page.click("#ex-set-b")
            page.click("#ex-interp")
            page.wait_for_function("document.querySelector('#ex-interp-img').src.startsWith('data:')")
            page.focus("#ex-sliders input.latent-slider")
            for _ in range(40):
                page.keyboard.press("ArrowRight")
            time.sleep(1.5)
            page.screenshot(path=str(out / "web-explorer.png"))
            browser.close()
    finally:
        server.stop()
    print("wrote", *(out / f"web-{n}.png" for n in ("playground", "dashboard", "explorer")))


if __name__ == "__main__":
    main()
