"""Very wide, shallow fully connected GANs for small colour images (the 64x64 flower
experiments): D flattened 3x64x64 = 12,288 → 8192 → 2048 → 512 → 1, G the mirror from a
100-d latent, 237 million parameters together, almost all in the two 12,288-wide layers.

The layers are the mlp family's (G: Linear + ReLU, tanh out; D: Linear, ``model.d_norm``,
LeakyReLU(0.2), dropout); ``fc`` differs in one rule: G's widths are D's reversed, so one
list (``model.d_hidden``) sizes both. Such nets memorize: on a few hundred photos they
collapse onto near-copies of training images, which ``ganforge audit`` and the health
monitor report (README, "Wide FC GANs").
"""
from __future__ import annotations

import dataclasses

from ..config import ModelConfig
from ..data.base import DataInfo
from . import mlp
from .layers import require_images


def build(cfg: ModelConfig, info: DataInfo):
    return mlp.build(dataclasses.replace(cfg, g_hidden=list(reversed(cfg.d_hidden))), info)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    require_images("fc", cfg, info, autoencoder_ok=True)
