"""Projection (``ganforge project``) on CPU: which distance recovers a latent best, how close
projections of training and held-out images come, and how long one takes on one CPU core.

  1. distances: on G's own samples (whose latents are known), on MNIST and Fashion-MNIST, each
     distance of latent/distance.py (pixels+classifier only with --classifier) projects the
     same images from the same starts; reported: the RMS pixel difference of the reconstruction
     (in [0, 1]), the cosine between the found and the true latent, and a random latent's RMS
     difference as the scale.
  2. the gap: N training and N held-out images of the same set projected with the default
     distance: the mean RMS on each, their difference (± its standard error), and CPU-seconds
     per image (one thread, so CPU time is the cost however busy the machine is). On MNIST and Fashion-MNIST (held out: the test split) and on the flower photos
     (``../shared/datasets/flowers``: the run trains on all but ``--holdout`` photos of each
     class, held out: those).

The generators are small and briefly trained (dcgan at ngf = ndf = 32 for --steps steps), which
is what a CPU budget allows; the projections run with torch.set_num_threads(1), one image at a
time being what a user projecting a photo waits for. Runs go to a temporary folder.

    python benchmarks/projection.py --n 12            # ~10 minutes on 2 busy cores
    python benchmarks/projection.py --n 32 --steps 600
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "datasets"


def train(name: str, data: dict, steps: int, out: Path, ngf: int = 32):
    import ganforge
    from ganforge import config as C

    cfg = C.from_dict({"data": data, "model": {"family": "dcgan", "nz": 64, "ngf": ngf, "ndf": ngf},
                       "optim": {"lr_g": 0.001, "lr_d": 0.001},
                       "train": {"steps": steps, "batch_size": 32, "ema": 0.999, "ema_rampup": 0.05, "progress": False,
                                 "tensorboard": False, "sample_every": steps, "ckpt_every": steps, "log_every": 50}})
    t = time.perf_counter()
    run = ganforge.train(cfg, out=out / name)
    print(f"trained {name}: {steps} steps in {time.perf_counter() - t:.0f} s", flush=True)
    return ganforge.load(run)


def distances(g, n: int, steps: int, starts: int, classifier: bool) -> list[dict]:
    from ganforge.latent.distance import DISTANCES
    from ganforge.latent.project import project

    z = g.latents(n, 123)
    x = g(z)
    baseline = float(((g(g.latents(n, 7)) - x) / 2).pow(2).flatten(1).mean(1).sqrt().mean())
    rows = []
    for name in DISTANCES:
        if name == "pixels+classifier" and not classifier:
            continue
        try:
            cpu = time.process_time()
            r = project(g, x, name, steps=steps, starts=starts)
            cpu = time.process_time() - cpu
        except Exception as e:  # the classifier needs a labelled dataset; report, go on
            print(f"  {name}: skipped ({e})")
            continue
        cos = float(torch.nn.functional.cosine_similarity(r["z"], z).mean())
        rows.append({"distance": name, "rms": float(r["rms"].mean()), "latent_cosine": cos, "random_rms": baseline,
                     "cpu_seconds_per_image": cpu / n})
        print(f"  {name:18s} RMS {rows[-1]['rms']:.4f} (random latent {baseline:.4f}), cos(z, ẑ) {cos:.3f}, "
              f"{rows[-1]['cpu_seconds_per_image']:.2f} CPU-s/image", flush=True)
    return rows


def gap_of(g, train_x, held_x, steps: int, starts: int, distance: str) -> dict:
    from ganforge.latent.gap import gap
    from ganforge.latent.project import project

    t = time.process_time()  # one thread: CPU time is the cost, however busy the machine
    rms = []
    for x in (train_x, held_x):
        # one image at a time: the latency a user waits for (a batch would share the cost)
        rms.append(torch.cat([project(g, x[i:i + 1], distance, steps=steps, starts=starts)["rms"] for i in range(len(x))]))
    s = gap(*rms)
    s["cpu_seconds_per_image"] = (time.process_time() - t) / (len(train_x) + len(held_x))
    print(f"  train RMS {s['train_rms']:.4f}, held-out {s['heldout_rms']:.4f}, gap {s['gap']:+.4f} "
          f"± {s['gap_standard_error']:.4f}; {s['cpu_seconds_per_image']:.2f} CPU-s per image", flush=True)
    return s


def flowers_folder(tmp: Path, holdout: int) -> tuple[Path, list[Path]]:
    """A copy of the flower photos without ``holdout`` per class (the held-out ones listed)."""
    root, held = tmp / "flowers-train", []
    for cls in sorted(p for p in (DATA / "flowers").iterdir() if p.is_dir()):
        files = sorted(cls.glob("*.jpg"))
        (root / cls.name).mkdir(parents=True)
        for f in files[holdout:]:
            (root / cls.name / f.name).symlink_to(f)
        held += files[:holdout]
    return root, held


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=16, help="images per split and per distance (default 16)")
    p.add_argument("--steps", type=int, default=400, help="training steps of each generator (default 400)")
    p.add_argument("--project-steps", type=int, default=200, help="projection steps (default 200, the CLI's)")
    p.add_argument("--starts", type=int, default=8, help="projection starts (default 8, the CLI's)")
    p.add_argument("--holdout", type=int, default=8, help="flower photos held out per class (default 8)")
    p.add_argument("--classifier", action="store_true", help="also the pixels+classifier distance (trains the MNIST "
                   "classifier when it is not cached: about 8 CPU-minutes)")
    p.add_argument("--skip-distances", action="store_true", help="only the gap (part 2)")
    p.add_argument("--distance", default=None, help="the gap's distance (default: project's default)")
    p.add_argument("--run", type=Path, default=None, help="part 1 only, on this run (e.g. the main job, "
                   "`ganforge train --preset dcgan-digits`): the distances on its generator's samples")
    p.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    sys.path.insert(0, str(REPO / "src"))
    from ganforge.latent.gap import dataset_images
    from ganforge.latent.targets import load_targets

    from ganforge.latent.distance import DEFAULT

    distance = args.distance or DEFAULT
    results = {"distance": distance, "n": args.n, "train_steps": args.steps, "project_steps": args.project_steps, "starts": args.starts}
    if args.run:
        import ganforge

        print(f"{args.run}: distances, on the generator's own samples:")
        results["distances-run"] = distances(ganforge.load(args.run), args.n, args.project_steps, args.starts, args.classifier)
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-projection-"))
    try:
        for name in ("mnist", "fashion-mnist"):
            g = train(name, {"name": name, "resolution": 28, "root": str(DATA), "download": False}, args.steps, tmp)
            # distances on both sets: the ranking should not hang on one
            if not args.skip_distances:
                print(f"{name}: distances, on the generator's own samples:")
                results[f"distances-{name}"] = distances(g, args.n, args.project_steps, args.starts, args.classifier)
            print(f"{name}: training vs held-out (test split) images")
            results[name] = gap_of(g, dataset_images(g, "train", args.n, 0), dataset_images(g, "test", args.n, 0),
                                   args.project_steps, args.starts, distance)
        root, held = flowers_folder(tmp, args.holdout)
        g = train("flowers", {"name": "folder", "root": str(root), "resolution": 64, "labels": "none"}, args.steps, tmp)
        train_files = sorted(root.rglob("*.jpg"))[:: max(1, len(list(root.rglob("*.jpg"))) // args.n)][: args.n]
        print("flowers: training vs held-out photos")
        results["flowers"] = gap_of(g, load_targets(g, train_files)[0], load_targets(g, held[: args.n])[0],
                                    args.project_steps, args.starts, distance)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
