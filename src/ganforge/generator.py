"""A trained generator: G in eval mode with its config and data description (``ganforge.load``,
in loader.py, rebuilds one from a checkpoint, a run directory or an export)."""
from __future__ import annotations

from pathlib import Path

import torch

from . import config
from .data.base import DataInfo


class Generator:
    """G in eval mode plus what it needs to produce data: its config and the data's description.

    ``sample`` returns data-space values: images in [-1, 1] as (N, C, H, W), or 2-D points
    in the toy distribution's own coordinates as (N, 2).
    """

    def __init__(self, net: torch.nn.Module, cfg: config.Config, info: DataInfo, step: int = 0, source: Path | None = None):
        self.net = net.eval()
        self.cfg = cfg
        self.info = info
        self.step = step
        self.source = source

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    @property
    def nz(self) -> int:
        return self.cfg.model.nz

    @property
    def conditional(self) -> bool:
        return self.cfg.model.conditional != "none"

    def latents(self, n: int, seed: int | None = None) -> torch.Tensor:
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        return torch.randn(n, self.nz, generator=gen)

    def labels_for(self, n: int, labels=None) -> torch.Tensor | None:
        """None for unconditional G; a class index for all, a sequence, or classes in turn."""
        if not self.conditional:
            return None
        k = self.info.num_classes
        if labels is None:
            y = torch.arange(n) % k
        elif isinstance(labels, int):
            y = torch.full((n,), labels)
        else:
            y = torch.as_tensor(labels).long().flatten()
            if len(y) != n:
                raise ValueError(f"got {len(y)} labels for {n} samples")
        if len(y) and (y.min() < 0 or y.max() >= k):
            raise ValueError(f"class labels must be in 0..{k - 1}")
        return y.long()

    @torch.no_grad()
    def __call__(self, z: torch.Tensor, y: torch.Tensor | None = None, batch_size: int = 256) -> torch.Tensor:
        out = []
        for i in range(0, len(z), batch_size):
            yi = None if y is None else y[i : i + batch_size].to(self.device)
            out.append(self.net(z[i : i + batch_size].to(self.device), yi).float().cpu())
        x = torch.cat(out) if out else torch.empty(0, *self.info.shape)
        return x * self.info.point_scale if self.info.kind == "points" else x

    def sample(self, n: int, seed: int | None = None, labels=None) -> torch.Tensor:
        return self(self.latents(n, seed), self.labels_for(n, labels))

