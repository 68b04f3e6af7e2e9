"""The playground's speed: training steps per second, frames per second reaching the page, and
the frame latency measured in the browser.

Starts ``ganforge serve``'s app (uvicorn, in this process) with the playground at its defaults,
the gan-ring8 preset's networks (MLP 128x3, nz 2, batch 256, non-saturating loss) on one CPU
thread; opens the page in headless Chromium (the system's, through Playwright), clicks Play
and trains for ``--seconds``. It prints:

- steps/s by the wall clock, and per CPU-second of the training thread (``time.thread_time``:
  what one thread delivers when the machine's cores are shared with other jobs);
- frames/s the page received and drew (counted in the page);
- the frame latency: from the server building a frame (its timestamp) to the page having
  drawn it, median and 95th percentile, in ms (one machine, one clock);
- the same steps/s with no page connected, for the cost of streaming.

Targets: >= 100 steps/s on one thread, >= 15 frames/s.

    flock /tmp/ganforge-bench.lock python benchmarks/playground.py            # ~1 min
    python benchmarks/playground.py --seconds 30 --chromium /usr/bin/chromium
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def measure(pg, seconds: float) -> tuple[float, float]:
    """(steps/s wall, steps per thread CPU-second) over ``seconds`` of play."""
    s0, w0, c0 = pg.step, time.perf_counter(), pg.thread_cpu
    time.sleep(seconds)
    s1, w1, c1 = pg.step, time.perf_counter(), pg.thread_cpu
    return (s1 - s0) / (w1 - w0), (s1 - s0) / max(c1 - c0, 1e-9)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=20.0, help="seconds of training measured with the page open")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args()
    torch.set_num_threads(1)
    from playwright.sync_api import sync_playwright

    import tempfile

    with tempfile.TemporaryDirectory() as runs:
        from ganforge.web.testing import BackgroundServer

        server = BackgroundServer(Path(runs))
        pg = server.playground
        try:
            pg.control("play")
            time.sleep(2)  # warm-up
            bare_wall, bare_cpu = measure(pg, min(10.0, args.seconds / 2))
            pg.control("reset")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=args.chromium, args=ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 900}, bypass_csp=True)  # wait_for_function evaluates strings
                page.goto(server.login("#/playground"))  # the printed URL: the token, then a cookie
                page.wait_for_function("window.__pg && window.__pg.frames > 0", timeout=60_000)
                page.click("#pg-play")
                time.sleep(2)
                f0, t0 = page.evaluate("window.__pg.frames"), time.perf_counter()
                page.evaluate("window.__pg.latency = []")
                wall, cpu = measure(pg, args.seconds)
                f1, t1 = page.evaluate("window.__pg.frames"), time.perf_counter()
                lat = sorted(page.evaluate("window.__pg.latency.slice()"))
                page.click("#pg-pause")
                browser.close()
        finally:
            server.stop()
    fps = (f1 - f0) / (t1 - t0)
    p95 = lat[min(len(lat) - 1, int(0.95 * len(lat)))] if lat else float("nan")
    print(f"playground, gan-ring8 networks (MLP 128x3, nz 2, batch 256), 1 torch thread, {args.seconds:.0f} s with the page open")
    print(f"  steps/s (wall clock):                 {wall:7.1f}   (no page connected: {bare_wall:.1f})")
    print(f"  steps per training-thread CPU-second: {cpu:7.1f}   (no page connected: {bare_cpu:.1f})")
    print(f"  frames/s drawn by the page:           {fps:7.1f}")
    print(f"  frame latency, server to drawn:       median {statistics.median(lat) if lat else float('nan'):.1f} ms, "
          f"95th percentile {p95:.1f} ms ({len(lat)} frames)")
    ok = cpu >= 100 and fps >= 15
    print(f"  targets (>= 100 steps/s per thread, >= 15 frames/s): {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
