"""Fully connected G and D for any data shape: 2-D points, 28x28, colour images.

Defaults are the classic shapes (Goodfellow et al. 2014 as commonly reproduced):
G z(100) → 256 → 512 → 1024 → 784, ReLU, tanh; D 784 → 1000 → 400 → 200 → 1, LeakyReLU(0.2), dropout.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..data.base import DataInfo
from .layers import AutoencoderD, Discriminator, FlatJoin, GInput, norm1d


class MLPGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        self.shape = tuple(info.shape)
        self.input = GInput(cfg.conditional, cfg.nz, info.num_classes or 0)
        width = self.input.out_dim
        layers: list[nn.Module] = []
        for h in cfg.g_hidden:
            layers += [nn.Linear(width, h), nn.ReLU(inplace=True)]
            width = h
        layers.append(nn.Linear(width, math.prod(self.shape)))
        if info.kind == "image":  # images live in [-1, 1]; toy points are unbounded
            layers.append(nn.Tanh())
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.input(z, y)).view(len(z), *self.shape)


def discriminator(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    k = info.num_classes or 0
    width = math.prod(info.shape) + (k if cfg.conditional == "concat" else 0)
    layers: list[nn.Module] = [nn.Flatten()]
    for h in cfg.d_hidden:
        layers += [nn.Linear(width, h), norm1d(cfg.d_norm, h), nn.LeakyReLU(0.2, inplace=True)]
        if cfg.dropout:
            layers.append(nn.Dropout(cfg.dropout))
        width = h
    body = nn.Sequential(*layers)  # → (N, width)
    if cfg.d_arch == "autoencoder":
        encoder = nn.Sequential(body, nn.Linear(width, cfg.nz))
        return AutoencoderD(encoder, MLPGenerator(dataclasses.replace(cfg, conditional="none"), info))
    head = nn.Linear(width + int(cfg.mbstd), 1)
    aux = nn.Linear(width, k) if cfg.conditional == "acgan" else None
    return Discriminator(body, head, width, cfg.conditional, k, cfg.mbstd, join=FlatJoin(k) if cfg.conditional == "concat" else None,
                         aux_head=aux)


def build(cfg: ModelConfig, info: DataInfo):
    return MLPGenerator(cfg, info), discriminator(cfg, info)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    pass  # any shape
