"""``ganforge.load``: a Generator from what a run leaves behind, a checkpoint, a run directory
(its latest checkpoint), a stacked GAN's checkpoint or an export directory. It sits above
generator, export and stack, so none of them imports another to find its way back."""
from __future__ import annotations

from pathlib import Path

import torch

from . import checkpoint, config, export, models
from .data.base import DataInfo
from .generator import Generator
from .stack import load_stack


def load(path: str | Path, device: str | torch.device = "cpu") -> Generator:
    """Rebuild the generator from a checkpoint (or a run directory's latest), or from an
    export directory (``ganforge export``), and nothing else."""
    if export.is_export(path):
        return export.load(path, device)
    state = checkpoint.load(path)
    if "stages" in state:  # a stacked GAN: both generators are in this one file
        return load_stack(state, checkpoint.resolve(path), device)
    cfg = config.from_dict(state["config"])
    info = DataInfo.from_dict(state["data_info"])
    G, _ = models.build(cfg.model, info)
    # With train.ema on, the averaged weights are the generator to use.
    checkpoint.load_weights(G, state.get("G_ema", state["G"]), "generator", checkpoint.resolve(path))
    return Generator(G.to(device), cfg, info, state["step"], checkpoint.resolve(path))
