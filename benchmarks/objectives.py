"""Does each objective learn? Every objective's preset on the 2-D toys, scored as PacGAN does.

For each objective and toy (``ring8``: 8 Gaussians on a circle of radius 1, std 0.01;
``grid25``: 25 Gaussians on a 5x5 grid of spacing 2, std 0.05) this trains the preset
``<objective>-<toy>`` (``gan-<toy>`` for nonsaturating), draws 2,500 samples with
``ganforge.load(run).sample(2500, seed=0)`` and scores them by the protocol of VEEGAN
(Srivastava et al. 2017) and PacGAN (Lin et al. 2018, Table 1), ``ganforge.metrics.toy_scores``:

  modes     modes captured: the nearest centre of at least one high-quality sample
  HQ %      samples within 3 std of their nearest mode centre
  rev KL    KL(generated mode histogram || uniform), over the high-quality samples
  CPU s     the training run's CPU time (time.process_time: with --threads 1, one core's
            seconds, fair on a loaded machine); wall s, its wall-clock time

Several ``--seeds`` give mean ± std. The figures to beat are printed beneath the table.

    python benchmarks/objectives.py                                  # all 7 x 2, one seed: ~25 min on 2 CPU cores
    python benchmarks/objectives.py --objectives wgan-gp,hinge --datasets grid25 --seeds 0,1,2
    python benchmarks/objectives.py --steps 2000 --out /tmp/objectives     # shorter runs, e.g. to try something
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
from ganforge import config
from ganforge.errors import GanforgeError
from ganforge.metrics import toy_scores
from ganforge.training import train

OBJECTIVES = ("minimax", "nonsaturating", "wgan", "wgan-gp", "energy", "hinge", "lsgan")
DATASETS = ("ring8", "grid25")
N_SAMPLES = 2500

# PacGAN (Lin et al. 2018), Table 1: 2,500 samples, mean over 10 trials of their MLP G and D.
# (modes, HQ %, reverse KL); None where the issue quotes no figure.
PUBLISHED = [
    ("GAN", {"ring8": (6.3, 98.2, None), "grid25": (17.3, 94.8, None)}),
    ("best PacGAN", {"ring8": (7.9, None, None), "grid25": (24.8, None, 0.04)}),
]


def preset_for(objective: str, dataset: str) -> str:
    return f"{'gan' if objective == 'nonsaturating' else objective}-{dataset}"


def run_one(objective: str, dataset: str, seed: int, out: Path, steps: int | None) -> dict:
    name = preset_for(objective, dataset)
    over = {"train": {"seed": seed, "progress": False, "tensorboard": False, "device": "cpu"}}
    if steps:
        over["train"]["steps"] = steps
    cfg = config.load(preset=name, overrides=over)
    t0, c0 = time.perf_counter(), time.process_time()
    run = train(cfg, out=out / f"{name}-seed{seed}")
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    g = ganforge.load(run)
    s = toy_scores(g.sample(N_SAMPLES, seed=0), g.info.centers, g.info.std)
    return {"objective": objective, "dataset": dataset, "preset": name, "seed": seed, "steps": cfg.train.steps,
            "modes": s.modes, "total_modes": s.total_modes, "hq": 100 * s.high_quality,
            "reverse_kl": s.reverse_kl, "wall_s": wall, "cpu_s": cpu, "run": str(run)}


def fmt(values: list[float], digits: int) -> str:
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def table(rows: list[dict], objectives, datasets) -> str:
    head = f"{'objective':<14} {'dataset':<7} {'preset':<15} {'modes':>13} {'HQ %':>13} {'rev KL':>13} {'CPU s':>9} {'wall s':>9}"
    lines = [head, "-" * len(head)]
    for o in objectives:
        for d in datasets:
            rs = [r for r in rows if r["objective"] == o and r["dataset"] == d]
            if not rs:
                continue
            modes = f"{fmt([r['modes'] for r in rs], 1 if len(rs) > 1 else 0)}/{rs[0]['total_modes']}"
            lines.append(f"{o:<14} {d:<7} {rs[0]['preset']:<15} {modes:>13} {fmt([r['hq'] for r in rs], 1):>13} "
                         f"{fmt([r['reverse_kl'] for r in rs], 3):>13} {fmt([r['cpu_s'] for r in rs], 0):>9} {fmt([r['wall_s'] for r in rs], 0):>9}")
    lines.append("")
    lines.append("To beat (PacGAN, Lin et al. 2018, Table 1: modes, HQ %, reverse KL):")
    for label, figs in PUBLISHED:
        cells = []
        for d in datasets:
            m, hq, kl = figs[d]
            cells.append(f"{d} {m}/{8 if d == 'ring8' else 25}, {'-' if hq is None else f'{hq}%'}, {'-' if kl is None else kl}")
        lines.append(f"  {label:<12} " + "   ".join(cells))
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--objectives", default=",".join(OBJECTIVES), help=f"comma list from {', '.join(OBJECTIVES)}")
    p.add_argument("--datasets", default=",".join(DATASETS), help="comma list from ring8, grid25")
    p.add_argument("--seeds", default="0", help="comma list of training seeds; several give mean ± std")
    p.add_argument("--steps", type=int, default=None, help="override every preset's train.steps")
    p.add_argument("--threads", type=int, default=1, help="torch threads (1: these small MLPs gain nothing from more)")
    p.add_argument("--out", default="runs/bench-objectives", help="folder for the runs and results.json")
    a = p.parse_args(argv)
    objectives = [o for o in a.objectives.split(",") if o]
    datasets = [d for d in a.datasets.split(",") if d]
    bad = [o for o in objectives if o not in OBJECTIVES] + [d for d in datasets if d not in DATASETS]
    if bad:
        p.error(f"unknown {', '.join(bad)}: objectives are {', '.join(OBJECTIVES)}; datasets ring8, grid25")
    seeds = [int(s) for s in a.seeds.split(",") if s]
    torch.set_num_threads(a.threads)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    rows = []
    for o in objectives:
        for d in datasets:
            for s in seeds:
                try:
                    r = run_one(o, d, s, out, a.steps)
                except GanforgeError as e:
                    print(f"error: {preset_for(o, d)}: {e}", file=sys.stderr)
                    return 2
                rows.append(r)
                print(f"{r['preset']:<15} seed {s}: {r['modes']}/{r['total_modes']} modes, {r['hq']:.1f}% HQ, "
                      f"reverse KL {r['reverse_kl']:.3f}, {r['cpu_s']:.0f} CPU-s ({r['wall_s']:.0f} s wall)", flush=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1))
    print()
    print(table(rows, objectives, datasets))
    return 0


if __name__ == "__main__":
    sys.exit(main())
