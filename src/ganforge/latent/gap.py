"""The projection gap: how much better a generator reproduces its training images than held-out
images of the same set. Projection finds the closest image G can make; a G that memorized its
training set makes those (and not their unseen neighbours) closely, so the gap between the two
mean reconstruction distances is itself a memorization signal (Webster et al. 2019 use the same
idea with latent recovery). A gap near zero: G reaches unseen images as well as seen ones.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from .project import write_projection


def gap(train_rms: torch.Tensor, heldout_rms: torch.Tensor) -> dict:
    """The summary of two sets of per-image RMS distances (in [0, 1])."""
    tr, ho = train_rms.double(), heldout_rms.double()
    se = (tr.var() / len(tr) + ho.var() / len(ho)).sqrt() if len(tr) > 1 and len(ho) > 1 else torch.tensor(float("nan"))
    return {"train_rms": float(tr.mean()), "heldout_rms": float(ho.mean()), "gap": float(ho.mean() - tr.mean()),
            "ratio": float(ho.mean() / tr.mean()) if tr.mean() > 0 else None, "gap_standard_error": float(se),
            "n_train": len(tr), "n_heldout": len(ho),
            "meaning": "heldout_rms - train_rms: how much closer G comes to images it trained on; "
                       "about 0 (within ~2 standard errors): no sign of memorization"}


def dataset_images(g, split: str, n: int, seed: int) -> torch.Tensor:
    """n images of g's training dataset's ``split`` (train or test), fitted as in training, in [-1, 1]."""
    from .. import data
    from ..metrics.evaluate import has_test_split

    cfg = g.cfg.data
    if split == "test" and not has_test_split(cfg.name):
        raise ConfigError(f"--gap: data {cfg.name} has no held-out (test) split; the gap needs one "
                          "(mnist, fashion-mnist, cifar10, stl10), or call latent.gap.gap on images you held out")
    src = data.build(dataclasses.replace(cfg, split=split))
    idx = torch.randperm(len(src.images), generator=torch.Generator().manual_seed(seed))[:n]
    images = torch.as_tensor(np.asarray(src.images[idx.sort().values.numpy()]))
    return images.float() / 127.5 - 1


def write_gap(g, out: str | Path, n: int = 32, seed: int = 0, **kw) -> dict:
    """Project n training and n held-out (test split) images of g's dataset into ``out``/train
    and ``out``/heldout (each as ``write_projection`` writes), and ``out``/gap.json."""
    if n < 2:
        raise ConfigError(f"--gap {n}: must be >= 2 images per split")
    out = Path(out)
    results = {}
    for split, name in (("train", "train"), ("test", "heldout")):
        x = dataset_images(g, split, n, seed)
        results[name] = write_projection(g, x, [f"{split}[{i}]" for i in range(len(x))], out / name, **kw)
    summary = gap(results["train"]["rms"], results["heldout"]["rms"])
    summary["seconds_per_image"] = sum(r["seconds"] for r in results.values()) / (2 * n)
    (out / "gap.json").write_text(json.dumps(summary, indent=2) + "\n")
    return {"summary": summary, "json": out / "gap.json", **results}
