"""Model families by name. ``build(cfg.model, info)`` gives (G, D).

Every G is ``G(z, y=None) -> x`` with z of shape (N, nz); every D is ``D(x, y=None) -> score (N,)``,
or a DOut (score plus AC-GAN class logits or EBGAN code) that the objective unpacks. Labels are
ignored unless ``model.conditional`` is set, so conditional GANs plug into the same loop.
"""
from __future__ import annotations

import torch.nn as nn

from ..config import ModelConfig
from ..data.base import DataInfo
from ..registry import Registry
from . import dcgan, mlp
from .layers import DOut, apply_spectral_norm, check_conditional, dcgan_init, score_of

MODELS = Registry("model family")
MODELS.register("mlp")(mlp)
MODELS.register("dcgan")(dcgan)


def check(cfg: ModelConfig, info: DataInfo) -> None:
    MODELS.get(cfg.family).check(cfg, info)
    check_conditional(cfg.conditional, info.num_classes)


def build(cfg: ModelConfig, info: DataInfo) -> tuple[nn.Module, nn.Module]:
    check(cfg, info)
    G, D = MODELS.get(cfg.family).build(cfg, info)
    if cfg.init == "normal":
        dcgan_init(G)
        dcgan_init(D)
    if cfg.spectral_norm:
        apply_spectral_norm(D)
    return G, D


def param_count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
