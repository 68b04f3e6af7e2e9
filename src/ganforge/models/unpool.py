"""The unpooling GAN of a classic teaching experiment: G undoes D's max pooling with D's own
pooling indices (MaxUnpool2d), so G's images inherit where D found its maxima.

D, on 3x128x128: conv 3→16 (3x3, padding 1), conv 16→16 applied twice with the same
weights, conv 16→32; each followed by ReLU and a 2x2 max pool that records its indices;
then fc 2048 → 512 → 50 → 1 with ReLU and dropout 0.1 between; logits.
G mirrors it: z (nz, 50 in the preset) → 512 → 2048 (ReLU), reshaped to 32x8x8, then four
stages [unpool with D's indices, conv]: 32→16, 16→16 twice with shared weights, 16→3; ReLU
between, tanh at the end. Any resolution that is a multiple of 16 works (fc 32·(R/16)²).

Where the indices come from is ``model.unpool_indices``:
- ``real``: D's pooling of the current real batch, as in the original experiment. G's
  pictures then carry the layout of the very training images in that batch: a route to
  memorization. Check a run with ``ganforge audit``.
- ``generated``: D's pooling of G's previous batch (uniform noise images on the first step).
- ``fixed``: D's pooling of the first image of the first real batch, once, for every sample.
Sampling from a checkpoint alone: G keeps the indices it last used (up to BANK samples' worth,
one for ``fixed``) in its buffers ``bank0..bank3``, saved with its weights; without given
indices, sample i uses stored set i mod count. A G with neither raises GanforgeError.
"""
from __future__ import annotations

import weakref

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..config import ModelConfig
from ..data.base import DataInfo
from ..errors import ConfigError, GanforgeError
from .layers import Discriminator, GInput, join_label_maps, require_images

BANK = 16  # index sets stored with G for sampling: 16 x 88,064 int32 = 5.6 MB at 128x128


class PoolingFeatures(nn.Module):
    """D's convolutions; ``indices`` holds the last forward's four index maps (N, C, h, w)."""

    def __init__(self, nin: int):
        super().__init__()
        self.conv1, self.conv2, self.conv3 = nn.Conv2d(nin, 16, 3, 1, 1), nn.Conv2d(16, 16, 3, 1, 1), nn.Conv2d(16, 32, 3, 1, 1)
        self.indices: list[torch.Tensor] | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        indices = []
        for conv in (self.conv1, self.conv2, self.conv2, self.conv3):  # conv2 twice: shared weights
            x, i = F.max_pool2d(F.relu(conv(x)), 2, return_indices=True)
            indices.append(i)
        self.indices = indices
        return x.flatten(1)


