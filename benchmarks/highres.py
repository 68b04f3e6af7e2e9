"""Beyond 64 pixels, on CPU: stacked vs single-stage at 256x256, ResNet vs DCGAN at 32x32, the
wide FC GAN's collapse, and a 512x512 folder streamed from the memory-mapped cache.

Parts (--only a,b,...):
  stack   flowers (../shared/datasets/flowers, 600 photos) at 256x256: dcgan-folder-256 against
          stacked-folder (stage 1 dcgan-folder at 64 for half the budget, stage 2 the rest)
  cifar   CIFAR-10 test split (the only one here, 10,000 images) at 32x32: sngan-cifar10 (ResNet)
          against dcgan-cifar10
  fc      fc-folder (237M parameters) on the flowers at 64x64: its health report and audit
  stream  --stream-n synthetic photos at 512x512: decode, then 40 batches of 32 from the
          memory-mapped cache, with the process's memory printed

Arms of a comparison get equal CPU time (time.process_time, one torch thread): each arm's
per-step CPU cost is measured on a short run first, then it trains for budget / cost steps;
the CPU seconds actually used are printed. Scores, on --n samples against the training images:
Fréchet distance and precision/recall (k=3) in the FEATURES NAMED IN THE OUTPUT (pixels: a
fixed random projection of 32x32 pixels; classifier: a small CNN trained on the data's labels),
never Inception's: not comparable to published FIDs. The memorization audit (ganforge audit)
counts samples closer to a training image than held-out real images are.

    flock /tmp/ganforge-bench.lock python benchmarks/highres.py --minutes 1.5 --images docs/images
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import ganforge
from ganforge import config, data, viz
from ganforge.diagnose import diagnose

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"
QUIET = {"progress": False, "tensorboard": False}


def cpu_train(cfg: config.Config, out: Path, resume=None) -> tuple[Path, float]:
    t = time.process_time()
    run = ganforge.train(cfg, out=out, resume=resume)
    return run, time.process_time() - t


def steps_for(cfg: config.Config, seconds: float, tmp: Path, probe: int = 4) -> tuple[int, float]:
    """Steps that fit in ``seconds`` of CPU: (cost of 1+probe steps - cost of 1 step) / probe per step,
    after a 1-step run that pays the one-off costs (decoding and caching the data at a new size:
    left in the first timed run, they once made the difference ~0 and the plan 4.8 million steps)."""
    over = lambda n: config.from_dict(config.merge(cfg.to_dict(), {"train": {"steps": n, "sample_every": 10**6,
                                                                             "ckpt_every": 10**6, "log_every": n}}))
    cpu_train(over(1), tmp / f"warmup-{time.time_ns()}")
    _, t1 = cpu_train(over(1), tmp / f"probe1-{time.time_ns()}")
    _, tn = cpu_train(over(1 + probe), tmp / f"probe{probe}-{time.time_ns()}")
    per = max(tn - t1, 1e-3) / probe
    return max(2, int(seconds / per)), per


def with_train(cfg: config.Config, **train) -> config.Config:
    return config.from_dict(config.merge(cfg.to_dict(), {"train": train}))


def score(g, dataset: config.DataConfig, features: str, n: int) -> dict:
    res = ganforge.evaluate(g, dataset, metrics=["fid", "pr"], n=n, features=features)
    out = {r["metric"]: r["value"] for r in res}
    aud = ganforge.audit(g, dataset, n=n, features=features, out=False)
    out["memorized"] = aud["memorization_score"]
    out["memorized_expected"] = aud["expected_for_fresh_samples"]
    out["features"] = features
    return out


def grid(g, path: Path, n: int = 8, side: int = 128) -> None:
    x = g.sample(n, seed=0).clamp(-1, 1)
    if x.shape[-1] > side:
        x = F.interpolate(x, size=side, mode="area")
    path.parent.mkdir(parents=True, exist_ok=True)
    viz.save_grid(x, path, nrow=n // 2 if n > 4 else n)


def report(name: str, steps: int, cpu: float, s: dict) -> None:
    print(f"  {name:<22} {steps:>6} steps  {cpu:7.1f} CPU s  FD {s['fid']:8.2f}  precision {s['precision']:.3f}  "
          f"recall {s['recall']:.3f}  memorized {s['memorized']:.3f} (fresh samples: {s['memorized_expected']:.3f})", flush=True)


def part_stack(a, out: Path, images: Path | None) -> dict:
    flowers = str(SHARED / "flowers")
    base = {"data": {"root": flowers}, "train": {**QUIET, "batch_size": 16, "sample_every": 200, "ckpt_every": 10**6}}
    single = config.load(preset="dcgan-folder-256", overrides=base)
    stage1 = config.load(preset="dcgan-folder", overrides=base)
    budget = 60 * a.minutes
    rows = {}
    steps, per = steps_for(single, budget, out / "probe")
    run, cpu = cpu_train(with_train(single, steps=steps), out / "dcgan-256")
    rows["dcgan-folder-256"] = (steps, cpu, ganforge.load(run))
    s1, per1 = steps_for(stage1, budget / 2, out / "probe")
    run1, cpu1 = cpu_train(with_train(stage1, steps=s1), out / "stage1-64")
    stack = config.load(preset="stacked-folder", overrides=config.merge(base, {"model": {"stage1": str(run1), "stage1_steps": s1}}))
    s2, per2 = steps_for(config.from_dict(config.merge(stack.to_dict(), {"model": {"stage1": ""}})), budget - cpu1, out / "probe")
    run2, cpu2 = cpu_train(with_train(stack, steps=s2), out / "stacked")
    rows["stacked-folder"] = (s1 + s2, cpu1 + cpu2, ganforge.load(run2))
    print(f"flowers 256x256, equal CPU budget {budget:.0f} s (per step: dcgan-256 {per:.2f} s, stage 1 {per1:.2f} s, "
          f"stage 2 {per2:.2f} s); features: pixels", flush=True)
    results = {}
    for name, (steps, cpu, g) in rows.items():
        s = score(g, None, "pixels", a.n)
        report(name, steps, cpu, s)
        results[name] = {"steps": steps, "cpu_s": cpu, **s}
        if images:
            grid(g, images / f"highres-{name}.png")
    return results


def cifar_split(root: Path) -> Path:
    """The shared CIFAR-10 test split as train (first 9,000) and held-out (last 1,000), in a temp folder."""
    z = np.load(SHARED / "cifar10" / "cifar10_test.npz")
    (root / "cifar10").mkdir(parents=True, exist_ok=True)
    np.savez(root / "cifar10" / "cifar10.npz", x_train=z["x_test"][:9000], y_train=z["y_test"][:9000],
             x_test=z["x_test"][9000:], y_test=z["y_test"][9000:], class_names=z["class_names"])
    return root


def part_cifar(a, out: Path, images: Path | None) -> dict:
    root = cifar_split(Path(tempfile.mkdtemp(prefix="ganforge-cifar-")))
    over = {"data": {"root": str(root), "split": "train", "download": False},
            "train": {**QUIET, "sample_every": 500, "ckpt_every": 10**6}}
    budget, results = 60 * a.minutes, {}
    print(f"CIFAR-10 32x32 (the shared test split: 9,000 to train on, 1,000 held out for the audit), equal CPU budget "
          f"{budget:.0f} s; features: classifier (a CNN trained on the 9,000 images' labels)", flush=True)
    # SNGAN's own width (G 256 channels at 32x32, 5 D steps) costs about a minute of CPU per
    # G step: the ResNet runs at --resnet-width of it, its recipe (hinge, SN, 5 D steps) unchanged.
    narrow = {"model": {"ngf": int(64 * a.resnet_width), "ndf": int(64 * a.resnet_width)}}
    print(f"  sngan-cifar10 at width x{a.resnet_width}: G {4 * int(64 * a.resnet_width)}, D {2 * int(64 * a.resnet_width)} channels", flush=True)
    for name in ("sngan-cifar10", "dcgan-cifar10"):
        cfg = config.load(preset=name, overrides=config.merge(over, narrow) if name.startswith("sngan") else over)
        steps, per = steps_for(cfg, budget, out / "probe")
        run, cpu = cpu_train(with_train(cfg, steps=steps), out / name)
        g = ganforge.load(run)
        s = score(g, None, "classifier", a.n)
        report(f"{name} ({per:.2f} s/step)", steps, cpu, s)
        results[name] = {"steps": steps, "cpu_s": cpu, **s}
        if images:
            grid(g, images / f"highres-{name}.png", n=32, side=32)
    shutil.rmtree(root)
    return results


def part_fc(a, out: Path, images: Path | None) -> dict:
    over = {"data": {"root": str(SHARED / "flowers")},
            "train": {**QUIET, "batch_size": 32, "sample_every": 100, "ckpt_every": 10**6, "log_every": 10},
            "health": {"every": 50}}
    cfg = config.load(preset="fc-folder", overrides=over)
    steps, per = steps_for(cfg, 60 * a.fc_minutes, out / "probe", probe=2)
    run, cpu = cpu_train(with_train(cfg, steps=steps), out / "fc-folder")
    g = ganforge.load(run)
    s = score(g, None, "pixels", a.n)
    peak = data.base.memory_mb().get("peak", 0)
    print(f"fc-folder on flowers 64x64 ({per:.2f} s/step, peak memory of this process {peak:,.0f} MiB); features: pixels", flush=True)
    report("fc-folder", steps, cpu, s)
    text, _, _ = diagnose(run)
    print("  health: " + "\n  health: ".join(line for line in text.splitlines() if line.strip())[:3000], flush=True)
    aud = ganforge.audit(g, None, n=a.n, features="pixels")  # with its files: pairs.png, distances.png
    if images:
        Path(aud["files"]["pairs"]).replace(images / "highres-fc-folder-audit-pairs.png")
    return {"steps": steps, "cpu_s": cpu, "peak_mib": peak, **s, "health": text}


def part_stream(a, out: Path, images: Path | None) -> dict:
    from PIL import Image

    root = Path(tempfile.mkdtemp(prefix="ganforge-stream-"))
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    yy, xx = np.mgrid[0:540, 0:720] / 540.0
    for i in range(a.stream_n):
        c = rng.uniform(0, 255, (3, 3))
        im = c[0] * xx[..., None] + c[1] * yy[..., None] + c[2] * np.sin(6 * xx * yy)[..., None] * 0.5
        sub = root / "photos" / f"{i % 97:02x}"  # LSUN-like hashed sub-folders: data.labels none
        sub.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.clip(im, 0, 255).astype(np.uint8)).save(sub / f"{i}.jpg", quality=90)
    print(f"stream: wrote {a.stream_n} photos 720x540 in {time.perf_counter() - t:.0f} s; memory {data.base.memory_text()}", flush=True)
    cfg = config.from_dict({"data": {"name": "folder", "root": str(root / "photos"), "resolution": 512, "labels": "none", "max_memory_mb": 512}})
    t = time.perf_counter()
    old_cache, os.environ["GANFORGE_CACHE"] = os.environ.get("GANFORGE_CACHE"), str(root / "cache")  # 3 GiB: removed below
    src = data.build(cfg.data)
    print(f"stream: decoded and cached in {time.perf_counter() - t:.0f} s", flush=True)
    it = src.batches(32, torch.device("cpu"))
    t = time.perf_counter()
    for i in range(40):
        x, _ = next(it)
        if i % 10 == 9:
            print(f"stream: batch {i + 1} {tuple(x.shape)}: memory {data.base.memory_text()}", flush=True)
    m = data.base.memory_mb()
    print(f"stream: {40 * 32 / (time.perf_counter() - t):.0f} img/s from the cache; a {len(src):,}-image set of "
          f"{src.images.nbytes / 2**30:.2f} GiB, own memory {m.get('anon', 0):,.0f} MiB", flush=True)
    result = {"n": len(src), "gib": src.images.nbytes / 2**30, **m}
    del src, it, x
    shutil.rmtree(root)
    if old_cache is None:
        os.environ.pop("GANFORGE_CACHE")
    else:
        os.environ["GANFORGE_CACHE"] = old_cache
    return result


PARTS = {"stack": part_stack, "cifar": part_cifar, "fc": part_fc, "stream": part_stream}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(PARTS), help=f"comma list of parts: {', '.join(PARTS)}")
    p.add_argument("--minutes", type=float, default=1.5, help="CPU minutes per arm of a comparison")
    p.add_argument("--fc-minutes", type=float, default=3.0, help="CPU minutes for the wide FC GAN")
    p.add_argument("--resnet-width", type=float, default=0.25, help="the ResNet's ngf and ndf as a fraction of sngan-cifar10's 64")
    p.add_argument("--n", type=int, default=500, help="samples scored per generator")
    p.add_argument("--stream-n", type=int, default=4000, help="photos in the streaming test")
    p.add_argument("--out", default="runs/bench-highres")
    p.add_argument("--images", default=None, help="write small sample grids here (e.g. docs/images)")
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    torch.manual_seed(0)
    out = Path(a.out)
    images = Path(a.images) if a.images else None
    results = {}
    for name in a.only.split(","):
        t = time.perf_counter()
        results[name] = PARTS[name](a, out / name, images)
        print(f"[{name}: {time.perf_counter() - t:.0f} s wall]", flush=True)
        out.mkdir(parents=True, exist_ok=True)
        (out / "results.json").write_text(json.dumps(results, indent=1, default=str))  # after each part
    return 0


if __name__ == "__main__":
    sys.exit(main())
