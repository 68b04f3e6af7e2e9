"""Train the models docs/latent.md shows, then write its pictures with the same commands the
page gives: docs/images/latent-*.png (and latent-interpolate.gif, latent-compare*.json).

    python docs/make_latent_images.py                 # the full version (train.device auto: a GPU if there is one)
    python docs/make_latent_images.py --quick         # a few steps per model, pictures in a temp folder: checks the script
    python docs/make_latent_images.py --steps-scale 0.5   # every run half as long

Cost: four DCGAN-MNIST runs at half the presets' width (ngf = ndf = 32, 5,000-6,000 steps of
64 images, EMA 0.999), plus two gan-ring8 runs: 2-4 minutes each on one CPU core, about 15
minutes in all.

Runs go to --runs (default runs/latent-docs); a run that already has a checkpoint is reused,
so a second call only redraws the pictures. MNIST is read from ../shared/datasets when that
folder exists (else data.root / $GANFORGE_DATA, downloading if needed).
"""
from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import ganforge
from ganforge import config as C
from ganforge.cli import latent as latent_cli

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"

# name: (preset, overrides). Steps are the full version's; --quick replaces them.
MNIST = {"data": {"name": "mnist", "resolution": 28}}
RUNS = {
    # DCGAN on MNIST, nz = 100: interpolation, the block-pattern plane, vector arithmetic
    "mnist-nz100": ("dcgan-mnist", {"model": {"ngf": 32, "ndf": 32}, "train": {"steps": 5000, "batch_size": 64, "ema": 0.999}}),
    # cgan-mnist at half its width (class embedding joined to z and to D's input): class sweeps
    "mnist-cond": ("cgan-mnist", {"model": {"ngf": 32, "ndf": 32}, "train": {"steps": 5000, "ema": 0.999}}),
    # a 2-D latent, twice with different seeds: the latent grid and the cross-run comparison.
    # (2,500 steps without EMA gave blobs; 6,000 with EMA give digits across the square.)
    "mnist-nz2-a": ("dcgan-mnist", {"model": {"nz": 2, "ngf": 32, "ndf": 32}, "train": {"steps": 6000, "batch_size": 64, "ema": 0.999, "seed": 0}}),
    "mnist-nz2-b": ("dcgan-mnist", {"model": {"nz": 2, "ngf": 32, "ndf": 32}, "train": {"steps": 6000, "batch_size": 64, "ema": 0.999, "seed": 1}}),
    # 8 Gaussians on a ring, nz = 2, twice: the same experiment on points
    "ring8-a": ("gan-ring8", {"train": {"seed": 0}}),
    "ring8-b": ("gan-ring8", {"train": {"seed": 1}}),
}


def train(name: str, runs: Path, quick: bool, steps_scale: float = 1.0) -> Path:
    run = runs / name
    if (run / "checkpoints").is_dir() and any((run / "checkpoints").glob("step-*.pt")):
        print(f"{name}: reusing {run}")
        return run
    preset, over = RUNS[name]
    over = C.merge(over, {"train": {"progress": not quick, "tensorboard": False}})
    if preset.endswith("-mnist") and SHARED.joinpath("mnist", "mnist.npz").is_file():
        over = C.merge(over, {"data": {"root": str(SHARED)}})
    if quick:
        over = C.merge(over, {"model": {"ngf": 8, "ndf": 8, "g_hidden": [32, 32], "d_hidden": [32, 32]},
                              "train": {"steps": 20, "batch_size": 32, "sample_every": 20, "ckpt_every": 20, "log_every": 10,
                                        **({"n_samples": 64} if preset.endswith("-mnist") else {})}})
    d = C.merge(C.preset_dict(preset), over)
    if not quick and steps_scale != 1.0:
        d["train"]["steps"] = max(1, round(d["train"]["steps"] * steps_scale))
    cfg = C.from_dict(d)
    t = time.perf_counter()
    out = ganforge.train(cfg, out=run)
    print(f"{name}: trained {cfg.train.steps} steps in {time.perf_counter() - t:.0f} s → {out}")
    return out


