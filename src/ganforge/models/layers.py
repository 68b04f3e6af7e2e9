"""Pieces every model family shares: label conditioning, D normalization, DCGAN init."""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) weights, BatchNorm N(1, 0.02), zero biases (Radford et al. 2016, sec. 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def norm2d(kind: str, channels: int) -> nn.Module:
    # "layer" normalizes each sample over (C, H, W): GroupNorm with one group. Gradient
    # penalties need a critic without BatchNorm, whose output mixes samples of a batch.
    return {"batch": lambda: nn.BatchNorm2d(channels), "layer": lambda: nn.GroupNorm(1, channels),
            "none": nn.Identity}[kind]()


def norm1d(kind: str, features: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(features), "layer": lambda: nn.LayerNorm(features),
            "none": nn.Identity}[kind]()


class LabelJoin(nn.Module):
    """cGAN conditioning (Mirza & Osindero 2014): a learned class embedding joined to a flat input."""

    def __init__(self, num_classes: int, dim: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, dim)
        self.dim = dim

    def forward(self, h: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([h, self.embed(require_labels(y, len(h)))], 1)


def join_label_maps(x: torch.Tensor, y: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """cDCGAN conditioning of an image input: one-hot class maps appended as channels."""
    y = require_labels(y, len(x))
    maps = torch.nn.functional.one_hot(y, num_classes).to(x.dtype)[:, :, None, None]
    return torch.cat([x, maps.expand(-1, -1, x.shape[2], x.shape[3])], 1)


def require_labels(y: torch.Tensor | None, n: int) -> torch.Tensor:
    if y is None:
        raise ValueError("this model is conditional: pass labels (an int64 tensor of shape (N,))")
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(y.shape)}")
    return y


def check_conditional(conditional: str, num_classes: int | None) -> None:
    if conditional != "none" and num_classes == 0:
        raise ConfigError(f"model.conditional = {conditional!r}: the dataset has no labels "
                          "(use a labelled dataset, or model.conditional none)")
