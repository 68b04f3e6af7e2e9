"""Checkpoints: weights, optimizers, step, RNG states, data position and the config, as data.

A checkpoint is a ``torch.save`` of a dict holding only tensors and plain Python data, so
it loads with ``torch.load(weights_only=True)``: loading never unpickles arbitrary objects,
and a file that would need to is refused. Writes are atomic: a temporary file in the same
directory, fsynced, then renamed over the target, so a crash leaves the previous file whole.
"""
from __future__ import annotations

import pickle
import random
import re
import zipfile
from pathlib import Path

import numpy as np
import torch

from . import runs
from .errors import CheckpointError

FORMAT = "ganforge-checkpoint"
VERSION = 1
# The oldest torch whose weights-only loader has no known bypass: before 2.6 a crafted file
# ran code through torch.load(weights_only=True) (CVE-2025-32434), before 2.10 it could
# corrupt memory on the way (CVE-2026-24747). pyproject.toml requires the same floor.
SAFE_TORCH = (2, 10)
_STEP_FILE = re.compile(r"step-(\d+)\.pt$")


def save(path: Path, state: dict) -> Path:
    state = {"format": FORMAT, "version": VERSION, **state}
    try:
        runs.atomic_write(path, lambda f: torch.save(state, f))
    except OSError as e:
        raise CheckpointError(f"could not write checkpoint {path}: {e.strerror or e} (the previous checkpoint is intact)") from None
    return Path(path)


def require_safe_torch(version: str | None = None) -> None:
    """Refuse to unpickle anything on a torch whose weights-only loader can be bypassed."""
    version = version or torch.__version__
    m = re.match(r"(\d+)\.(\d+)", version)
    if m and (int(m.group(1)), int(m.group(2))) < SAFE_TORCH:
        floor = ".".join(map(str, SAFE_TORCH))
        raise CheckpointError(f"refused to load a checkpoint with torch {version}: its weights-only loader has known "
                              f"bypasses that let a crafted file run code; ganforge needs torch >= {floor} "
                              f"(pip install 'torch>={floor}')")


def load(path: str | Path) -> dict:
    """Read a ganforge checkpoint (a file, or a run directory: its latest), safely."""
    require_safe_torch()
    path = resolve(path)
    if not zipfile.is_zipfile(path):  # ganforge writes torch's zip format only
        raise CheckpointError(f"{path} is truncated or not a checkpoint (not a torch zip archive)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        raise CheckpointError(f"refused to load {path}: it holds objects other than tensors and plain data, "
                              f"which could run code ({str(e).splitlines()[0]})") from None
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, OSError) as e:
        raise CheckpointError(f"{path} is truncated or not a checkpoint ({str(e).splitlines()[0]})") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a ganforge checkpoint")
    if state.get("version", 0) > VERSION:
        raise CheckpointError(f"{path} was written by a newer ganforge (format {state['version']}); upgrade ganforge")
    return state


def resolve(path: str | Path) -> Path:
    """A checkpoint file, or a run directory → its latest checkpoint."""
    p = Path(path)
    if p.is_dir():
        if (p / "model.safetensors").is_file():
            raise CheckpointError(f"{p} is an export (generator weights only): it can be sampled and evaluated, "
                                  "not resumed or inspected for training state; use its run directory")
        ckpts = runs.Run(p).checkpoints
        found = latest(ckpts) if ckpts.is_dir() else latest(p)
        if found is None:
            raise CheckpointError(f"{p} holds no checkpoints (expected {ckpts}/step-*.pt)")
        return found
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} does not exist")
    return p


def step_files(ckpt_dir: Path) -> list[Path]:
    files = [p for p in Path(ckpt_dir).glob("step-*.pt") if _STEP_FILE.search(p.name)]
    return sorted(files, key=lambda p: int(_STEP_FILE.search(p.name).group(1)))


def latest(ckpt_dir: Path) -> Path | None:
    files = step_files(ckpt_dir)
    return files[-1] if files else None


def prune(ckpt_dir: Path, keep: int) -> None:
    for p in step_files(ckpt_dir)[:-keep]:
        p.unlink(missing_ok=True)


def rng_state() -> dict:
    """Every RNG a step may draw from, as tensors and plain data."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    state = {
        "torch": torch.get_rng_state(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "python": {"version": version, "internal": list(internal), "gauss_next": gauss_next},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
        # The device this process draws on: with several processes each draws on its own GPU,
        # and rank 0's state of that GPU is what every process continues from.
        state["cuda_current"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss_next"]))
    if "cuda" in state and torch.cuda.is_available():
        if len(state["cuda"]) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(state["cuda"])
        if "cuda_current" in state:
            torch.cuda.set_rng_state(state["cuda_current"])


def load_weights(module: torch.nn.Module, weights: dict, what: str, path) -> None:
    try:
        module.load_state_dict(weights)
    except RuntimeError as e:
        first = str(e).splitlines()[0:2]
        raise CheckpointError(f"{path}: the {what} weights do not fit the network its config builds "
                              f"(different architecture or shape): {' '.join(s.strip() for s in first)}") from None
