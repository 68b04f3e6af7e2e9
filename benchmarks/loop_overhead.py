"""The training loop's own cost at the default intervals: ``Trainer.run`` against its bare step.

For one preset, two runs of the same N steps from the same start, interleaved --repeats times:
  bare  the Trainer's own Game and data stream, ``gan_step`` N times and nothing else;
  full  ``Trainer.run()`` as ``ganforge train`` runs it: metrics rows, the progress bar,
        TensorBoard, health probes, EMA (when the preset has it), fixed-noise snapshots,
        checkpoints, and at the end the timelapse and the loss plot.
The full run's parts are timed by wrapping them, so the table says where the overhead goes.
Times are the process's CPU seconds with one thread, which other load on the machine barely
moves; set-up (data, networks, the step-0 checkpoint) is a one-off cost, reported apart.

    python benchmarks/loop_overhead.py                          # dcgan-mnist when ../shared has MNIST, else dcgan-digits
    python benchmarks/loop_overhead.py --preset gan-ring8 --steps 2000
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import io
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

from ganforge import config, log, training, viz
from ganforge.training.watch import Watch

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "datasets"


class Clock:
    """CPU and wall seconds since it was made (wall includes waiting on the disk: fsync)."""

    def __init__(self):
        self.cpu, self.wall = time.process_time(), time.perf_counter()

    def read(self) -> tuple[float, float]:
        return time.process_time() - self.cpu, time.perf_counter() - self.wall


def timing(costs: dict, name: str, fn):
    @functools.wraps(fn)
    def wrapped(*args, **kw):
        clock = Clock()
        try:
            return fn(*args, **kw)
        finally:
            cpu, wall = clock.read()
            costs[name] = (costs[name][0] + cpu, costs[name][1] + wall)
    return wrapped


def bare(cfg: config.Config, out: Path) -> tuple[float, float]:
    trainer = training.Trainer(cfg, out)
    clock = Clock()
    for _ in range(cfg.train.steps):
        training.gan_step(trainer.game, trainer.batches)
    return clock.read()


def full(cfg: config.Config, out: Path) -> tuple[float, tuple[float, float], dict]:
    costs: dict[str, tuple[float, float]] = defaultdict(lambda: (0.0, 0.0))
    clock = Clock()
    trainer = training.Trainer(cfg, out)
    setup = clock.read()[0]
    patched = {(Watch, "probe"): "probe", (Watch, "evaluate"): "evaluate", (training.Trainer, "snapshot"): "snapshot",
               (training.Trainer, "save"): "save", (training.loop, "ema_update"): "ema",
               (viz, "finish"): "timelapse + plot at the end", (log.Reporter, "flush"): "metrics rows + TensorBoard"}
    originals = {k: getattr(*k) for k in patched}
    for (owner, attr), name in patched.items():
        setattr(owner, attr, timing(costs, name, originals[(owner, attr)]))
    try:
        clock = Clock()
        with contextlib.redirect_stderr(io.StringIO()):  # the bar is drawn (its cost counts), not shown
            trainer.run()
        return setup, clock.read(), dict(costs)
    finally:
        for (owner, attr), fn in originals.items():
            setattr(owner, attr, fn)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mnist = (SHARED / "mnist" / "mnist.npz").exists()
    p.add_argument("--preset", default="dcgan-mnist" if mnist else "dcgan-digits")
    p.add_argument("--steps", type=int, default=1000, help="steps per run (default 1000: 4 snapshots, 5 probes, a checkpoint)")
    p.add_argument("--repeats", type=int, default=2)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    over: dict = {"train": {"steps": a.steps}}
    if a.preset.endswith("-mnist") or a.preset.endswith("fashion-mnist"):
        over["data"] = {"root": str(SHARED), "download": False}
    cfg = config.load(preset=a.preset, overrides=over)
    T, h = cfg.train, cfg.health
    print(f"{a.preset}, {a.steps} steps, batch {T.batch_size}, one thread; intervals: log {T.log_every}, "
          f"samples {T.sample_every}, checkpoints {T.ckpt_every}, health {h.every if h.enabled else 'off'}, "
          f"EMA {T.ema or 'off'}, TensorBoard {T.tensorboard}", flush=True)
    bares, fulls = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(a.repeats):
            for kind in ("bare", "full") if r % 2 == 0 else ("full", "bare"):
                out = Path(tmp) / f"{kind}-{r}"
                if kind == "bare":
                    bares.append(bare(cfg, out))
                    print(f"  bare {bares[-1][0]:7.1f} CPU-s {bares[-1][1]:7.1f} wall-s", flush=True)
                else:
                    fulls.append(full(cfg, out))
                    print(f"  full {fulls[-1][1][0]:7.1f} CPU-s {fulls[-1][1][1]:7.1f} wall-s "
                          f"(set-up {fulls[-1][0]:.1f} CPU-s apart)", flush=True)
    setup, f, costs = min(fulls, key=lambda x: x[1][0])
    for i, unit in enumerate(("CPU", "wall")):
        b, t = min(x[i] for x in bares), f[i]
        print(f"\n{unit}: bare step loop {b:.1f} s; Trainer.run {t:.1f} s: loop overhead {100 * (t - b) / t:.1f}% "
              f"of the run (best of {a.repeats} each)")
        for name, c in sorted(costs.items(), key=lambda kv: -kv[1][i]):
            print(f"  {name:30} {c[i]:6.2f} s  {100 * c[i] / t:5.1f}%")
        rest = t - b - sum(c[i] for c in costs.values())
        print(f"  {'reporting, progress bar, rest':30} {rest:6.2f} s  {100 * rest / t:5.1f}%")
    print(f"one-off set-up {setup:.1f} CPU-s")


if __name__ == "__main__":
    main()
