"""FastGAN-style family (Liu et al. 2021): made for a few hundred to a few thousand photos.

G: z → a 4x4 map, then blocks that double the side by nearest-neighbour upsampling and a 3x3
convolution (resize-convolution: no transposed convolution, so no checkerboard lattice),
BatchNorm and a gated linear unit. Skip-layer excitation (SLE): the features at side s/8
gate the channels at side s (s >= 64) through a small squeeze network, so the coarse layout
steers the fine layers' features directly, with a short path for gradients.

D: stride-2 convolution blocks down to 4x4 and a 4x4 head, as DCGAN's. Self-supervision: two
small decoders rebuild, from D's own 8x8 features, the whole real image at a lower side, and
from a random quadrant of its 16x16 features that quadrant of the image; their mean squared
error is added to D's loss on real images (DOut.aux, which the loop adds through
layers.aux_loss). D must keep features that describe the image, not only what tells real
from fake: the regularizer that lets it train on small sets.

Widths follow ``model.ngf`` / ``model.ndf`` (the top level's, halved) and double per level
down, capped at ``model.max_mult`` times; sides 64 to 1024, conditional or not.
"""
from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..data.base import DataInfo
from ..errors import ConfigError
from .layers import DOut, Discriminator, GInput, join_label_maps, norm2d, require_images

RESOLUTIONS = (64, 128, 256, 512, 1024)


def width(base: int, res: int, side: int, max_mult: int) -> int:
    """Channels at ``side``: half of ``base`` at the image's side, doubling per level down."""
    return max(8, int(base * min(max_mult, res / side) / 2))


def up_block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, 2 * cout, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(2 * cout), nn.GLU(1))


class SLE(nn.Module):
    """Skip-layer excitation: high ← high · σ(conv1x1(LReLU(conv4x4(pool4(low)))))."""

    def __init__(self, c_low: int, c_high: int):
        super().__init__()
        self.gate = nn.Sequential(nn.AdaptiveAvgPool2d(4), nn.Conv2d(c_low, c_high, 4, 1, 0, bias=False), nn.LeakyReLU(0.1),
                                  nn.Conv2d(c_high, c_high, 1, 1, 0, bias=False), nn.Sigmoid())

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        return high * self.gate(low)


class FastGANGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        nc, res = info.shape[0], info.shape[1]
        self.sides = [4 * 2**i for i in range(int(math.log2(res // 4)) + 1)]  # 4, 8, ..., res
        c = {s: width(cfg.ngf, res, s, cfg.max_mult) for s in self.sides}
        self.input = GInput(cfg.conditional, cfg.nz, info.num_classes or 0)
        self.init = nn.Sequential(nn.ConvTranspose2d(self.input.out_dim, 2 * c[4], 4, 1, 0, bias=False),
                                  nn.BatchNorm2d(2 * c[4]), nn.GLU(1))
        self.ups = nn.ModuleList(up_block(c[s // 2], c[s]) for s in self.sides[1:])
        self.sle = nn.ModuleDict({str(s): SLE(c[s // 8], c[s]) for s in self.sides if s >= 64})
        self.out = nn.Conv2d(c[res], nc, 3, 1, 1)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.init(self.input(z, y)[:, :, None, None])
        feats = {4: h}
        for side, up in zip(self.sides[1:], self.ups):
            h = up(h)
            if str(side) in self.sle:
                h = self.sle[str(side)](feats[side // 8], h)
            feats[side] = h
        return torch.tanh(self.out(h))


def decoder(cin: int, side_out: int, nc: int, base: int) -> nn.Sequential:
    """8x8 features → an image of side ``side_out`` (FastGAN's simple decoder)."""
    layers, c = [], cin
    for i in range(int(math.log2(side_out // 8))):
        cout = max(8, base // 2**i)
        layers.append(up_block(c, cout))
        c = cout
    return nn.Sequential(*layers, nn.Conv2d(c, nc, 3, 1, 1), nn.Tanh())


class FastGANDiscriminator(Discriminator):
    """The shared Discriminator (conditioning, mbstd, heads) with two reconstruction decoders."""

    def __init__(self, body, head, features, cfg: ModelConfig, info: DataInfo, c8: int, c16: int, aux_head=None):
        k, nc = info.num_classes or 0, info.shape[0]
        super().__init__(body, head, features, cfg.conditional, k, cfg.mbstd, join=lambda x, y: join_label_maps(x, y, k),
                         aux_head=aux_head)
        self.nc, self.rec_side = nc, min(info.shape[1] // 2, 128)
        self.decode_all = decoder(c8, self.rec_side, nc, cfg.ndf)
        self.decode_part = decoder(c16, self.rec_side, nc, cfg.ndf)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        h, kept = self.join(x, y) if self.join is not None else x, {}
        for block in self.body:
            h = block(h)
            kept[h.shape[-1]] = h
        out = self.judge(h, y)
        if not (self.training and torch.is_grad_enabled()):
            return out
        out = out if isinstance(out, DOut) else DOut(out)
        return out._replace(aux=lambda: self.reconstruction(x, kept[8], kept[16]))

    def reconstruction(self, x: torch.Tensor, h8: torch.Tensor, h16: torch.Tensor) -> torch.Tensor:
        """MSE of the whole image at rec_side from h8, plus one random quadrant of the image at
        2·rec_side from the same quadrant of h16 (drawn from torch's RNG: saved with a run)."""
        x = x[:, : self.nc].float()
        s = self.rec_side
        whole = F.interpolate(x, size=(s, s), mode="area") if x.shape[-1] != s else x
        q = int(torch.randint(4, (1,)))
        qy, qx = divmod(q, 2)
        part_x = F.interpolate(x, size=(2 * s, 2 * s), mode="area") if x.shape[-1] != 2 * s else x
        part_x = part_x[:, :, qy * s:(qy + 1) * s, qx * s:(qx + 1) * s]
        part_h = h16[:, :, qy * 8:(qy + 1) * 8, qx * 8:(qx + 1) * 8]
        return F.mse_loss(self.decode_all(h8).float(), whole) + F.mse_loss(self.decode_part(part_h).float(), part_x)


def discriminator(cfg: ModelConfig, info: DataInfo) -> FastGANDiscriminator:
    nc, res = info.shape[0], info.shape[1]
    k = info.num_classes or 0
    sides = [res // 2**i for i in range(1, int(math.log2(res // 4)) + 1)]  # each block's output side: res/2 ... 4
    c = {s: width(cfg.ndf, res, s, cfg.max_mult) for s in sides}  # ndf after the first block, doubling
    nin = nc + (k if cfg.conditional == "concat" else 0)
    bias = cfg.d_norm != "batch"
    blocks, cin = [], nin
    for i, s in enumerate(sides):
        layers = [nn.Conv2d(cin, c[s], 4, 2, 1, bias=bias or i == 0)] + ([] if i == 0 else [norm2d(cfg.d_norm, c[s])])
        blocks.append(nn.Sequential(*layers, nn.LeakyReLU(0.2, True)))
        cin = c[s]
    head = nn.Conv2d(c[4] + int(cfg.mbstd), 1, 4, 1, 0)
    aux = nn.Conv2d(c[4], k, 4, 1, 0) if cfg.conditional == "acgan" else None
    return FastGANDiscriminator(nn.Sequential(*blocks), head, c[4], cfg, info, c[8], c[16], aux_head=aux)


def build(cfg: ModelConfig, info: DataInfo):
    return FastGANGenerator(cfg, info), discriminator(cfg, info)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    require_images("fastgan", cfg, info)
    h = info.shape[1]
    if h not in RESOLUTIONS:
        raise ConfigError(f"data.resolution = {h}: fastgan supports {', '.join(map(str, RESOLUTIONS))}")
