"""Where a run computes, and the process settings that make it fast there."""
from __future__ import annotations

import ctypes
import random

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
    """Process-wide settings for fast training on ``device``."""
    if device.type == "cpu":
        keep_freed_memory()
    if device.type == "cuda":
        set_tf32(tf32)


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