def discriminator(cfg: ModelConfig, info: DataInfo) -> Discriminator:
    nc, res = info.shape[0], info.shape[1]
    k = info.num_classes or 0
    nin = nc + (k if cfg.conditional == "concat" else 0)
    body = nn.Sequential(PoolingFeatures(nin), nn.Linear(32 * (res // 16) ** 2, 512), nn.ReLU(), nn.Dropout(0.1),
                         nn.Linear(512, 50), nn.ReLU(), nn.Dropout(0.1))
    aux = nn.Linear(50, k) if cfg.conditional == "acgan" else None
    return Discriminator(body, nn.Linear(50 + int(cfg.mbstd), 1), 50, cfg.conditional, k, cfg.mbstd,
                         join=lambda x, y: join_label_maps(x, y, k), aux_head=aux)


@torch.no_grad()
def pool_indices(D: Discriminator, x: torch.Tensor, y: torch.Tensor | None) -> list[torch.Tensor]:
    """D's four pooling index maps for images x (labels y for a concat-conditioned D)."""
    features = D.body[0]
    features(D.join(x, y) if D.join is not None else x)
    return features.indices


class UnpoolGenerator(nn.Module):
    def __init__(self, cfg: ModelConfig, info: DataInfo):
        super().__init__()
        nc, res = info.shape[0], info.shape[1]
        self.nc, self.side, self.mode = nc, res // 16, cfg.unpool_indices
        self.input = GInput(cfg.conditional, cfg.nz, info.num_classes or 0)
        self.fc = nn.Sequential(nn.Linear(self.input.out_dim, 512), nn.ReLU(), nn.Linear(512, 32 * self.side**2), nn.ReLU())
        self.conv4, self.conv_shared, self.conv_out = nn.Conv2d(32, 16, 3, 1, 1), nn.Conv2d(16, 16, 3, 1, 1), nn.Conv2d(16, nc, 3, 1, 1)
        shapes = [(16, res // 2), (16, res // 4), (16, res // 8), (32, res // 16)]  # D's pooled maps, level 0..3
        for level, (c, s) in enumerate(shapes):
            self.register_buffer(f"bank{level}", torch.zeros(BANK, c, s, s, dtype=torch.int32))
        self.register_buffer("banked", torch.zeros((), dtype=torch.long))
        self._D = None  # a weak reference: D is not part of G (its weights, optimizer, EMA copy)
        self._real = self._prev = None

    def observe(self, x: torch.Tensor, y: torch.Tensor | None, D: nn.Module) -> None:
        """The training loop shows G each real batch and D (models.bind)."""
        self._D, self._real = weakref.ref(D), (x, y)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, indices: list[torch.Tensor] | None = None) -> torch.Tensor:
        idx = indices if indices is not None else self._indices(len(z), y, z.device)
        idx = [i.long() if len(i) == len(z) else i.long()[torch.arange(len(z), device=i.device) % len(i)] for i in idx]
        h = self.fc(self.input(z, y)).view(len(z), 32, self.side, self.side)
        h = F.relu(self.conv4(F.max_unpool2d(h, idx[3], 2)))
        h = F.relu(self.conv_shared(F.max_unpool2d(h, idx[2], 2)))
        h = F.relu(self.conv_shared(F.max_unpool2d(h, idx[1], 2)))
        x = torch.tanh(self.conv_out(F.max_unpool2d(h, idx[0], 2)))
        if self.training and self.mode == "generated":
            self._prev = (x.detach(), y)
        return x

    def _indices(self, n: int, y, device) -> list[torch.Tensor]:
        D = self._D() if self._D is not None else None
        if not self.training or D is None or (self.mode == "fixed" and self.banked > 0):
            return self._stored()
        if self.mode == "generated":
            if self._prev is None:  # first step: D's pooling of uniform noise, not of any training image
                g = torch.Generator().manual_seed(0)
                self._prev = (torch.rand(n, self.nc, 16 * self.side, 16 * self.side, generator=g).to(device) * 2 - 1, y)
            idx = pool_indices(D, *self._prev)
        else:
            if self._real is None:
                raise GanforgeError("unpool generator: model.unpool_indices = "
                                    f"{self.mode!r} needs the real batch; train through ganforge's loop (models.bind)")
            x, yr = self._real
            idx = pool_indices(D, x[:1], None if yr is None else yr[:1]) if self.mode == "fixed" else pool_indices(D, x, yr)
        self._store(idx)
        return idx

    @torch.no_grad()
    def _store(self, idx: list[torch.Tensor]) -> None:
        m = min(BANK, len(idx[0]))
        for level, i in enumerate(idx):
            getattr(self, f"bank{level}")[:m] = i[:m].to(torch.int32)
        self.banked.fill_(m)

    def _stored(self) -> list[torch.Tensor]:
        m = int(self.banked)
        if m == 0:
            raise GanforgeError("unpool generator: no pooling indices were given and none are stored: pass "
                                "indices=pool_indices(D, images, labels), or load a trained checkpoint (training "
                                "stores the indices it last used)")
        return [getattr(self, f"bank{level}")[:m] for level in range(4)]

    def example_kwargs(self, D, x: torch.Tensor, y) -> dict:
        """For ``ganforge info``: indices from D's pooling of x."""
        return {"indices": pool_indices(D, x, y)}


def build(cfg: ModelConfig, info: DataInfo):
    return UnpoolGenerator(cfg, info), discriminator(cfg, info)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    require_images("unpool", cfg, info)  # G needs D's pooling indices: D must be the standard one
    res = info.shape[1]
    if res % 16:
        raise ConfigError(f"data.resolution = {res}: unpool needs a multiple of 16 (four 2x2 poolings; the experiment uses 128)")
