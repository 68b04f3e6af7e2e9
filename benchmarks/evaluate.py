"""How long evaluation and the memorization audit take on CPU, at MNIST's full size.

  1. evaluate: 10,000 generated MNIST samples, every metric that applies (fid, kid, pr, dc, is)
     with the classifier extractor, against 10,000 real training images: first with nothing
     cached (the real features, statistics and k-NN radii computed), then again with them cached
     (target: at most 60 s on 2 CPU cores). Training the classifier itself (once per dataset,
     cached) is timed separately.
  2. audit: 10,000 generated samples against the full MNIST training set (60,000 images), in
     pixel and classifier-feature space, with the 10,000 test images as the held-out reference
     (first run: the 60,000 training features computed; second: cached).

It needs a trained MNIST generator: ``--run RUN_DIR``, or it trains a small one quickly
(dcgan-mnist with ngf = ndf = 32, --steps 300; the quality does not matter for timing).
The cache is always a fresh temporary folder, so "first" means uncached; the MNIST classifier
(about 8 minutes to train on 2 busy CPU cores) is copied into it from ``--classifiers`` when a
cached one is there (default ~/.cache/ganforge/classifiers), else trained and timed.

    python benchmarks/evaluate.py                                   # ~15 minutes the first time on 2 CPU cores
    python benchmarks/evaluate.py --run runs/dcgan-mnist --threads 1
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", type=Path, default=None, help="a trained MNIST run directory or checkpoint (default: train one)")
    p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "datasets",
                   help="folder holding mnist/ (default: ../shared/datasets beside the repository)")
    p.add_argument("--steps", type=int, default=300, help="steps of the quick generator when --run is absent (default 300)")
    p.add_argument("--n", type=int, default=10000, help="generated samples (default 10000)")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    p.add_argument("--classifiers", type=Path, default=Path.home() / ".cache" / "ganforge" / "classifiers",
                   help="copy cached classifiers from here into the fresh cache (default ~/.cache/ganforge/classifiers)")
    p.add_argument("--out", type=Path, default=None, help="where the quick run and the audit files go (default: a temporary folder)")
    a = p.parse_args(argv)

    root = a.data_root.expanduser().resolve()
    if not (root / "mnist" / "mnist.npz").exists() and not (root / "mnist").is_dir():
        sys.exit(f"MNIST is not in {root} (expected {root}/mnist/mnist.npz): pass --data-root")
    work = a.out or Path(tempfile.mkdtemp(prefix="ganforge-eval-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="cache-", dir=work))
    os.environ["GANFORGE_CACHE"] = str(cache)
    if a.classifiers.is_dir():
        (cache / "classifiers").mkdir()
        for f in a.classifiers.glob("classifier-*.pt"):
            shutil.copy(f, cache / "classifiers" / f.name)

    import torch

    torch.set_num_threads(a.threads)
    import ganforge
    from ganforge import config, data
    from ganforge.metrics import features
    from ganforge.metrics.audit import audit
    from ganforge.metrics.evaluate import evaluate

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, cache {os.environ['GANFORGE_CACHE']}, "
          f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    run = a.run
    if run is None:
        cfg = config.load(preset="dcgan-mnist", overrides={
            "data": {"root": str(root), "download": False}, "model": {"ngf": 32, "ndf": 32},
            "train": {"steps": a.steps, "batch_size": 64, "progress": False, "tensorboard": False, "device": "cpu",
                      "sample_every": a.steps, "ckpt_every": a.steps, "log_every": 50},
            "health": {"enabled": False}})
        t = time.perf_counter()
        run = ganforge.train(cfg, out=work / "dcgan-mnist-small")
        print(f"trained a small dcgan-mnist for {a.steps} steps in {time.perf_counter() - t:.0f} s: {run}")
    g = ganforge.load(run)
    data_cfg = dataclasses.replace(g.cfg.data, root=str(root), download=False)
    if data_cfg.name != "mnist":
        sys.exit(f"{run} was trained on {data_cfg.name}; this benchmark is for MNIST")

    rows = []
    cached = any((cache / "classifiers").glob("*.pt")) if (cache / "classifiers").is_dir() else False
    t = time.perf_counter()
    train_src = data.build(data_cfg)
    features.build("classifier", g.info, train=train_src)
    rows.append((f"classifier: {'load (cached)' if cached else 'train'} on MNIST train; hash, build the source", time.perf_counter() - t))

    for label in ("evaluate, real statistics uncached", "evaluate, real statistics cached"):
        t = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = evaluate(g, data_cfg, metrics=["fid", "kid", "pr", "dc", "is"], n=a.n, features="classifier")
        rows.append((f"{label} ({a.n:,} generated, fid kid pr dc is)", time.perf_counter() - t))
    summary = ", ".join(f"{r['metric']} {r['value']:.4g}" for r in res)

    for label in ("audit, training features uncached", "audit, training features cached"):
        t = time.perf_counter()
        s = audit(g, data_cfg, n=a.n, features="classifier", out=work / "audit")
        rows.append((f"{label} ({a.n:,} generated × {s['n_train']:,} train, held-out {s['n_heldout']:,})",
                     time.perf_counter() - t))

    width = max(len(r[0]) for r in rows)
    print(f"\n{'step':<{width}}  seconds")
    for name, sec in rows:
        print(f"{name:<{width}}  {sec:7.1f}")
    print(f"\nscores: {summary}")
    print(f"audit: memorization score {s['memorization_score']:.2%} (fresh real images {s['expected_for_fresh_samples']:.2%}); "
          f"files in {work / 'audit'}")


if __name__ == "__main__":
    main()