def ganforge_cmd(*argv: str) -> None:
    """Run one latent command as ``ganforge ...`` would (same handlers, same output)."""
    print("$ ganforge " + " ".join(argv))
    p = argparse.ArgumentParser(prog="ganforge")
    latent_cli.register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(list(argv))
    args.func(args, [])


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="a few training steps per model; pictures go to a temp folder")
    ap.add_argument("--runs", type=Path, help="where the runs go (default runs/latent-docs; --quick: a temp folder)")
    ap.add_argument("--out", type=Path, help="where the pictures go (default docs/images; --quick: a temp folder)")
    ap.add_argument("--steps-scale", type=float, default=1.0, help="multiply every run's training steps (default 1)")
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-latent-docs-")) if a.quick else None
    runs = a.runs or (tmp / "runs" if a.quick else ROOT / "runs" / "latent-docs")
    out = a.out or (tmp / "images" if a.quick else ROOT / "docs" / "images")
    out.mkdir(parents=True, exist_ok=True)
    r = {name: train(name, runs, a.quick, a.steps_scale) for name in RUNS}
    work = runs / "pictures"

    def keep(src: Path, name: str) -> None:
        shutil.copyfile(src, out / name)
        print(f"  → {out / name}")

    # The commands the README shows, one picture each.
    ganforge_cmd("interpolate", str(r["mnist-nz100"]), "--pairs", "3:17,4:9,20:40", "--steps", "10", "--out", str(work / "interp"))
    keep(work / "interp-3-17.png", "latent-interpolate.png")
    keep(work / "interp.gif", "latent-interpolate.gif")
    ganforge_cmd("interpolate", str(r["mnist-nz100"]), "--pairs", "3:17", "--steps", "10", "--method", "lerp", "--out", str(work / "interp"))
    keep(work / "interp-3-17.png", "latent-interpolate-lerp.png")
    ganforge_cmd("latent-grid", str(r["mnist-nz2-a"]), "--range", "-2", "2", "--n", "16", "--out", str(work / "grid"))
    keep(work / "grid.png", "latent-grid.png")
    ganforge_cmd("latent-grid", str(r["ring8-a"]), "--range", "-2", "2", "--n", "64", "--out", str(work / "grid-ring8"))
    keep(work / "grid-ring8.png", "latent-grid-ring8.png")
    ganforge_cmd("plane", str(r["mnist-nz100"]), "--base", "17", "--dirs", "blocks", "--step", "0.25", "--n", "10", "--out", str(work / "plane"))
    keep(work / "plane.png", "latent-plane.png")
    ganforge_cmd("arithmetic", str(r["mnist-nz100"]), "--a", "3,7,12", "--b", "5,9,20", "--c", "1,2,4", "--out", str(work / "arith"))
    keep(work / "arith.png", "latent-arithmetic.png")
    ganforge_cmd("sweep", str(r["mnist-cond"]), "-n", "4", "--out", str(work / "sweep"))
    keep(work / "sweep.png", "latent-sweep.png")
    ganforge_cmd("sweep", str(r["mnist-cond"]), "-n", "4", "--from", "1", "--to", "7", "--steps", "8", "--out", str(work / "sweep-1-7"))
    keep(work / "sweep-1-7.png", "latent-sweep-classes.png")
    quick_features = ["--features", "pixels"] if a.quick else []  # no MNIST classifier to train for a check
    ganforge_cmd("compare", str(r["mnist-nz2-a"]), str(r["mnist-nz2-b"]), "-n", "64", *quick_features, "--out", str(work / "compare"))
    keep(work / "compare.png", "latent-compare.png")
    keep(work / "compare.json", "latent-compare.json")
    ganforge_cmd("compare", str(r["ring8-a"]), str(r["ring8-b"]), "-n", "1000", "--out", str(work / "compare-ring8"))
    keep(work / "compare-ring8.png", "latent-compare-ring8.png")
    keep(work / "compare-ring8.json", "latent-compare-ring8.json")
    print(f"pictures in {out}")


if __name__ == "__main__":
    main()
