"""SNGAN's residual G and D (Miyato et al. 2018, appendix B), as Mimicry and StudioGAN train
them on CIFAR-10 and STL-10. One family, parametrized by resolution and width.

G: z → linear → (C, b, b) with b = resolution / 8; three (or more) up-blocks
[BN, ReLU, nearest x2, conv3x3, BN, ReLU, conv3x3] + [nearest x2, conv1x1] shortcut;
then BN, ReLU, conv3x3 → image, tanh.
D: an "optimized" first block [conv3x3, ReLU, conv3x3, avgpool] + [avgpool, conv1x1], then
blocks [ReLU, conv3x3, ReLU, conv3x3, (avgpool)] + [conv1x1, (avgpool)]; ReLU, global sum
pooling, linear → score. No normalization in D: spectral norm (``model.spectral_norm``,
on in the presets) is its only stabilizer.

``model.resnet_style`` picks the paper's two layouts:
- ``constant`` (CIFAR-10 32x32): every G block 4·ngf channels (256), every D block 2·ndf
  (128); D halves the side twice, then two blocks keep it (32 → 8).
- ``pyramid`` (STL-10 48x48, base 6x6): G channels halve from 2^n·ngf (512 → 64 at ngf 64);
  D doubles from ndf while halving the side down to half G's base (48 → 3), then, if it has
  not reached 16·ndf, one more block at 16·ndf (1024).
Conditioning goes through models/layers.py: GInput for G, Discriminator for D (projection
on the sum-pooled features, AC-GAN's class head, or class maps joined to the input).
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..data.base import DataInfo
from ..errors import ConfigError
from .layers import Discriminator, GInput, join_label_maps, require_images

BASES = (4, 6)  # G's first map side: 32, 64, 128 start at 4x4; 48, 96 (STL-10) at 6x6


def _base(resolution: int) -> tuple[int, int] | None:
    """(base side, up-blocks) with resolution = base · 2^n, n >= 2; None if unsupported."""
    for b in BASES:
        n = math.log2(resolution / b) if resolution % b == 0 else 0.5
        if n >= 2 and n.is_integer():
            return b, int(n)
    return None


class GBlock(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.bn1, self.conv1 = nn.BatchNorm2d(cin), nn.Conv2d(cin, cout, 3, 1, 1)
        self.bn2, self.conv2 = nn.BatchNorm2d(cout), nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1)
        _xavier(self, [self.conv1, self.conv2], [self.skip])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h))))
        return h + self.skip(F.interpolate(x, scale_factor=2, mode="nearest"))


class DBlock(nn.Module):
    """``first``: the optimized block (no ReLU before the first conv: the input is an image)."""

    def __init__(self, cin: int, cout: int, down: bool, first: bool = False):
        super().__init__()
        self.down, self.first = down, first
        self.conv1, self.conv2 = nn.Conv2d(cin, cout, 3, 1, 1), nn.Conv2d(cout, cout, 3, 1, 1)
        self.skip = nn.Conv2d(cin, cout, 1) if (cin != cout or down) else None
        _xavier(self, [self.conv1, self.conv2], [self.skip] if self.skip is not None else [])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.conv1(x if self.first else F.relu(x))
        h = self.conv2(F.relu(h))
        if self.down:
            h = F.avg_pool2d(h, 2)
        s = x
        if self.first:  # pool first, then project: cheaper, as in SNGAN's optimized block
            s = self.skip(F.avg_pool2d(x, 2))
        elif self.skip is not None:
            s = self.skip(x)
            s = F.avg_pool2d(s, 2) if self.down else s
        return h + s


def _xavier(block: nn.Module, residual: list[nn.Module], shortcut: list[nn.Module]) -> None:
    """SNGAN's init: xavier uniform, gain √2 on the residual convs and 1 on the shortcut.
    (``model.init normal`` overwrites it with DCGAN's N(0, 0.02); the presets use default.)"""
    for m in residual:
        nn.init.xavier_uniform_(m.weight, math.sqrt(2))
        nn.init.zeros_(m.bias)
    for m in shortcut:
        nn.init.xavier_uniform_(m.weight, 1.0)
        nn.init.zeros_(m.bias)


def g_channels(cfg: ModelConfig, n: int) -> list[int]:
    """Channels of G's base map and after each of its n up-blocks."""
    if cfg.resnet_style == "constant":
        return [4 * cfg.ngf] * (n + 1)
    return [cfg.ngf * 2 ** (n - i) for i in range(n + 1)]  # 512, 256, 128, 64 at n=3


def d_layout(cfg: ModelConfig, resolution: int, base: int) -> list[tuple[int, bool]]:
    """(channels, downsamples?) for each D block."""
    if cfg.resnet_style == "constant":
        return [(2 * cfg.ndf, True), (2 * cfg.ndf, True), (2 * cfg.ndf, False), (2 * cfg.ndf, False)]
    downs = int(math.log2(resolution / max(1, base // 2)))
    blocks = [(cfg.ndf * 2**i, True) for i in range(downs)]
    if blocks[-1][0] < 16 * cfg.ndf:
        blocks.append((blocks[-1][0] * 2, False))
    return blocks


class ResNetGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        nc, res = info.shape[0], info.shape[1]
        self.base, n = _base(res)
        ch = g_channels(cfg, n)
        self.input = GInput(cfg.conditional, cfg.nz, info.num_classes or 0)
        self.linear = nn.Linear(self.input.out_dim, ch[0] * self.base**2)
        self.blocks = nn.Sequential(*[GBlock(a, b) for a, b in zip(ch, ch[1:])])
        self.out = nn.Sequential(nn.BatchNorm2d(ch[-1]), nn.ReLU(), nn.Conv2d(ch[-1], nc, 3, 1, 1), nn.Tanh())
        nn.init.xavier_uniform_(self.linear.weight, 1.0)
        nn.init.xavier_uniform_(self.out[2].weight, 1.0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.linear(self.input(z, y)).view(len(z), -1, self.base, self.base)
        return self.out(self.blocks(h))


class SumPool(nn.Module):
    """SNGAN's global sum pooling over space, after a final ReLU."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h.sum((2, 3))


def discriminator(cfg: ModelConfig, info: DataInfo) -> nn.Module:
    nc, res = info.shape[0], info.shape[1]
    k = info.num_classes or 0
    base, _ = _base(res)
    cin = nc + (k if cfg.conditional == "concat" else 0)
    blocks: list[nn.Module] = []
    for i, (c, down) in enumerate(d_layout(cfg, res, base)):
        blocks.append(DBlock(cin, c, down, first=i == 0))
        cin = c
    body = nn.Sequential(*blocks, nn.ReLU())  # → (N, cin, h, w); projection sum-pools it too
    head = nn.Sequential(SumPool(), nn.Linear(cin + int(cfg.mbstd), 1))
    aux = nn.Sequential(SumPool(), nn.Linear(cin, k)) if cfg.conditional == "acgan" else None
    nn.init.xavier_uniform_(head[1].weight, 1.0)
    return Discriminator(body, head, cin, cfg.conditional, k, cfg.mbstd, join=lambda x, y: join_label_maps(x, y, k),
                         aux_head=aux)


def build(cfg: ModelConfig, info: DataInfo):
    return ResNetGenerator(cfg, info), discriminator(cfg, info)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    require_images("resnet", cfg, info)
    res = info.shape[1]
    if _base(res) is None:
        ok = sorted(b * 2**n for b in BASES for n in range(2, 6))
        raise ConfigError(f"data.resolution = {res}: resnet supports {', '.join(map(str, ok))} (4x4 or 6x6 times a power of two)")
