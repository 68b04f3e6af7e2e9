"""Shared test set-up: one torch thread per test process, the shared datasets, tiny configs."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# pytest-xdist runs one process per core: more threads per process only oversubscribes.
torch.set_num_threads(1)
os.environ.setdefault("MPLBACKEND", "Agg")

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


@pytest.fixture
def shared_datasets() -> Path:
    if not (SHARED / "mnist" / "mnist.npz").exists():
        pytest.skip(f"the real datasets are not at {SHARED} (CI has them beside the clone; a fresh clone may not)")
    return SHARED


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    # Never write into the user's ~/.cache from tests.
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path_factory.getbasetemp() / "cache"))


def tiny(*overlays: dict, **sections) -> dict:
    """A nested config dict for a fast CPU run (quiet, small, few steps), with overlays merged in."""
    from ganforge import config as C

    base = {
        "train": {"steps": 4, "batch_size": 8, "log_every": 2, "sample_every": 2, "ckpt_every": 2,
                  "n_samples": 8, "progress": False, "tensorboard": False, "device": "cpu"},
        "model": {"ngf": 4, "ndf": 4, "nz": 8, "g_hidden": [16], "d_hidden": [16]},
        "data": {"resolution": 16},
    }
    for over in (*overlays, sections):
        base = C.merge(base, over)
    return base
