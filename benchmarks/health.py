"""Health benchmark: deliberately broken and healthy runs, conditions detected vs expected.

    python benchmarks/health.py [--data-root ../shared/datasets] [--only NAME ...]

Each case trains on CPU with the health monitor on (its defaults, except probes every
100 steps so short runs get several), then reads the run's health.jsonl. Prints a
confusion table: for each case, each condition expected / detected, and whether the case
passed (every expected condition detected, for "any of" cases at least one, and no
alarm at all on the healthy cases). MNIST cases need the shared datasets.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import ganforge
from ganforge import config as C
from ganforge.health import CONDITIONS

ROOT = Path(__file__).resolve().parents[1]
SMALL_MNIST = {"data": {"name": "mnist", "resolution": 28}, "model": {"family": "dcgan", "ngf": 32, "ndf": 32},
               "train": {"batch_size": 64}}

# name: (preset or None, overrides, expected conditions, how to judge: "all" | "any" | "none")
CASES = {
    "minimax + over-strong D (MNIST)": (None, C.merge(SMALL_MNIST, {
        "objective": {"name": "minimax"}, "optim": {"lr_d": 1e-3, "lr_g": 2e-4}, "train": {"steps": 500, "d_steps": 3}}),
        {"vanishing_g_grad", "d_wins"}, "all"),
    # G (nz 256, 128x2) learns 10x faster than a one-layer D: it piles every sample on one to
    # four points and hops between them (the picture of Metz et al. 2017's standard GAN).
    "MLP GAN collapsing on grid25": ("gan-grid25", {
        "model": {"nz": 256, "g_hidden": [128, 128], "d_hidden": [128]},
        "optim": {"lr_g": 1e-3, "lr_d": 1e-4}, "train": {"steps": 3000, "batch_size": 512, "ema": 0.0}}, {"mode_collapse"}, "all"),
    "learning rate x50 (digits DCGAN)": ("dcgan-digits", {"optim": {"lr_g": 1e-2, "lr_d": 1e-2}, "train": {"steps": 1500}},
                                         {"oscillation", "divergence"}, "any"),
    "healthy WGAN-GP on ring8": ("wgan-gp-ring8", {}, set(), "none"),
    "healthy DCGAN on MNIST": (None, C.merge(SMALL_MNIST, {"train": {"steps": 600}}), set(), "none"),
}


def run_case(name: str, preset, overrides: dict, data_root: Path, out: Path) -> tuple[set[str], float, Path]:
    base = C.preset_dict(preset) if preset else {}
    d = C.merge(base, overrides)
    if d.get("data", {}).get("name") in ("mnist", "fashion-mnist", "cifar10"):
        d = C.merge(d, {"data": {"root": str(data_root)}})
    d = C.merge(d, {"train": {"progress": False, "tensorboard": False, "log_every": 25}, "health": {"every": 100}})
    t = time.time()
    try:
        run = ganforge.train(C.from_dict(d), out=out / name.split(" (")[0].replace(" ", "-").replace("+", "plus"))
    except ganforge.GanforgeError as e:  # a run that diverges past its rollbacks still has its health.jsonl
        print(f"  ({name}: {e})")
        run = max(out.iterdir(), key=lambda p: p.stat().st_mtime)
    events = [json.loads(line) for line in (run / "health.jsonl").read_text().splitlines()] if (run / "health.jsonl").exists() else []
    detected = {e["condition"] for e in events if e.get("status") == "start"}
    if any(e.get("event") == "rollback" for e in events):
        detected.add("divergence")
    return detected, time.time() - t, run


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=str(ROOT.parent / "shared" / "datasets"))
    p.add_argument("--only", nargs="*", help="case names (substrings) to run")
    p.add_argument("--out", default=None)
    args = p.parse_args()
    data_root = Path(args.data_root)
    out = Path(args.out or tempfile.mkdtemp(prefix="ganforge-health-"))
    cases = {k: v for k, v in CASES.items() if not args.only or any(s in k for s in args.only)}
    if any("MNIST" in k for k in cases) and not (data_root / "mnist").exists():
        print(f"MNIST not found under {data_root}: pass --data-root, or --only the toy cases")
        return 2
    names = list(CONDITIONS)
    head = f"{'case':36}" + "".join(f"{n[:12]:>14}" for n in names) + f"{'time':>8}  result"
    print(head + "\n" + "-" * len(head))
    passed = 0
    for name, (preset, over, expected, judge) in cases.items():
        detected, secs, run = run_case(name, preset, over, data_root, out)
        ok = {"all": expected <= detected, "any": bool(expected & detected), "none": not detected}[judge]
        passed += ok
        cells = "".join(f"{('E' if n in expected else '.') + ('/D' if n in detected else '/-'):>14}" for n in names)
        print(f"{name:36}{cells}{secs:>7.0f}s  {'PASS' if ok else 'FAIL'}  ({run})")
    print("E = expected, D = detected. " + f"{passed}/{len(cases)} cases as expected")
    return 0 if passed == len(cases) else 1


if __name__ == "__main__":
    sys.exit(main())
