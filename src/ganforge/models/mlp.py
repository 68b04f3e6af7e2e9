"""Fully connected G and D for any data shape: 2-D points, 28x28, colour images.

Defaults are the classic shapes (Goodfellow et al. 2014 as commonly reproduced):
G z(100) → 256 → 512 → 1024 → 784, ReLU, tanh; D 784 → 1000 → 400 → 200 → 1, LeakyReLU(0.2), dropout.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..data.base import DataInfo
from .layers import LabelJoin, norm1d


class MLPGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        self.shape = tuple(info.shape)
        self.join = LabelJoin(info.num_classes, info.num_classes) if cfg.conditional == "concat" else None
        width = cfg.nz + (self.join.dim if self.join else 0)
        layers: list[nn.Module] = []
        for h in cfg.g_hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, math.prod(self.shape)))
        if info.kind == "image":  # images live in [-1, 1]; toy points are unbounded
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.join(z, y) if self.join else z
        return self.net(h).view(len(z), *self.shape)


class MLPDiscriminator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        self.join = LabelJoin(info.num_classes, info.num_classes) if cfg.conditional == "concat" else None
        width = math.prod(info.shape) + (self.join.dim if self.join else 0)
        layers: list[nn.Module] = []
        for h in cfg.d_hidden:
            layers += [nn.Linear(width, h), norm1d(cfg.d_norm, h), nn.LeakyReLU(0.2, inplace=True)]
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
            width = h
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = x.flatten(1)
        h = self.join(h, y) if self.join else h
        return self.net(h).view(len(x))  # logits


def build(cfg: ModelConfig, info: DataInfo):
    return MLPGenerator(cfg, info), MLPDiscriminator(cfg, info)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    pass  # any shape
