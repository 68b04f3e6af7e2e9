"""Sample quality of the dcgan-mnist preset after a fixed training budget, judged by an MNIST classifier.

Trains ``dcgan-mnist`` (batch 64) for --steps generator steps, or for about --minutes, on the
real MNIST; then scores 10,000 samples of the trained generator beside 10,000 real MNIST test
images, both through a small CNN trained on MNIST train (cached after the first run):

  Fréchet distance  to MNIST train, in the classifier's penultimate features (Heusel et al. 2017's
                    formula with a domain classifier instead of Inception: NOT comparable to FID)
  confidence        mean max class probability
  coverage          classes given >= 1% of the samples; entropy of the predicted-class histogram
  Inception Score   exp E[KL(p(y|x) || p(y))] with the classifier (Salimans et al. 2016), 10 splits

    python benchmarks/quality.py                      # about 5 minutes on 2 CPU cores (first run: +1 min)
    python benchmarks/quality.py --minutes 8 --out /tmp/q
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import ganforge
from ganforge import config, data
from ganforge.data.arrays import load_official
from ganforge.errors import GanforgeError
from ganforge.runs import read_metrics
from ganforge.metrics.classifier import load_or_train, predict
from ganforge.metrics.fid import feature_stats, frechet_distance

REPO = Path(__file__).resolve().parents[1]
N_SAMPLES = 10_000


# ---------------------------------------------------------------------------- scores

def inception_score(probs: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """exp(E_x KL(p(y|x) || p(y))), mean and std over ``splits`` parts, as Salimans et al. 2016."""
    scores = []
    for part in np.array_split(probs, splits):
        p_y = part.mean(axis=0, keepdims=True)
        kl = (part * (np.log(part + 1e-12) - np.log(p_y + 1e-12))).sum(axis=1)
        scores.append(math.exp(kl.mean()))
    return float(np.mean(scores)), float(np.std(scores))


def scores(feats: np.ndarray, probs: np.ndarray, ref_mu: np.ndarray, ref_sigma: np.ndarray) -> dict:
    k = probs.shape[1]
    hist = np.bincount(probs.argmax(1), minlength=k) / len(probs)
    nz = hist[hist > 0]
    is_mean, is_std = inception_score(probs)
    return {
        "frechet": frechet_distance(*feature_stats(feats), ref_mu, ref_sigma),
        "confidence": float(probs.max(1).mean()),
        "classes_1pct": int((hist >= 0.01).sum()),
        "class_entropy": float(-(nz * np.log(nz)).sum()),
        "is_mean": is_mean,
        "is_std": is_std,
        "class_hist": hist.round(4).tolist(),
    }


# ---------------------------------------------------------------------------- training

def steps_for_minutes(cfg: config.Config, minutes: float) -> int:
    """Generator steps that fit in ``minutes``, from a short calibration run of ``ganforge.train``
    itself (steady-state rate, the first window left out); the real run also draws snapshots
    and saves checkpoints, so aim 5% short."""
    short = config.from_dict(config.merge(cfg.to_dict(), {"train": {
        "steps": 80, "log_every": 20, "sample_every": 10**6, "ckpt_every": 10**6, "progress": False}}))
    with tempfile.TemporaryDirectory() as tmp:
        run = ganforge.train(short, out=Path(tmp) / "calibrate")
        rate = statistics.median(r["img_per_s"] for r in read_metrics(run / "metrics.jsonl")[1:]) / cfg.train.batch_size
    return max(1, int(minutes * 60 * rate * 0.95))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=3000, help="generator steps at batch 64 (default 3000: about 3 minutes on 2 CPU cores)")
    p.add_argument("--minutes", type=float, default=None, help="instead of --steps: train for about this long")
    p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "datasets",
                   help="folder holding mnist/ (default: ../shared/datasets beside the repository)")
    p.add_argument("--out", type=Path, default=Path("/tmp/ganforge-quality/dcgan-mnist"), help="run directory (made unique: -2, -3...)")
    p.add_argument("--device", default="auto", help="training device (scoring runs on cpu)")
    p.add_argument("--seed", type=int, default=0, help="training seed")
    p.add_argument("--classifier-epochs", type=int, default=3)
    a = p.parse_args(argv)

    root = a.data_root.expanduser().resolve()
    try:
        train_set = load_official("mnist", root, "train", download=False)
        test_set = load_official("mnist", root, "test", download=False)
    except GanforgeError as e:
        sys.exit(f"quality.py: MNIST is not readable under {root} ({e}).\nPass --data-root DIR, the folder holding mnist/mnist.npz.")

    load = os.getloadavg()[0]
    if load > 0.5:
        print(f"warning: load average {load:.1f} at the start: another job is using the CPU, "
              "so the training time and images/s will be low (the scores of a --steps run are not affected)", flush=True)

    overrides = ["--data.root", str(root), "--data.download", "false", "--train.batch_size", "64",
                 "--train.seed", str(a.seed), "--train.device", a.device, "--train.tensorboard", "false",
                 "--train.progress", str(sys.stderr.isatty()).lower()]  # no bar in logs
    cfg = config.load(preset="dcgan-mnist", overrides=overrides + ["--train.steps", str(a.steps)])
    if a.minutes is not None:
        steps = steps_for_minutes(cfg, a.minutes)
        print(f"--minutes {a.minutes:g}: {steps} steps at the measured rate", flush=True)
        cfg = config.load(preset="dcgan-mnist", overrides=overrides + ["--train.steps", str(steps)])

    # 1. Train.
    t0 = time.perf_counter()
    run = ganforge.train(cfg, out=a.out)
    train_s = time.perf_counter() - t0
    logged = [r["img_per_s"] for r in read_metrics(run / "metrics.jsonl")]
    img_s = statistics.median(logged[1:] or logged)  # the first window holds the warm-up

    # 2. The judge: a classifier of real MNIST, trained once and cached.
    t0 = time.perf_counter()
    clf, cached = load_or_train(train_set.images, train_set.labels, data.cache_dir() / "classifiers", seed=0, epochs=a.classifier_epochs)
    clf_s = time.perf_counter() - t0
    ref_mu, ref_sigma = feature_stats(predict(clf, train_set.images)[0])

    # 3. Score generated and real images alike.
    fake = ganforge.load(run).sample(N_SAMPLES, seed=12345)  # eval mode, as `ganforge sample`
    real = test_set.images[:N_SAMPLES]
    feats_real, probs_real = predict(clf, real)
    accuracy = float((probs_real.argmax(1) == test_set.labels[:N_SAMPLES]).mean())
    result = {"generated": scores(*predict(clf, fake), ref_mu, ref_sigma), "real_test": scores(feats_real, probs_real, ref_mu, ref_sigma)}
    result.update(steps=cfg.train.steps, batch_size=cfg.train.batch_size, train_seconds=train_s, img_per_s=img_s,
                  classifier_test_accuracy=accuracy, classifier_cached=cached, load_average_at_start=load, torch=torch.__version__, threads=torch.get_num_threads())
    (run / "quality.json").write_text(json.dumps(result, indent=1))

    g, r = result["generated"], result["real_test"]
    k = len(g["class_hist"])
    rows = [
        ("Fréchet distance, classifier features *", f"{g['frechet']:.3f}", f"{r['frechet']:.3f}"),
        ("confidence (mean max class probability)", f"{g['confidence']:.3f}", f"{r['confidence']:.3f}"),
        ("classes with >= 1% of samples", f"{g['classes_1pct']}/{k}", f"{r['classes_1pct']}/{k}"),
        (f"predicted-class entropy (nats, max {math.log(k):.3f})", f"{g['class_entropy']:.3f}", f"{r['class_entropy']:.3f}"),
        ("classifier Inception Score (10 splits)", f"{g['is_mean']:.2f} ± {g['is_std']:.2f}", f"{r['is_mean']:.2f} ± {r['is_std']:.2f}"),
    ]
    print(f"\ndcgan-mnist, {cfg.train.steps} steps x batch {cfg.train.batch_size}, seed {a.seed}: {run}")
    print(f"{'':44}{'generated':>16}{'real (test)':>16}")
    for name, gv, rv in rows:
        print(f"{name:44}{gv:>16}{rv:>16}")
    print("* Fréchet distance to MNIST-train feature statistics in the penultimate layer of a small MNIST\n"
          "  CNN (\"FID with a domain classifier\"): NOT comparable to Inception FID or published FIDs.")
    print(f"{N_SAMPLES} samples per column; classifier: test accuracy {accuracy:.4f}, "
          f"{'loaded from cache' if cached else f'trained in {clf_s:.0f} s'}")
    print(f"generated class histogram: {' '.join(f'{h:.3f}' for h in g['class_hist'])}")
    print(f"training: {train_s:.0f} s wall (incl. data load, snapshots, checkpoints); "
          f"{img_s:.0f} img/s (median of the loop's logged rate); torch {torch.__version__}, {torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
