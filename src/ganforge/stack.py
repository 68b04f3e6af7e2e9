"""A stacked GAN as a generator: stage 1 (any registered GAN) at low resolution, then stage 2
(the upsample family) that turns stage 1's images into high-resolution ones (LAPGAN, Denton
et al. 2015; StackGAN, Zhang et al. 2017). Training one, stage by stage, is training/stack.py.

A stack's checkpoint (RUN/checkpoints/step-N.pt) holds both generators with their configs
(``"stages"``); ``load_stack`` rebuilds the pair from it alone, or from an export.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

from . import checkpoint, config, models
from .config import Config
from .data.base import DataInfo
from .generator import Generator


class Stack(nn.Module):
    """z = [z1 | z2] → stage 1 → stage 2: one G(z, y) for sample, interpolate, evaluate, audit."""

    def __init__(self, g1: nn.Module, g2: nn.Module, nz1: int):
        super().__init__()
        self.g1, self.g2, self.nz1 = g1, g2, nz1

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, low_too: bool = False):
        low = self.g1(z[:, : self.nz1], y)
        high = self.g2(z[:, self.nz1 :], y, low=low)
        return (low, high) if low_too else high


class StackedGenerator(Generator):
    """A Generator whose latent is both stages' noise joined: nz = nz1 + nz2."""

    def __init__(self, net: Stack, cfg: Config, info: DataInfo, nz: int, step: int = 0, source: Path | None = None):
        super().__init__(net, cfg, info, step, source)
        self._nz = nz

    @property
    def nz(self) -> int:
        return self._nz

    @torch.no_grad()
    def stages(self, z: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(stage 1's low-res images, the stack's high-res images) for latents z."""
        low, high = self.net(z.to(self.device), None if y is None else y.to(self.device), low_too=True)
        return low.float().cpu(), high.float().cpu()


def stack_weights(state: dict) -> dict[str, torch.Tensor]:
    """Both generators' weights of a stack checkpoint as one state_dict of ``Stack``
    (stage 1's under ``g1.``, stage 2's under ``g2.``): what an export writes."""
    return {f"g{i}.{k}": v for i, s in enumerate(state["stages"], 1) for k, v in s["G"].items()}


def load_stack(state: dict, path: Path, device="cpu", weights: dict | None = None) -> StackedGenerator:
    """Both generators from one stack checkpoint (the state ``checkpoint.load`` read), or from
    an export's config.json (the same keys, less the weights) and its ``weights`` (``stack_weights``)."""
    nets, nzs = [], []
    for i, s in enumerate(state["stages"], 1):
        cfg_i, info_i = config.from_dict(s["config"]), DataInfo.from_dict(s["data_info"])
        G, _ = models.build(cfg_i.model, info_i)
        if weights is None:
            checkpoint.load_weights(G, s["G"], f"stage-{i} generator", path)
        nets.append(G)
        nzs.append(cfg_i.model.nz)
    net = Stack(*nets, nzs[0])
    if weights is not None:
        checkpoint.load_weights(net, weights, "stacked generator (g1: stage 1, g2: stage 2)", path)
    cfg, info = config.from_dict(state["config"]), DataInfo.from_dict(state["data_info"])
    return StackedGenerator(net.to(device), cfg, info, sum(nzs), int(state["step"]), Path(path))
