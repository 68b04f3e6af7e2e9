"""Shared test set-up: one torch thread per test process, the shared datasets, tiny configs."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

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


@pytest.fixture
def photos(tmp_path):
    """24 smooth colour images (a gradient per image) in two class folders."""
    rng = np.random.default_rng(0)
    for i in range(24):
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = np.linspace(0, 1, 48)[None, :, None]
        im = (a * (1 - t) + b * t).repeat(40, 0).astype(np.uint8)
        (tmp_path / "photos" / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(im).save(tmp_path / "photos" / f"c{i % 2}" / f"{i}.png")
    return tmp_path / "photos"


def stack_cfg(tmp_path, photos, stage1: dict | None = None, **model):
    """A tiny stack on ``photos``: stage 1 an MLP GAN at 8x8 (3 steps; ``stage1`` merged into its
    YAML), stage 2 upsample at 32x32 (3 steps)."""
    import yaml

    from ganforge import config as C

    path = tmp_path / "stage1.yaml"
    path.write_text(yaml.safe_dump(C.merge({"model": {"family": "mlp", "nz": 4, "g_hidden": [16], "d_hidden": [16]},
                                            "train": {"steps": 3, "batch_size": 8}}, stage1 or {})))
    return C.from_dict(tiny({"data": {"name": "folder", "root": str(photos), "resolution": 32, "labels": "none"},
                             "model": {"family": "upsample", "low_res": 8, "stage1": str(path), "nz": 4, **model},
                             "train": {"steps": 3}}))
