"""Training-step throughput: ganforge's ``training.gan_step`` against the classic loops.

Three problems, each against its classic counterpart (benchmarks/classic.py):
  dcgan64  64x64 RGB, batch 64, ngf = ndf = 64, nz 100: pytorch/examples dcgan/main.py itself
  mnist32  32x32 grey, batch 64, the same nets one level shorter (MNIST padded, as people train it)
  toy      2-D points, batch 256, gan-ring8's MLPs (3 x 128, nz 2) against the plain MLP loop
Both sides use the same architecture, init, Adam(2e-4, (0.5, 0.999)) and one pre-made real
batch (no data loading on either side). ganforge's side is built by ``training.make_game`` and
``training.tune_process``, exactly as ``ganforge train`` builds a run, so it has whatever
``ganforge train`` has: a fused Adam, channels-last convolutions, the allocator setting.

Each side runs in a process of its own (its own allocator and thread pool: a process-wide
setting of one side must not speed up the other), and the parent alternates timed blocks
between them, switching which goes first, so that load from elsewhere hits both alike. Each
block reports wall time and the process's CPU time; with one thread, images per CPU-second
is the figure that stays put on a shared machine. Both sides must end with finite losses.

    python benchmarks/throughput.py                       # all three cases, 1 thread each
    python benchmarks/throughput.py --case dcgan64 --threads 2
    python benchmarks/throughput.py --device cuda --steps 50
    python benchmarks/throughput.py --case dcgan64 --floor  # + the step's convolutions timed alone
"""
from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

CASES = {  # name: (resolution or 0 for points, channels, batch)
    "dcgan64": (64, 3, 64),
    "mnist32": (32, 1, 64),
    "toy": (0, 2, 256),
}
RING8 = {"nz": 2, "g_hidden": [128, 128, 128], "d_hidden": [128, 128, 128]}  # the gan-ring8 preset's nets


def real_batch(case: str, device: torch.device, seed: int) -> torch.Tensor:
    res, nc, batch = CASES[case]
    g = torch.Generator().manual_seed(seed)
    shape = (batch, nc) if res == 0 else (batch, nc, res, res)
    return (torch.rand(shape, generator=g) * 2 - 1).to(device)


def classic_side(case: str, real: torch.Tensor):
    import classic

    if case == "toy":
        return classic.mlp_stepper(real, RING8["nz"], RING8["g_hidden"], RING8["d_hidden"])[0]
    return classic.dcgan_stepper(real)[0]


def ganforge_config(case: str, batch: int) -> dict:
    """The run configuration whose step is timed: the defaults, with the classic sizes."""
    if case == "toy":
        model = {"family": "mlp", **RING8, "dropout": 0.0, "d_norm": "none", "init": "default"}
        return {"data": {"name": "ring8"}, "model": model, "train": {"batch_size": batch}}
    res, nc, _ = CASES[case]
    return {"data": {"resolution": res, "channels": nc}, "model": {"family": "dcgan", "nz": 100, "ngf": 64, "ndf": 64},
            "objective": {"name": "nonsaturating"}, "train": {"batch_size": batch}}


def ganforge_side(case: str, real: torch.Tensor):
    """(one ``training.gan_step`` on a Game built as ``ganforge.train`` builds it, last losses)."""
    import itertools

    from ganforge import config, training
    from ganforge.data.base import DataInfo
    from ganforge.log import Reporter

    cfg = config.from_dict(ganforge_config(case, len(real)))
    info = DataInfo("points", (2,), 0) if case == "toy" else DataInfo("image", tuple(real.shape[1:]), 0)
    training.tune_process(real.device)
    game = training.make_game(cfg, info, real.device)
    x = real.contiguous(memory_format=torch.channels_last) if real.dim() == 4 and cfg.train.channels_last else real
    batches = itertools.repeat((x, None))  # the same pre-made batch, endlessly
    # The training loop reports scalars every step into a Reporter; so do we (their cost is
    # part of the step), and its flush gives the losses for the finiteness check.
    reporter = Reporter(None).__enter__()

    def losses() -> list[float]:
        row = reporter.flush(0)
        return [row["loss_d"], row["loss_g"]]

    return lambda: training.gan_step(game, batches), losses


