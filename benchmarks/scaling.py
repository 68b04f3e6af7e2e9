"""Data-parallel scaling: images/s of one run trained by 1 and by N processes, and the efficiency.

Each measurement is a real `ganforge train --nproc N` (torchrun, gloo on CPU with one thread
per process; nccl on CUDA with one GPU per process), with the per-process batch fixed (weak
scaling: the global batch is N x --batch), a DCGAN at 32x32 on the bundled digits. The figure is
the median of rank 0's logged images/s over the run after a warm-up, the global batch counted.
Efficiency = images/s with N processes / (N x images/s with 1).

    python benchmarks/scaling.py                    # CPU 1 and 2 processes, then 1 and every GPU if any
    python benchmarks/scaling.py --device cpu       # CPU only: ~4 minutes on 2 cores
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

from ganforge import runs


def images_per_s(nproc: int, device: str, args, out: Path) -> float:
    cmd = [sys.executable, "-m", "ganforge", "train", "--preset", "dcgan-digits", "--nproc", str(nproc), "--out", str(out),
           "--train.device", device, "--train.steps", str(args.steps), "--train.batch_size", str(args.batch * nproc),
           "--train.log_every", "10", "--train.sample_every", str(10 * args.steps), "--train.ckpt_every", str(10 * args.steps),
           "--train.progress", "false", "--train.tensorboard", "false", "--health.enabled", "false",
           "--model.ngf", str(args.width), "--model.ndf", str(args.width), "--data.resolution", "32"]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
    r = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr[-3000:]}")
    rows = [row["img_per_s"] for row in runs.read_metrics(out) if "img_per_s" in row]
    return statistics.median(rows[len(rows) // 4 :])  # after a quarter of the run: warm-up left out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="auto: the CPU, and the GPUs too when there are any")
    p.add_argument("--nproc", type=int, default=0, help="processes besides 1 (default: 2 on CPU, every GPU on CUDA)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch", type=int, default=64, help="per-process batch")
    p.add_argument("--width", type=int, default=64, help="ngf = ndf")
    p.add_argument("--threads", type=int, default=1, help="torch threads per process (CPU)")
    args = p.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda: no GPU here")
    devices = [args.device] if args.device != "auto" else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    print(f"dcgan-digits 32x32, ngf=ndf={args.width}, {args.batch} images per process per step, {args.steps} steps; "
          f"CPU: {args.threads} thread(s) per process")
    print(f"{'device':>6}  {'processes':>9}  {'images/s':>9}  {'efficiency':>10}")
    for device in devices:
        n = args.nproc or (torch.cuda.device_count() if device == "cuda" else 2)
        counts = sorted({1, n})
        with tempfile.TemporaryDirectory() as tmp:
            ips = {k: images_per_s(k, device, args, Path(tmp) / f"n{k}") for k in counts}
        for k in counts:
            print(f"{device:>6}  {k:>9}  {ips[k]:>9.1f}  {ips[k] / (k * ips[1]):>10.2f}", flush=True)


if __name__ == "__main__":
    main()
