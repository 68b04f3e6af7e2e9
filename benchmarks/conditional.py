"""Do the conditional presets generate the class asked for? cGAN and AC-GAN on MNIST, judged by a classifier.

Trains ``cgan-mnist`` (Mirza & Osindero 2014: the class joined to z and to D's input) and
``acgan-mnist`` (Odena et al. 2017: z times a class embedding, D with an auxiliary classifier)
on the real MNIST train split with the presets' own settings, then draws 1,000 samples per
class with ``g.sample(1000, labels=k)`` and classifies them with the domain classifier that
``ganforge evaluate --features classifier`` uses (the small CNN of ``ganforge.metrics.classifier``,
trained on real MNIST train, 3 epochs, cached after the first run; its accuracy on MNIST test is
printed as a sanity check). The score for class k is the fraction of samples asked for class k
that the classifier assigns to class k; the target is >= 90% averaged over the ten classes.

    python benchmarks/conditional.py                               # ~20 min on 2 CPU cores
    python benchmarks/conditional.py --presets acgan-mnist --steps 1500 --seeds 0,1
    python benchmarks/conditional.py --data-root /data/ganforge    # a folder with mnist/mnist.npz (or the IDX files)
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

import ganforge
from ganforge import config, data
from ganforge.config import DataConfig
from ganforge.data.arrays import load_official
from ganforge.errors import GanforgeError
from ganforge.metrics.classifier import predict
from ganforge.metrics.features import domain_classifier
from ganforge.training import train

REPO = Path(__file__).resolve().parents[1]
PRESETS = ("cgan-mnist", "acgan-mnist")
TARGET = 0.90


def judge(root: Path):
    """The domain classifier of MNIST train (as `ganforge evaluate` builds and caches it), and
    its accuracy on MNIST test."""
    try:
        train_set = data.build(DataConfig(name="mnist", resolution=28, root=str(root), download=False))
        test = load_official("mnist", root, "test", download=False)
    except GanforgeError as e:
        sys.exit(f"error: MNIST is not under --data-root {root} ({e}).\n"
                 f"Give --data-root a folder holding mnist/mnist.npz or the MNIST IDX files.")
    clf, _ = domain_classifier(train_set)
    _, probs = predict(clf, test.images)
    return clf, float((probs.argmax(1) == test.labels).mean())


def class_accuracy(g: ganforge.Generator, classifier, n: int) -> list[float]:
    accs = []
    for k in range(10):
        _, probs = predict(classifier, g.sample(n, seed=k, labels=k))
        accs.append(float((probs.argmax(1) == k).mean()))
    return accs


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default=str(REPO.parent / "shared" / "datasets"), help="folder holding mnist/ (default: ../shared/datasets)")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma list of conditional MNIST presets")
    p.add_argument("--steps", type=int, default=None, help="generator steps per run (default: the preset's)")
    p.add_argument("--seeds", default="0", help="comma list of training seeds")
    p.add_argument("--n", type=int, default=1000, help="samples per class")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch's default)")
    p.add_argument("--out", default="runs/bench-conditional", help="folder for the runs and results.json")
    a = p.parse_args(argv)
    if a.threads:
        torch.set_num_threads(a.threads)
    root = Path(a.data_root).expanduser().resolve()
    presets = [s for s in a.presets.split(",") if s]
    seeds = [int(s) for s in a.seeds.split(",") if s]
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    clf, test_accuracy = judge(root)
    print(f"classifier: {100 * test_accuracy:.2f}% on MNIST test (ready in {time.perf_counter() - t0:.0f} s)", flush=True)

    rows = []
    for name in presets:
        for seed in seeds:
            over = {"data": {"root": str(root), "download": False},
                    "train": {"seed": seed, "progress": False, "tensorboard": False}}
            if a.steps:
                over["train"]["steps"] = a.steps
            try:
                cfg = config.load(preset=name, overrides=over)
            except GanforgeError as e:
                print(f"error: {e}", file=sys.stderr)
                return 2
            if cfg.model.conditional == "none":
                print(f"error: preset {name} is not conditional", file=sys.stderr)
                return 2
            t = time.perf_counter()
            run = train(cfg, out=out / f"{name}-seed{seed}")
            wall = time.perf_counter() - t
            accs = class_accuracy(ganforge.load(run), clf, a.n)
            rows.append({"preset": name, "seed": seed, "steps": cfg.train.steps, "accuracy": accs,
                         "mean": statistics.mean(accs), "wall_s": wall, "run": str(run)})
            print(f"{name} seed {seed}: mean {100 * statistics.mean(accs):.1f}% in {wall:.0f} s", flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))

    cols = [(name, [r for r in rows if r["preset"] == name]) for name in presets]
    steps = ", ".join(sorted({f"{r['preset']} {r['steps']}" for r in rows}))
    print(f"\nSamples asked for class k that the classifier assigns to class k ({a.n} per class; steps: {steps}):")
    print(f"{'class':<8}" + "".join(f"{name:>16}" for name, _ in cols))
    cell = lambda v: f"{100 * statistics.mean(v):.1f}" + (f" ± {100 * statistics.stdev(v):.1f}" if len(v) > 1 else "")
    for k in range(10):
        print(f"{k:<8}" + "".join(f"{cell([r['accuracy'][k] for r in rs]):>16}" for _, rs in cols))
    print(f"{'mean':<8}" + "".join(f"{cell([r['mean'] for r in rs]):>16}" for _, rs in cols))
    print(f"{'wall s':<8}" + "".join(f"{statistics.mean(r['wall_s'] for r in rs):>16.0f}" for _, rs in cols))
    ok = all(r["mean"] >= TARGET for r in rows)
    print(f"\ntarget: >= {100 * TARGET:.0f}% averaged over the ten classes: {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
