"""Stage 2 of a stacked GAN (LAPGAN, Denton et al. 2015; StackGAN, Zhang et al. 2017):
G turns a low-resolution image (``model.low_res``) plus noise into a high-resolution one;
D judges the high-resolution image together with its low-resolution condition.

G: the low-res image and a noise plane (a linear map of z, as LAPGAN's extra input plane)
→ conv3x3, two conv-BN-ReLU layers at the low resolution, then per doubling [nearest x2,
conv3x3, BN, ReLU] with halving channels, conv3x3 → tanh: a residual ρ. The output is
    x = up(low) + ρ − up(down(ρ)),
with down = f x f average pooling (f = resolution / low_res) and up = nearest: since
down(up(a)) = a, down(x) = low exactly: G adds detail and cannot move away from its
condition. Real pairs are (x, down(x)): stage 2 learns from real downsampled images.
D: LAPGAN's pair, as channels: [x − up(down(x)), up(down(x))] (the detail and the
condition) into the dcgan family's discriminator at the high resolution.

While training, G takes its condition from the current real batch (the loop shows it each
batch: models.bind). Outside training it takes ``low=`` (a stack passes stage 1's images),
or else the low-res images of the first real batch it saw, kept in its buffer ``bank`` so
that snapshots, ``ganforge sample`` of stage 2 alone and the health probe work from the
checkpoint alone.
"""
from __future__ import annotations

import dataclasses
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..data.base import DataInfo
from ..errors import ConfigError, GanforgeError
from . import dcgan
from .layers import GInput, require_images

BANK = 16  # low-res conditions kept with G for sampling without a stage 1


def down(x: torch.Tensor, f: int) -> torch.Tensor:
    return F.avg_pool2d(x, f)


def up(x: torch.Tensor, f: int) -> torch.Tensor:
    return F.interpolate(x, scale_factor=f, mode="nearest")


class UpsampleGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        nc, res = info.shape[0], info.shape[1]
        self.r, self.f = cfg.low_res, res // cfg.low_res
        n = int(math.log2(self.f))
        ch = [cfg.ngf * 2 ** (n - i) for i in range(n + 1)]  # e.g. 64, 32, 16 for 64 → 256 at ngf 16
        self.input = GInput(cfg.conditional, cfg.nz, info.num_classes or 0)
        self.noise = nn.Linear(self.input.out_dim, self.r * self.r)
        layers: list[nn.Module] = [nn.Conv2d(nc + 1, ch[0], 3, 1, 1), nn.ReLU(True)]
        for _ in range(2):
            layers += [nn.Conv2d(ch[0], ch[0], 3, 1, 1, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
        for a, b in zip(ch, ch[1:]):
            layers += [nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(a, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
        layers += [nn.Conv2d(ch[-1], nc, 3, 1, 1), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.register_buffer("bank", torch.zeros(BANK, nc, self.r, self.r))
        self.register_buffer("banked", torch.zeros((), dtype=torch.long))
        self._real = None

    def observe(self, x: torch.Tensor, y: torch.Tensor | None, D: nn.Module) -> None:
        """The training loop shows G each real batch (models.bind): its condition is down(x)."""
        self._real = x
        if self.banked == 0:
            self._store(down(x, self.f))

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, low: torch.Tensor | None = None) -> torch.Tensor:
        low = self._condition(len(z)) if low is None else low
        if low.shape[1:] != (self.bank.shape[1], self.r, self.r) or len(low) != len(z):
            raise ValueError(f"low must have shape ({len(z)}, {self.bank.shape[1]}, {self.r}, {self.r}), got {tuple(low.shape)}")
        plane = self.noise(self.input(z, y)).view(len(z), 1, self.r, self.r)
        rho = self.net(torch.cat([low, plane], 1))
        return up(low, self.f) + rho - up(down(rho, self.f), self.f)

    def _condition(self, n: int) -> torch.Tensor:
        if self.training and self._real is not None:
            low = down(self._real, self.f)
        else:
            m = int(self.banked)
            if m == 0:
                raise GanforgeError("upsample generator: no low-resolution images given (low=...) and none stored: "
                                    "sample it through its stack, or load a trained checkpoint")
            low = self.bank[:m]
        return low if len(low) == n else low[torch.arange(n, device=low.device) % len(low)]

    @torch.no_grad()
    def _store(self, low: torch.Tensor) -> None:
        m = min(BANK, len(low))
        self.bank[:m] = low[:m]
        self.banked.fill_(m)

    def example_kwargs(self, D, x: torch.Tensor, y) -> dict:
        """For ``ganforge info``: x's own low-resolution version as the condition."""
        return {"low": down(x, self.f)}


class PairDiscriminator(nn.Module):
    """D(x) on [x − up(down(x)), up(down(x))]: the detail judged together with its condition."""

    def __init__(self, inner: nn.Module, f: int):
        super().__init__()
        self.inner, self.f = inner, f

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        u = up(down(x, self.f), self.f)
        return self.inner(torch.cat([x - u, u], 1), y)


def build(cfg: ModelConfig, info: DataInfo):
    pair = dataclasses.replace(info, shape=(2 * info.shape[0], *info.shape[1:]))
    return UpsampleGenerator(cfg, info), PairDiscriminator(dcgan.discriminator(cfg, pair), info.shape[1] // cfg.low_res)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    require_images("upsample", cfg, info)
    res, r = info.shape[1], cfg.low_res
    f = res // r
    if res % r or f < 2 or f & (f - 1):
        raise ConfigError(f"model.low_res = {r}: upsample needs data.resolution ({res}) = low_res x 2, 4, 8, ...")
    dcgan.check(cfg, info)
