"""Training speed with the CPU shared: the old thread default against ganforge's choice.

Each case is a real ``ganforge train`` run; its speed is read from metrics.jsonl's row times
(first logged row to last: no start-up, no final pictures). Four runs per case, in this order:

    quiet, old default   OMP_NUM_THREADS = the CPUs this process may use (torch's own default)
    quiet, ganforge      no OMP_NUM_THREADS: ganforge chooses (training/device.py)
    busy,  old default   the same, with another process spinning on CPU 0 (taskset -c 0)
    busy,  ganforge

Cases: toy (gan-ring8, 1,500 steps), mnist (dcgan-mnist on ../shared/datasets, 200 steps) and
dcgan64 (dcgan-folder on ../shared/datasets/flowers at 64x64, 24 steps).

    python benchmarks/under_load.py                  # all three
    python benchmarks/under_load.py --case toy --steps 1500
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "datasets"
QUIET = ["--train.progress", "false", "--train.tensorboard", "false", "--train.sample_every", "100000",
         "--train.ckpt_every", "100000", "--train.device", "cpu"]
CASES = {  # name: (ganforge train arguments, steps, log_every)
    "toy": (["--preset", "gan-ring8"], 1500, 100),
    "mnist": (["--preset", "dcgan-mnist", "--data.root", str(DATA)], 200, 25),
    "dcgan64": (["--preset", "dcgan-folder", "--data.root", str(DATA / "flowers")], 24, 4),
}


def seconds_per_step(args: list[str], steps: int, log_every: int, env: dict) -> tuple[float, str]:
    """(s/step between the first and last logged rows, the thread line ganforge printed)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        r = subprocess.run([sys.executable, "-m", "ganforge", "train", *args, *QUIET, "--out", str(out),
                            "--train.steps", str(steps), "--train.log_every", str(log_every)],
                           env=env, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(r.stdout[-2000:] + r.stderr[-2000:])
        rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines() if '"loss_d"' in line]
        line = next((x for x in r.stdout.splitlines() if "CPU thread" in x), "")
        return (rows[-1]["time"] - rows[0]["time"]) / (rows[-1]["step"] - rows[0]["step"]), line


def spinner() -> subprocess.Popen:
    """Another process busy on CPU 0, as a second job on the machine would be."""
    return subprocess.Popen(["taskset", "-c", "0", sys.executable, "-c", "while True: pass"])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=[*CASES, "all"], default="all")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default: the case's)")
    a = p.parse_args(argv)
    cpus = len(os.sched_getaffinity(0))
    base = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
    print(f"{time.strftime('%Y-%m-%d %H:%M')}, {cpus} CPUs, load average {os.getloadavg()[0]:.1f} at the start", flush=True)
    for case in CASES if a.case == "all" else [a.case]:
        args, steps, every = CASES[case]
        steps = a.steps or steps
        times = {}
        for load in ("quiet", "busy"):
            spin = spinner() if load == "busy" else None
            try:
                for policy, env in (("old default", {**base, "OMP_NUM_THREADS": str(cpus)}), ("ganforge", base)):
                    s, line = seconds_per_step(args, steps, every, env)
                    times[load, policy] = s
                    print(f"{case:8} {load:5} {policy:11} {1000 * s:8.1f} ms/step  ({steps} steps)  {line}", flush=True)
            finally:
                if spin is not None:
                    spin.kill()
                    spin.wait()
        q, b = times["quiet", "old default"], times["busy", "old default"]
        print(f"{case:8} busy/quiet: old default {b / q:.2f}x, ganforge {times['busy', 'ganforge'] / times['quiet', 'ganforge']:.2f}x; "
              f"busy, old default / ganforge: {b / times['busy', 'ganforge']:.2f}x", flush=True)


if __name__ == "__main__":
    main()