def convolution_floor(step, reps: int = 7) -> tuple[int, float]:
    """(how many, CPU s): the convolutions one step runs (forward, and backward with the
    gradients it asks for), recorded from a real step and each replayed alone, in a loop, on
    inputs of the same shapes and memory formats: what the step would cost if nothing but its
    convolutions ran, at the rate oneDNN reaches on them in isolation."""
    from torch.utils._python_dispatch import TorchDispatchMode

    conv_ops = (torch.ops.aten.convolution.default, torch.ops.aten.convolution_backward.default)
    calls = []

    class Record(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            if func in conv_ops:
                copy = lambda a: torch.randn_like(a) if isinstance(a, torch.Tensor) else a
                calls.append((func, [copy(a) for a in args], kwargs or {}))
            return func(*args, **(kwargs or {}))

    with Record():
        step()
    total = 0.0
    for func, args, kwargs in calls:
        times = []
        for _ in range(reps + 2):  # two untimed: oneDNN builds its kernel on the first call
            c = time.process_time()
            func(*args, **kwargs)
            times.append(time.process_time() - c)
        total += statistics.median(times[2:])
    return len(calls), total


def other_ops(step, steps: int = 3, top: int = 8) -> list[tuple[str, float]]:
    """The step's heaviest operations that are not convolutions: (name, self CPU-ms per step),
    from torch.profiler over a few steps: where the time between the step and its floor goes."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step()
    rows = [(e.key, e.self_cpu_time_total / 1e3 / steps) for e in prof.key_averages()
            if "convolution" not in e.key and e.key.startswith("aten::")]
    return sorted(rows, key=lambda r: -r[1])[:top]


def worker(side: str, case: str, device: str, threads: int, seed: int, conn) -> None:
    """Builds one side, then runs timed blocks on request: n → (wall s, CPU s); "floor" → the
    step's convolutions timed alone; None → losses."""
    torch.set_num_threads(threads)
    dev = torch.device(device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the reference sets it
    real = real_batch(case, dev, seed)
    torch.manual_seed(seed)
    step, losses = (classic_side if side == "classic" else ganforge_side)(case, real)
    conn.send("ready")
    while (n := conn.recv()) is not None:
        if n == "floor":
            conn.send((*convolution_floor(step), other_ops(step)))
            continue
        sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
        sync()
        w, c = time.perf_counter(), time.process_time()
        for _ in range(n):
            step()
        sync()
        conn.send((time.perf_counter() - w, time.process_time() - c))
    conn.send(losses())


def run_case(case: str, a) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    sides, procs = {}, []
    for side in ("classic", "ganforge"):
        parent, child = ctx.Pipe()
        p = ctx.Process(target=worker, args=(side, case, a.device, a.threads, a.seed, child), daemon=True)
        p.start()
        sides[side], procs = parent, procs + [p]
    for conn in sides.values():
        assert conn.recv() == "ready"
    batch = CASES[case][2]
    steps = a.steps * (4 if case == "toy" else 1)  # toy steps take milliseconds: longer blocks
    for conn in sides.values():  # warm-up, untimed
        conn.send(a.warmup)
        conn.recv()
    wall: dict[str, list[float]] = {s: [] for s in sides}
    cpu: dict[str, list[float]] = {s: [] for s in sides}
    for r in range(a.rounds):
        for side in (list(sides) if r % 2 == 0 else list(sides)[::-1]):
            sides[side].send(steps)
            w, c = sides[side].recv()
            wall[side].append(batch * steps / w)
            cpu[side].append(batch * steps / c)
        print(f"  {case} round {r + 1}: " + "  ".join(f"{s} {wall[s][-1]:8.1f} img/s ({cpu[s][-1]:8.1f} per CPU-s)"
                                                       for s in sides), flush=True)
    floor = None
    if a.floor and case != "toy" and a.device == "cpu":
        sides["ganforge"].send("floor")
        floor = sides["ganforge"].recv()
    for side, conn in sides.items():
        conn.send(None)
        values = conn.recv()  # a fast step that computes garbage is no win
        assert all(math.isfinite(v) for v in values), f"{case} {side}: non-finite losses {values}"
    for p in procs:
        p.join()
    med = {s: statistics.median(wall[s]) for s in sides}
    med_cpu = {s: statistics.median(cpu[s]) for s in sides}
    print(f"{case:8} {'':9} {'img/s':>9} {'min':>8} {'max':>8} {'img/CPU-s':>10}")
    for s in sides:
        print(f"{'':8} {s:9} {med[s]:9.1f} {min(wall[s]):8.1f} {max(wall[s]):8.1f} {med_cpu[s]:10.1f}")
    ratio, ratio_cpu = med["ganforge"] / med["classic"], med_cpu["ganforge"] / med_cpu["classic"]
    print(f"{case:8} ratio ganforge/classic: {ratio:.2f} (wall), {ratio_cpu:.2f} (per CPU-second)", flush=True)
    if floor:
        n, secs, others = floor
        step_s = batch / med_cpu["ganforge"]
        print(f"{case:8} floor: the step's {n} convolutions, each timed alone, take {secs * 1e3:.0f} CPU-ms, "
              f"{secs / step_s:.0%} of ganforge's step ({step_s * 1e3:.0f} ms); a step of nothing else would run "
              f"{batch / secs:.1f} img per CPU-s, {batch / secs / med_cpu['classic']:.2f}x the classic loop", flush=True)
        print(f"{case:8} the rest, heaviest first (self CPU-ms per step, torch.profiler): "
              + ", ".join(f"{name.removeprefix('aten::')} {ms:.1f}" for name, ms in others), flush=True)
    print(flush=True)
    return {"wall": ratio, "cpu": ratio_cpu}


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--case", choices=[*CASES, "all"], default="all")
    p.add_argument("--steps", type=int, default=10, help="steps per timed block (toy: 4x this; default 10)")
    p.add_argument("--rounds", type=int, default=7, help="timed blocks per side, interleaved (default 7)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per side first (default 3)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads per side (default 1)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--floor", action="store_true", help="also time ganforge's step's convolutions alone: the rate a step "
                                                        "of nothing but them would reach, and profile the rest (CPU image cases)")
    a = p.parse_args(argv)
    load = os.getloadavg()[0]  # before our own work: anything here is someone else's
    if load > 0.5:
        print(f"warning: load average {load:.1f} before the start: another job is using the CPU; wall-clock "
              "rates will be low and noisy (the per-CPU-second rates with --threads 1 much less so)", flush=True)
    print(f"torch {torch.__version__}, device {a.device}, {a.threads} thread(s) per side; {a.warmup} warm-up steps, "
          f"then {a.rounds} interleaved rounds per side", flush=True)
    ratios = {case: run_case(case, a) for case in (CASES if a.case == "all" else [a.case])}
    print("summary, ganforge/classic: " + ", ".join(f"{c} {r['wall']:.2f} wall / {r['cpu']:.2f} CPU" for c, r in ratios.items()))


if __name__ == "__main__":
    main()
