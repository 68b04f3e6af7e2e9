"""The verdict over several benchmarks/budget.py results (one per seed, same data): a table per
seed, the medians and the targets, and optionally the picture of one seed's samples side by side.

    python benchmarks/budget_report.py /tmp/b/flowers-s0 /tmp/b/flowers-s1 /tmp/b/flowers-s2 \\
        --picture docs/images/photos-flowers.png

Targets (for a photo preset against the classic loop, same CPU budget): the median Fréchet
distance at the budget's end at most half the classic loop's median; the classic loop's median
end score reached by a quarter of the budget (median over seeds of the first mark that reaches
it); the worst seed better than the classic loop's median. The ganforge side's health events
(health.jsonl of its run) are listed: a lattice there is a failed seed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def load(folder: Path) -> dict:
    try:
        s = json.loads((folder / "budget.json").read_text())
    except (OSError, ValueError) as e:
        sys.exit(f"budget_report.py: {folder / 'budget.json'} is not readable ({e}); pass finished budget.py folders")
    events = folder / "ganforge" / "run" / "health.jsonl"
    s["events"] = [json.loads(x) for x in events.read_text().splitlines()] if events.exists() else []
    s["folder"] = folder
    if "seed" not in s:  # a result from before budget.json recorded them: the ganforge side's config has the seed
        s["seed"] = json.loads((folder / "ganforge" / "meta.json").read_text())["config"]["train"]["seed"]
        s["root"] = (folder / "folder").read_text() if (folder / "folder").exists() else None
    return s


def lattice(s: dict) -> dict[str, float]:
    """Each side's final snapshot through the health monitor's lattice check (metrics/spectrum.py):
    256 samples against 256 of the folder's photos; a peak over LATTICE_PEAK or a spread under
    TEXTURE_SPREAD is the lattice (or one texture everywhere)."""
    import torch

    from budget import folder_images, generator_of, snapshots

    from ganforge.metrics.spectrum import texture

    real = folder_images(Path(s["root"]))
    real = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(0))[:256]].float().div(127.5).sub(1)
    out = {}
    for side in ("classic", "ganforge"):
        net, draw = generator_of(side, s["folder"] / side)
        net.load_state_dict(snapshots(s["folder"] / side)[-1]["G"])
        out[side] = texture(draw(256), real)
    return out


def reach(rows: list[dict], target: float) -> float:
    return next((r["minutes"] for r in rows if r["frechet"] <= target), float("inf"))


def report(results: list[dict]) -> None:
    end = {side: [s["results"][side][-1]["frechet"] for s in results] for side in ("classic", "ganforge")}
    from ganforge.health import LATTICE_PEAK, TEXTURE_SPREAD

    print(f"lattice check of the final samples: spectral peak (log ratio; over {LATTICE_PEAK} is a lattice) / texture "
          f"spread (under {TEXTURE_SPREAD} is one texture everywhere)\n")
    print("| seed | classic: steps, Fréchet, precision, recall, lattice check | ganforge: steps, Fréchet, precision, recall, "
          "lattice check | ganforge reaches classic's end by | ganforge's health events |\n|---|---|---|---|---|")
    for s in results:
        c, g = s["results"]["classic"][-1], s["results"]["ganforge"][-1]
        started = sorted({e["condition"] for e in s["events"] if e.get("status") == "start"})
        lat = {side: f"{t['lattice']:.1f} / {t['texture_spread']:.2f}" for side, t in lattice(s).items()}
        print(f"| {s['seed']} | {c['steps']}, {c['frechet']:.1f}, {c['precision']:.2f}, {c['recall']:.2f}, {lat['classic']} | "
              f"{g['steps']}, {g['frechet']:.1f}, {g['precision']:.2f}, {g['recall']:.2f}, {lat['ganforge']} | "
              f"{reach(s['results']['ganforge'], c['frechet']):g} min | {', '.join(started) or 'none'} |")
    mc, mg = statistics.median(end["classic"]), statistics.median(end["ganforge"])
    minutes = results[0]["minutes"]
    by = statistics.median(reach(s["results"]["ganforge"], mc) for s in results)
    print(f"\nmedian Fréchet at {minutes:g} CPU-min: classic {mc:.1f}, ganforge {mg:.1f}: ratio {mg / mc:.2f} (target <= 0.5)")
    print(f"classic's median end score {mc:.1f} reached by ganforge at {by:g} CPU-min (median over seeds): "
          f"{by / minutes:.2f} of the budget (target <= 0.25)")
    print(f"worst ganforge seed {max(end['ganforge']):.1f} against classic's median {mc:.1f} (target: below)")


def picture(s: dict, rows: int, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    minutes = s["minutes"]
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 4.2 * rows / 8 + 0.6))
    for ax, side in zip(axes, ("classic", "ganforge")):
        row = s["results"][side][-1]
        grid = np.asarray(Image.open(s["folder"] / side / f"samples-{minutes:g}min.png").convert("RGB"))
        cell = (grid.shape[0] - 2) // 8  # save_grid: 8 per row, 2-pixel padding
        ax.imshow(grid[: rows * cell + 2])
        name = "classic DCGAN loop" if side == "classic" else s["preset"]
        ax.set_title(f"{name}: {row['steps']} steps, Fréchet {row['frechet']:.0f}", fontsize=9)
        ax.axis("off")
    where = Path(s.get("root") or s["dataset"]).name
    fig.suptitle(f"{where}, {minutes:g} CPU-minutes a side, one thread each, seed {s['seed']}", fontsize=9)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("results", type=Path, nargs="+", help="budget.py results folders, one per seed")
    p.add_argument("--picture", type=Path, help="write the median seed's samples side by side here")
    p.add_argument("--rows", type=int, default=4, help="rows of each 8-wide sample grid in the picture")
    a = p.parse_args(argv)
    results = [load(f) for f in a.results]
    if any(set(s["results"]) != {"classic", "ganforge"} for s in results):
        sys.exit("budget_report.py: every folder must hold both sides (budget.py --sides classic,ganforge)")
    report(results)
    if a.picture:
        order = sorted(results, key=lambda s: s["results"]["ganforge"][-1]["frechet"])
        picture(order[len(order) // 2], a.rows, a.picture)


if __name__ == "__main__":
    main()
