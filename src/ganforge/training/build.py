"""What a run is made of, built the same way for every run: the Game (networks, optimizers,
objective, D's input pipeline) and the fixed latents of its snapshots."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import data, dist, models, objectives
from ..augment import DInput
from ..config import Config
from ..precision import Precision


@dataclass
class Game:
    """Everything one training step touches."""

    G: torch.nn.Module
    D: torch.nn.Module
    obj: objectives.Objective
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    aug: DInput  # what D's inputs go through: DiffAugment, instance noise (or nothing)
    nz: int
    k: int = 1  # D steps per G step
    num_classes: int = 0  # > 0: conditional, fakes get random classes
    amp: Precision = field(default_factory=Precision)  # train.amp: autocast, fp16 loss scaling


def make_game(cfg: Config, info: data.DataInfo, device: torch.device) -> Game:
    """The networks, optimizers and objective of a run, on ``device``, as every run builds them."""
    T, o = cfg.train, cfg.objective
    fmt = torch.channels_last if T.channels_last else torch.contiguous_format
    G, D = (m.to(device, memory_format=fmt) for m in models.build(cfg.model, info))
    dist.broadcast_module(G, D)  # every process starts from rank 0's weights
    opt_g, opt_d = make_optimizers(cfg, G, D)
    return Game(G, D, objectives.build(o), opt_g, opt_d, DInput(o.diffaugment, o.instance_noise, T.steps), cfg.model.nz,
                T.d_steps, info.num_classes if cfg.model.conditional != "none" else 0, Precision(T.amp, device))


def make_optimizers(cfg: Config, G: torch.nn.Module, D: torch.nn.Module):
    """Adam or RMSprop for each network. optim.fused updates every parameter in one kernel
    (or one multi-tensor pass): PyTorch's default on a CPU is a Python loop over parameters."""
    o = cfg.optim
    if o.name == "adam":
        kind, kw = torch.optim.Adam, {"betas": (o.beta1, o.beta2), "fused": o.fused or None}
    else:
        kind, kw = torch.optim.RMSprop, {"foreach": o.fused or None}
    return kind(G.parameters(), lr=o.lr_g, **kw), kind(D.parameters(), lr=o.lr_d, **kw)


def fixed_noise(cfg: Config, info: data.DataInfo, device: torch.device):
    """The latent batch every snapshot uses, from its own seed: drawing it moves no other RNG."""
    gen = torch.Generator().manual_seed(cfg.train.seed + 1)
    n = cfg.train.n_samples
    z = torch.randn(n, cfg.model.nz, generator=gen)
    y = torch.arange(n) % info.num_classes if cfg.model.conditional != "none" else None
    return z.to(device), None if y is None else y.to(device)
