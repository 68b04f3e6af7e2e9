"""Soak: thousands of CPU steps with frequent checkpoints, snapshots and evaluations.

Runs `ganforge train` in a subprocess and samples its resident memory from /proc while it
trains. Reports RSS once warm (after --warm of the steps) and at the end, the growth
between them (target: under 5%), and the files left in the run directory (bounded:
train.keep_ckpts step checkpoints plus best.pt, at most 100 snapshot PNGs, and a fixed
set of other files).

    python benchmarks/soak.py --steps 5000
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def last_step(metrics: Path) -> int:
    try:
        lines = metrics.read_text().splitlines()
        return json.loads(lines[-1])["step"] if lines else 0
    except (OSError, ValueError, KeyError):
        return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--steps", type=int, default=5000)
    p.add_argument("--every", type=int, default=50, help="steps between checkpoints, snapshots and evaluations")
    p.add_argument("--keep", type=int, default=3, help="train.keep_ckpts")
    p.add_argument("--warm", type=float, default=0.2, help="fraction of the steps after which memory is 'warm'")
    p.add_argument("--preset", default="gan-ring8")
    p.add_argument("--out", default=None)
    args = p.parse_args()

    out = Path(args.out or tempfile.mkdtemp(prefix="ganforge-soak-")) / "run"
    cmd = [sys.executable, "-m", "ganforge", "train", "--preset", args.preset, "--out", str(out),
           "--train.steps", str(args.steps), "--train.ckpt_every", str(args.every),
           "--train.sample_every", str(args.every), "--train.log_every", str(args.every),
           "--train.keep_ckpts", str(args.keep), "--train.progress", "false",
           "--train.eval_every", str(args.every), "--train.eval_n", "500"]
    print("running:", " ".join(cmd[1:]))
    start = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples = []  # (step, rss MB)
    while proc.poll() is None:
        try:
            samples.append((last_step(out / "metrics.jsonl"), rss_mb(proc.pid)))
        except OSError:
            break
        time.sleep(0.5)
    err = proc.stderr.read()
    if proc.returncode != 0:
        print(err)
        return proc.returncode
    warm = [r for s, r in samples if s >= args.warm * args.steps]
    files = [f for f in out.rglob("*") if f.is_file()]
    ckpts = [f for f in files if f.parent.name == "checkpoints" and f.name.startswith("step-")]
    best = [f for f in files if f.parent.name == "checkpoints" and f.name == "best.pt"]
    pngs = [f for f in files if f.parent.name == "samples" and f.name.startswith("step-")]
    growth = 100 * (warm[-1] - warm[0]) / warm[0]
    print(f"steps {args.steps}, every {args.every} (checkpoint, snapshot, evaluation), {time.time() - start:.0f} s")
    print(f"RSS warm (step >= {int(args.warm * args.steps)}): {warm[0]:.1f} MB; at the end: {warm[-1]:.1f} MB; "
          f"peak {max(r for _, r in samples):.1f} MB; growth once warm {growth:+.2f}% (target < 5%)")
    others = len(files) - len(ckpts) - len(best) - len(pngs)
    print(f"files in the run directory: {len(files)} ({len(ckpts)} step checkpoints, bound {args.keep}; "
          f"{len(best)} best.pt; {len(pngs)} snapshots, bound 100; {others} others: config, metrics, latents, plots, events)")
    ok = growth < 5 and len(ckpts) <= args.keep and len(best) <= 1 and len(pngs) <= 100
    print("soak:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
