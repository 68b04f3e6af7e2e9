"""DCGAN (Radford et al. 2016): one family, parametrized by resolution, nz, ngf, ndf, nc.

G: a transposed convolution from z to a 4x4 base map, then stride-2 transposed convolutions
that double the side, BatchNorm + ReLU, tanh output. At 28x28 the first of them goes 4 → 7
(padding 2, output padding 1), so MNIST gets the classic 32x32 network's layers and
parameters (G 1,066,880, D 661,248 with nc=1 and ngf = ndf = 64) at 77% of its arithmetic,
instead of a shallow net from a 7x7 base or padding every image to 32.
D mirrors it with stride-2 convolutions, LeakyReLU(0.2) and BatchNorm except on the first
layer, and outputs logits. Channels double per level, capped at ``model.max_mult`` (8) times
the base width; a 512x512 G with nz 1000 from 2048 channels down to 3 is ngf 32, max_mult 64
(preset dcgan-folder-512). At 64x64
with nc=3 and ngf = ndf = 64 this is the classic network: G 3,576,704 and D 2,765,568
parameters (tests/test_models.py checks it).
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn

from ..config import ModelConfig
from ..data.base import DataInfo
from ..errors import ConfigError
from .layers import AutoencoderD, Discriminator, GInput, OutputConvTranspose2d, join_label_maps, norm2d

RESOLUTIONS = (16, 28, 32, 64, 128, 256, 512)


def _levels(resolution: int) -> tuple[int, int]:
    """(base side, number of stride-2 levels): 64 → (4, 4); 28 → (4, 3), through 7 and 14."""
    return 4, int(math.log2(resolution // 4)) + (resolution == 28)


def _pads(resolution: int, n: int) -> list[tuple[int, int]]:
    """(padding, output padding) of each stride-2 level, G's order (small to large): 4 → 7
    needs (2, 1); every other level doubles with (1, 0). D mirrors it with the paddings only."""
    return [(2, 1) if resolution == 28 and i == 0 else (1, 0) for i in range(n)]


class DCGANGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        nc, res = info.shape[0], info.shape[1]
        base, n = _levels(res)
        ch = [cfg.ngf * min(cfg.max_mult, 2 ** (n - 1 - i)) for i in range(n)]  # e.g. 512, 256, 128, 64
        self.input = GInput(cfg.conditional, cfg.nz, info.num_classes or 0)
        layers: list[nn.Module] = [nn.ConvTranspose2d(self.input.out_dim, ch[0], base, 1, 0, bias=False),
                                   nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b, (p, op) in zip(ch, ch[1:], _pads(res, n)):  # the last level, 2x, is the output layer's
            layers += [nn.ConvTranspose2d(a, b, 4, 2, p, op, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [OutputConvTranspose2d(ch[-1], nc), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(self.input(z, y)[:, :, None, None])


def discriminator(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    nc, res = info.shape[0], info.shape[1]
    k = info.num_classes or 0
    base, n = _levels(res)
    ch = [cfg.ndf * min(cfg.max_mult, 2**i) for i in range(n)]  # e.g. 64, 128, 256, 512
    bias = cfg.d_norm != "batch"  # BatchNorm's shift makes a bias redundant
    nin = nc + (k if cfg.conditional == "concat" else 0)
    pads = [p for p, _ in _pads(res, n)][::-1]  # large to small
    layers: list[nn.Module] = [nn.Conv2d(nin, ch[0], 4, 2, pads[0], bias=bias), nn.LeakyReLU(0.2, True)]
    for a, b, p in zip(ch, ch[1:], pads[1:]):
        layers += [nn.Conv2d(a, b, 4, 2, p, bias=bias), norm2d(cfg.d_norm, b), nn.LeakyReLU(0.2, True)]
    body = nn.Sequential(*layers)  # → (N, ch[-1], base, base)
    if cfg.d_arch == "autoencoder":
        encoder = nn.Sequential(body, nn.Flatten(), nn.Linear(ch[-1] * base * base, cfg.nz))
        return AutoencoderD(encoder, DCGANGenerator(dataclasses.replace(cfg, conditional="none"), info))
    head = nn.Conv2d(ch[-1] + int(cfg.mbstd), 1, base, 1, 0, bias=bias)
    aux = nn.Conv2d(ch[-1], k, base, 1, 0) if cfg.conditional == "acgan" else None
    return Discriminator(body, head, ch[-1], cfg.conditional, k, cfg.mbstd, join=lambda x, y: join_label_maps(x, y, k),
                         aux_head=aux)


def build(cfg: ModelConfig, info: DataInfo):
    return DCGANGenerator(cfg, info), discriminator(cfg, info)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    if info.kind != "image":
        raise ConfigError("model.family = 'dcgan' needs images; for 2-D points use model.family mlp")
    c, h, w = info.shape
    if h not in RESOLUTIONS:
        raise ConfigError(f"data.resolution = {h}: dcgan supports {', '.join(map(str, RESOLUTIONS))}")
