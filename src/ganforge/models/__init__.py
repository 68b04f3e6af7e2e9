"""Model families by name. ``build(cfg.model, info)`` gives (G, D).

Every G is ``G(z, y=None) -> x`` with z of shape (N, nz); every D is ``D(x, y=None) -> score (N,)``,
or a DOut (score plus AC-GAN class logits, EBGAN code, or a self-supervised loss: aux_loss)
that the objective (the loop, for aux_loss) unpacks. Labels are
ignored unless ``model.conditional`` is set, so conditional GANs plug into the same loop.
"""
from __future__ import annotations

import torch.nn as nn

from ..config import ModelConfig
from ..data.base import DataInfo
from ..registry import Registry
from . import dcgan, fastgan, fc, mlp, resnet, unpool, upsample
from .layers import DOut, apply_spectral_norm, aux_loss, check_conditional, d_blocks, dcgan_init, score_of

MODELS = Registry("model family")
MODELS.register("mlp")(mlp)
MODELS.register("dcgan")(dcgan)
MODELS.register("resnet")(resnet)
MODELS.register("unpool")(unpool)
MODELS.register("fc")(fc)
MODELS.register("upsample")(upsample)
MODELS.register("fastgan")(fastgan)


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


def bind(G: nn.Module, D: nn.Module, batches):
    """The batch stream the training loop draws from. A G that needs the current real batch and
    D while it trains (unpool: D's pooling indices; upsample: the low-res condition) has an
    ``observe(x, y, D)`` method and sees every batch as the loop draws it; others get the stream as is."""
    if not hasattr(G, "observe"):
        return batches

    def watched():
        for x, y in batches:
            G.observe(x, y, D)
            yield x, y

    return watched()


def example_kwargs(G: nn.Module, D: nn.Module, x, y) -> dict:
    """Extra inputs G needs outside training (for ``ganforge info``), derived from images x."""
    return G.example_kwargs(D, x, y) if hasattr(G, "example_kwargs") else {}


def param_count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())
