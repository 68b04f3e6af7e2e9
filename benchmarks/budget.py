"""Sample quality per CPU-minute: the classic DCGAN loop and a ganforge preset, same budget, side by side.

Two worker processes, one thread each, train at the same time (so a neighbour's load hits both
alike), each until its own CPU time (time.process_time, set-up excluded) reaches --minutes:

  classic   pytorch/examples' dcgan loop (benchmarks/classic.py) on the dataset padded 28 → 32,
            batch 64 in a fresh random order each epoch: G 1.07M and D 0.66M parameters, BCE,
            Adam 2e-4 (0.5, 0.999), N(0, 0.02) init
  ganforge  ``ganforge.train``'s own Trainer on --preset (default dcgan-<dataset>), with its
            logging, health probes, snapshots and checkpoints, the CPU budget deciding when to stop
            (a preset whose learning rate decays, optim.lr_decay, trains its own train.steps, the
            schedule's end, unless the budget runs out first; marks after that end score its
            final weights)

Each worker saves its generator's weights (the EMA ones, if the preset keeps them) when its CPU
time passes each of --at; scoring happens after training, so it eats no budget. Every snapshot
is scored as benchmarks/quality.py scores: 10,000 samples through a small CNN trained on the
dataset's train split (metrics/classifier.py, cached), against the 10,000 test images:
Fréchet distance in its penultimate features (NOT comparable to Inception FID), classes with
>= 1% of the samples, KL of the predicted-class histogram to uniform, mean confidence.

    python benchmarks/budget.py                                # 20 CPU-minutes each: ~25 min on 2 free cores
    python benchmarks/budget.py --dataset fashion-mnist --minutes 5 --at 1,2.5
    python benchmarks/budget.py --sides ganforge --set optim.lr_g=4e-4 --minutes 3   # rank a variant alone

A folder of photos (--dataset folder --root PATH) is trained at 64x64 on both sides: the classic
side is pytorch/examples' recipe as written (shorter side resized to 64, centre crop, batch 64,
G 3.58M and D 2.77M parameters), the ganforge side --preset (default fastgan-folder). Its judge must
not have seen the folder: a CIFAR-10 classifier (the same small CNN, trained on the shared
CIFAR-10 test split), images shrunk to 32x32; --samples (default 2,000) against every photo of
the folder: Fréchet distance in its features, and precision and recall (k = 3) in them.

    python benchmarks/budget.py --dataset folder --root ../shared/datasets/flowers --minutes 20 --at 5,10

A second photo set: one CIFAR-10 class written as a folder (benchmarks/photo_set.py), judged by a
classifier trained on the other nine classes, so that the judge has never seen the folder either:

    python benchmarks/photo_set.py cifar10 horse /tmp/horses
    python benchmarks/budget.py --dataset folder --root /tmp/horses --judge-without horse
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

import classic
from quality import scores

from ganforge import config, data, models, runs, training, viz
from ganforge.data.arrays import load_official
from ganforge.data.base import DataInfo
from ganforge.errors import GanforgeError
from ganforge.generator import Generator
from ganforge.metrics.classifier import load_or_train, predict
from ganforge.metrics.fid import feature_stats, frechet_distance
from ganforge.metrics.scores import manifold_scores

REPO = Path(__file__).resolve().parents[1]
PAD = 2  # the classic side trains on 28x28 images padded to 32x32
NZ, NGF, NDF, BATCH = 100, 64, 64, 64
SAMPLE_SEED = 12345
SIDE = 64  # a folder's side on both sides: the classic recipe's


def folder_judge(a):
    """(classifier, (mu, sigma, features) of the folder's photos, its two halves' score) for a
    folder: a CIFAR-10 classifier that never saw it, the images shrunk to its 32x32."""
    cifar = np.load(a.data_root / "cifar10" / "cifar10_test.npz")
    x, y = cifar["x_test"], cifar["y_test"]
    if a.judge_without:  # a folder made of one CIFAR-10 class (photo_set.py): a judge that never saw that class
        names = [str(n) for n in cifar["class_names"]]
        if a.judge_without not in names:
            sys.exit(f"budget.py: --judge-without {a.judge_without}: expected a CIFAR-10 class, one of {', '.join(names)}")
        keep = y != names.index(a.judge_without)
        x, y = x[keep], y[keep]
    clf, _ = load_or_train(x, y, data.cache_dir() / "classifiers", seed=0, epochs=5)
    photos = folder_images(a.judge_on or a.root)
    feats = predict(clf, photos)[0]
    half = np.random.default_rng(0).permutation(len(feats))
    a_, b_ = feats[half[: len(half) // 2]], feats[half[len(half) // 2:]]
    floor = {"frechet": frechet_distance(*feature_stats(a_), *feature_stats(b_))}
    return clf, (*feature_stats(feats), feats), floor


# ---------------------------------------------------------------------------- workers (one thread each)

class Budget:
    """CPU seconds of this process since ``start``; ``due()`` yields each --at mark once passed."""

    def __init__(self, minutes: float, at: list[float]):
        self.t0, self.limit, self.marks = time.process_time(), minutes * 60, [m * 60 for m in at]

    def used(self) -> float:
        return time.process_time() - self.t0

    def due(self) -> list[float]:
        out = []
        while self.marks and self.used() >= self.marks[0]:
            out.append(self.marks.pop(0))
        return out


def save_snapshot(out: Path, mark: float, G: torch.nn.Module, budget: Budget, steps: int) -> None:
    state = {k: v.detach().clone() for k, v in G.state_dict().items()}
    torch.save({"mark_s": mark, "cpu_s": budget.used(), "steps": steps, "G": state}, out / f"snap-{mark / 60:g}.pt")
    print(f"  {out.name}: {mark / 60:g} CPU-min mark at {budget.used() / 60:.2f} min, step {steps}", flush=True)


def folder_images(root: Path) -> torch.Tensor:
    """Every image of the folder as uint8 (N, 3, 64, 64): shorter side to 64, centre crop."""
    cfg = config.load(overrides={"data.name": "folder", "data.root": str(root), "data.resolution": SIDE, "data.channels": 3,
                                 "data.labels": "none"})
    return data.build(cfg.data).images


def run_classic(a, out: Path) -> None:
    torch.manual_seed(a.seed)
    if a.dataset == "folder":  # Resize(64), CenterCrop(64), Normalize: the recipe's own pipeline
        x = folder_images(a.root).float().div(127.5).sub(1.0)
    else:
        images = load_official(a.dataset, a.data_root, "train", download=False).images  # (N, 28, 28, 1) uint8
        x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
        x = torch.nn.functional.pad(x, (PAD,) * 4, value=-1.0)  # black border, as Pad(2) + Normalize
    real = x[:BATCH].clone()  # the loop body reads its batch from here
    (step, losses), netG, _ = classic.dcgan_stepper(real, NZ, NGF, NDF)
    budget, steps, wall = Budget(a.minutes, a.at), 0, time.perf_counter()
    while True:
        for idx in torch.randperm(len(x))[: len(x) // BATCH * BATCH].split(BATCH):  # DataLoader(shuffle=True, drop_last=True)
            for mark in budget.due():
                save_snapshot(out, mark, netG, budget, steps)
            if budget.used() >= budget.limit:
                (out / "done.json").write_text(json.dumps({"steps": steps, "cpu_s": budget.used(), "wall_s": time.perf_counter() - wall,
                                                           "losses": losses()}))
                return
            real.copy_(x[idx])
            step()
            steps += 1


def run_ganforge(a, out: Path) -> None:
    overrides = ["--data.root", str(a.root if a.dataset == "folder" else a.data_root), "--data.download", "false", "--train.seed", str(a.seed),
                 "--train.device", "cpu", "--train.tensorboard", "false", "--train.progress", "false"]
    extra = [arg for kv in a.set for arg in ("--" + kv.split("=", 1)[0], kv.split("=", 1)[1])]
    cfg = config.load(preset=a.preset, overrides=overrides + extra)
    if not cfg.optim.lr_decay:  # a constant rate trains until the CPU budget; a decaying one to its own end, train.steps
        cfg.train.steps = 10**7
    trainer = training.Trainer(cfg, out / "run")
    (out / "meta.json").write_text(json.dumps({"config": cfg.to_dict(), "info": trainer.source.info.to_dict()}))
    G = trainer.G_ema if trainer.G_ema is not None else trainer.game.G
    budget, wall, stopped = Budget(a.minutes, a.at), time.perf_counter(), {}

    def over_budget(t) -> bool:  # asked before each step: the place to watch the clock
        for mark in budget.due():
            save_snapshot(out, mark, G, budget, t.step)
        if budget.used() >= budget.limit and not stopped:
            stopped.update(steps=t.step + 1, cpu_s=budget.used(), wall_s=time.perf_counter() - wall)
            return True  # the next step is the last; the loop then finishes the run
        return False

    trainer.run(stop_when=over_budget)
    if not stopped:  # train.steps ended the run inside the budget: its final weights stand for the marks left
        stopped.update(steps=trainer.step, cpu_s=budget.used(), wall_s=time.perf_counter() - wall)
        for mark in budget.marks:
            save_snapshot(out, mark, G, budget, trainer.step)
    (out / "done.json").write_text(json.dumps({**stopped, "run": str(trainer.dir)}))


# ---------------------------------------------------------------------------- scoring

def snapshots(side_dir: Path) -> list[dict]:
    return sorted((torch.load(p, weights_only=True) for p in side_dir.glob("snap-*.pt")), key=lambda s: s["mark_s"])


def generator_of(side: str, side_dir: Path):
    """(a net to load snapshot weights into, a function: net → 10,000 images at 28x28 in [-1, 1])."""
    if side == "classic":
        folder = (side_dir.parent / "folder").exists()
        net = classic.generator(NZ, NGF, 3, SIDE) if folder else classic.generator(NZ, NGF, 1, 28 + 2 * PAD)

        def draw(n: int) -> torch.Tensor:  # eval mode, as ganforge samples; then any padding cropped off
            z = torch.randn(n, NZ, 1, 1, generator=torch.Generator().manual_seed(SAMPLE_SEED))
            with torch.no_grad():
                x = torch.cat([net.eval()(c) for c in z.split(500)])
            return x if folder else x[:, :, PAD:-PAD, PAD:-PAD]
        return net, draw
    meta = json.loads((side_dir / "meta.json").read_text())
    cfg, info = config.from_dict(meta["config"]), DataInfo.from_dict(meta["info"])
    net = models.build(cfg.model, info)[0]
    gen = Generator(net, cfg, info)
    return net, lambda n: gen.sample(n, seed=SAMPLE_SEED)


def score_side(side: str, side_dir: Path, clf, ref, n: int) -> list[dict]:
    net, draw = generator_of(side, side_dir)
    rows = []
    for snap in snapshots(side_dir):
        net.load_state_dict(snap["G"])
        x = draw(n)
        feats, probs = predict(clf, x)
        s = scores(feats, probs, *ref[:2])
        hist = np.asarray(s["class_hist"])
        s["kl_uniform"] = float((hist[hist > 0] * np.log(hist[hist > 0] * len(hist))).sum())
        if len(ref) > 2:  # a folder: precision and recall against the photos' features
            s.update(manifold_scores(ref[2], feats))
        rows.append({"minutes": snap["mark_s"] / 60, "cpu_s": snap["cpu_s"], "steps": snap["steps"], **s})
        viz.save_grid(x[:64], side_dir / f"samples-{snap['mark_s'] / 60:g}min.png")
    return rows


def minutes_to_reach(rows: list[dict], target: float) -> float | None:
    return next((r["minutes"] for r in rows if r["frechet"] <= target), None)


def plot(results: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for side, rows in results.items():
        ax.plot([r["minutes"] for r in rows], [r["frechet"] for r in rows], "o-", label=side)
    ax.set(xlabel="CPU minutes (one thread)", ylabel="Fréchet distance, classifier features", title=title, yscale="log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ---------------------------------------------------------------------------- main

def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="mnist", choices=["mnist", "fashion-mnist", "folder"])
    p.add_argument("--root", type=Path, help="--dataset folder: the folder of photos")
    p.add_argument("--minutes", type=float, default=20.0, help="CPU minutes per side, one thread each (default 20)")
    p.add_argument("--at", default="1,2.5,5,10", help="CPU minutes at which to snapshot and score too (the budget's end always is)")
    p.add_argument("--preset", default=None, help="the ganforge side's preset (default dcgan-<dataset>)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override on the ganforge side, e.g. optim.lr_g=4e-4 (repeatable)")
    p.add_argument("--sides", default="classic,ganforge", help="which sides to train: classic, ganforge or both (default)")
    p.add_argument("--judge-without", metavar="CLASS", help="--dataset folder: train the CIFAR-10 judge without this class "
                   "(for a folder made of it by benchmarks/photo_set.py)")
    p.add_argument("--judge-on", type=Path, metavar="FOLDER", help="--dataset folder: score against these photos instead of "
                   "--root's (fresh photos of the same kind: closeness to the training photos is then no help)")
    p.add_argument("--samples", type=int, default=None, help="samples scored per snapshot (default 10,000; 2,000 for a folder)")
    p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "datasets", help="folder holding mnist/ and fashion_mnist/")
    p.add_argument("--out", type=Path, default=Path("/tmp/ganforge-budget"), help="results folder (made unique: -2, -3...)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--worker", choices=["classic", "ganforge"], help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.dataset == "folder" and not a.root:
        p.error("--dataset folder needs --root PATH, the folder of photos")
    a.root = a.root.expanduser().resolve() if a.root else None
    a.judge_on = a.judge_on.expanduser().resolve() if a.judge_on else None
    a.samples = a.samples or (2000 if a.dataset == "folder" else 10_000)
    a.preset = a.preset or ("fastgan-folder" if a.dataset == "folder" else f"dcgan-{a.dataset}")
    a.data_root = a.data_root.expanduser().resolve()
    a.at = sorted({float(m) for m in a.at.split(",") if m and float(m) < a.minutes} | {a.minutes})
    a.sides = [s for s in a.sides.split(",") if s]
    if not a.sides or set(a.sides) - {"classic", "ganforge"}:
        p.error(f"--sides {','.join(a.sides)}: expected classic, ganforge or classic,ganforge")
    if any("=" not in kv for kv in a.set):
        p.error(f"--set {next(kv for kv in a.set if '=' not in kv)}: expected KEY=VALUE, e.g. optim.lr_g=4e-4")
    return a


def main(argv: list[str] | None = None) -> None:
    a = parse(argv if argv is not None else sys.argv[1:])
    if a.worker:  # a child: train one side for the budget, then exit
        torch.set_num_threads(1)
        (run_classic if a.worker == "classic" else run_ganforge)(a, a.out)
        return
    try:
        judge = folder_judge(a) if a.dataset == "folder" else None
        train_set = None if judge else load_official(a.dataset, a.data_root, "train", download=False)
        test_set = None if judge else load_official(a.dataset, a.data_root, "test", download=False)
    except GanforgeError as e:
        sys.exit(f"budget.py: {a.dataset} is not readable under {a.data_root} ({e}).\nPass --data-root DIR (and --root).")
    config.load(preset=a.preset)  # a wrong preset name fails here, not in a child
    out = runs.free(a.out)
    out.mkdir(parents=True)
    if judge:
        (out / "folder").write_text(str(a.root))  # tells the scoring the classic side is the 64x64 colour net
    print(f"{a.dataset}: {' and '.join(a.sides)}, {a.minutes:g} CPU-minutes each, one thread each, side by side; "
          f"snapshots at {', '.join(f'{m:g}' for m in a.at)} min; load average {os.getloadavg()[0]:.1f} at the start; {out}", flush=True)

    # 1. Train both sides at once, one thread each.
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    argv = argv if argv is not None else sys.argv[1:]
    procs = {}
    for side in a.sides:
        (out / side).mkdir(exist_ok=True)
        cmd = [sys.executable, __file__, *argv, "--worker", side, "--out", str(out / side)]
        procs[side] = subprocess.Popen(cmd, env=env, stdout=open(out / side / "log.txt", "w"), stderr=subprocess.STDOUT)
    t0 = time.perf_counter()
    try:
        for side, proc in procs.items():
            if proc.wait():
                sys.exit(f"budget.py: the {side} worker failed (exit {proc.returncode}); see {out / side / 'log.txt'}")
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.terminate()
    print(f"trained in {time.perf_counter() - t0:.0f} s wall", flush=True)

    # 2. Score every snapshot.
    if judge:
        clf, ref, floor = judge
    else:
        clf, _ = load_or_train(train_set.images, train_set.labels, data.cache_dir() / "classifiers", seed=0, epochs=3)
        ref = feature_stats(predict(clf, test_set.images[: a.samples])[0])
        floor = scores(*predict(clf, train_set.images[np.random.default_rng(0).permutation(len(train_set.images))[: a.samples]]), *ref)
    results = {side: score_side(side, out / side, clf, ref, a.samples) for side in a.sides}
    done = {side: json.loads((out / side / "done.json").read_text()) for side in a.sides}
    summary = {"dataset": a.dataset, "root": str(a.root), "judge_on": str(a.judge_on or a.root), "seed": a.seed, "minutes": a.minutes, "preset": a.preset, "set": a.set,
               "results": results, "done": done,
               "real_train_frechet": floor["frechet"], "torch": torch.__version__}
    (out / "budget.json").write_text(json.dumps(summary, indent=1))
    plot(results, out / "curves.png", f"{a.dataset}: quality per CPU-minute")

    # 3. Report.
    label = {"classic": "classic loop", "ganforge": a.preset + (" " + " ".join(a.set) if a.set else "")}
    against = (f"every photo of {a.judge_on or 'the folder'} (CIFAR-10 classifier{' without ' + a.judge_without if a.judge_without else ''}, "
               "32x32); two halves of it") if judge else "the test split; real train images"
    print(f"\n{a.dataset}, {a.samples} samples per score vs {against} score {floor['frechet']:.2f}")
    extra = ("precision", "recall") if judge else ("classes_1pct", "kl_uniform", "confidence")
    print(f"{'side':24}{'CPU min':>8}{'steps':>7}{'Fréchet':>9}" + "".join(f"{k[:9]:>10}" for k in extra))
    for side, rows in results.items():
        for r in rows:
            print(f"{label[side][:23]:24}{r['minutes']:8g}{r['steps']:7d}{r['frechet']:9.2f}" + "".join(f"{r[k]:10.3f}" for k in extra))
    for side in a.sides:
        d = done[side]
        print(f"{label[side]}: {d['steps']} steps in {d['cpu_s'] / 60:.1f} CPU-min ({d['wall_s'] / 60:.1f} wall-min), "
              f"{d['steps'] / d['cpu_s']:.2f} steps per CPU-second")
    if len(results) == 2:
        c, g = results["classic"][-1]["frechet"], results["ganforge"][-1]["frechet"]
        reach = minutes_to_reach(results["ganforge"], c)
        print(f"at {a.minutes:g} CPU-min: ganforge/classic Fréchet distance = {g / c:.2f} (target <= 0.5); ganforge reaches the "
              f"classic loop's final {c:.2f} " + (f"by {reach:g} CPU-min ({reach / a.minutes:.2f} of the budget; target <= 0.25)"
                                                  if reach is not None else "at none of the marks"))
    print(f"curves: {out / 'curves.png'}; sample grids: {out}/*/samples-*.png; all figures: {out / 'budget.json'}")


if __name__ == "__main__":
    main()
