"""Where a run computes, and the process settings that make it fast there."""
from __future__ import annotations

import ctypes
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..precision import set_tf32


def pick_device(name: str) -> torch.device:
    """train.device: auto picks CUDA, then MPS, then the CPU; a named device must exist."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device = {name!r}: CUDA is not available on this machine (use auto or cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("train.device = 'mps': MPS is not available on this machine (use auto or cpu)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def tune_process(device: torch.device, tf32: bool = True) -> None:
    """Process-wide settings for fast training on ``device``; among them, never more CPU
    threads than the CPUs this process may use (``use_threads``: the networks are not built
    yet, so the one-thread rule for small ones is applied by ``training.train``)."""
    use_threads(choose_threads())
    if device.type == "cpu":
        keep_freed_memory()
    if device.type == "cuda":
        set_tf32(tf32)


# Below this many parameters (G and D together) a step gains nothing from a second thread:
# the toy MLPs (gan-ring8: 67k) ran as fast on one thread as on two on a quiet machine and 9x
# slower on two with another process busy on one core, while the MNIST DCGAN (1.7M) gains
# from two (benchmarks/under_load.py; benchmarks/README.md).
SMALL_NETS = 300_000


@dataclass(frozen=True)
class Threads:
    n: int  # torch's intra-op threads
    why: str  # the reason, as the run's log says it


def choose_threads(params: int | None = None, env=None, cpus: int | None = None, busy: int | None = None) -> Threads:
    """How many threads a training process should use; never more than it has CPUs for.

    Threads that outnumber the cores free to run them do not just share them: OpenMP's workers
    spin at each barrier waiting for one that is not running, so a step slows several-fold as
    soon as another process wants a core. So: OMP_NUM_THREADS, when set, is the user's choice
    and is honoured; otherwise the CPUs this process may run on (its affinity mask: taskset,
    a cpuset, SLURM's --cpus-per-task; and a cgroup CPU quota) less those other work keeps
    busy as the run starts (``busy``: ``others_running``), divided among the processes torchrun
    started on this machine; and one thread for networks of fewer than SMALL_NETS parameters
    (``params``), whose steps are too small to split."""
    env = os.environ if env is None else env
    given = str(env.get("OMP_NUM_THREADS", "")).strip()
    if given.isdigit() and int(given) > 0:
        return Threads(int(given), f"OMP_NUM_THREADS={given}")
    if params is not None and params < SMALL_NETS:
        return Threads(1, f"networks of {params:,} parameters gain nothing from more; OMP_NUM_THREADS overrides")
    cpus = available_cpus() if cpus is None else cpus
    local = local_processes(env)
    busy = min(cpus - 1, max(0, (others_running() if busy is None else busy) - (local - 1)))  # torchrun's siblings are counted below
    n = max(1, (cpus - busy) // local)
    why = f"{cpus} CPU{'s' if cpus > 1 else ''} available to this process"
    why += f", {busy} of them busy with other work" if busy else ""
    why += f", shared by {local} processes on this machine" if local > 1 else ""
    return Threads(n, why + "; OMP_NUM_THREADS overrides")


def others_running(samples: int = 5, interval: float = 0.01) -> int:
    """Tasks running or runnable on this machine now, other than this one: /proc/stat's
    procs_running less one (this process, reading it), the least of a few samples so that a
    passing blip does not count (0 where /proc/stat is missing: not Linux)."""
    least = None
    for i in range(samples):
        try:
            line = next(x for x in Path("/proc/stat").read_text().splitlines() if x.startswith("procs_running"))
        except (OSError, StopIteration):
            return 0
        n = int(line.split()[1]) - 1
        least = n if least is None else min(least, n)
        if i + 1 < samples:
            time.sleep(interval)
    return max(0, least)


def available_cpus() -> int:
    """The CPUs this process may run on: its affinity mask, capped by a cgroup v2 CPU quota
    (a container's --cpus), which the mask does not show."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        n = os.cpu_count() or 1
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def local_processes(env=None) -> int:
    """The training processes torchrun started on this machine (1 without torchrun)."""
    env = os.environ if env is None else env
    try:
        return max(1, int(env.get("LOCAL_WORLD_SIZE", "1"))) if int(env.get("WORLD_SIZE", "1")) > 1 else 1
    except ValueError:
        return 1


_ours: int | None = None  # the count use_threads set last


def use_threads(plan: Threads) -> Threads:
    """Set torch's threads to ``plan``, and return what was set and why. A count the caller set
    itself (torch.set_num_threads; the test suite's one thread) is kept when it is lower: this
    lowers, and raises only a count that it set itself (a small run's one thread, then a larger
    run in the same process) or that OMP_NUM_THREADS asks for."""
    global _ours
    current = torch.get_num_threads()
    if not (plan.why.startswith("OMP_NUM_THREADS") or current == _ours or current >= plan.n):
        return Threads(current, f"{current}, as the calling code set it (torch.set_num_threads)")
    if plan.n != current:
        torch.set_num_threads(plan.n)
    _ours = plan.n
    return plan


def keep_freed_memory() -> None:
    """Keep freed memory in the process instead of handing it back to the OS on every step.

    glibc serves blocks above its mmap threshold (128 KiB, raised dynamically up to 32 MiB)
    with fresh mmap pages and trims the heap top above 128 KiB; a training step frees and
    reallocates activations of several MB each, so by default every step pays page faults
    and zero-filling for memory it just gave back. Raising both thresholds (as
    MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ would) makes the step reuse it. The
    price is a resident size that stays at its peak. A no-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    if not libc.mallopt(M_MMAP_THRESHOLD, 1 << 30):  # older glibc caps it at 32 MiB on 64-bit
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)
