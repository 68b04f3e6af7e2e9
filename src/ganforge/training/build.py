"""What a run is made of, built the same way for every run: the Game (networks, optimizers,
objective, D's input pipeline) and the fixed latents of its snapshots."""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import data, dist, models, objectives
from ..augment import DInput
from ..config import Config
from ..errors import ConfigError
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

    def train_d(self, on: bool) -> None:
        """D's trainable weights on or off (off for G's step); blocks frozen by model.freeze_d,
        which D's optimizer does not hold, stay off."""
        for group in self.opt_d.param_groups:
            for p in group["params"]:
                p.requires_grad_(on)


def make_game(cfg: Config, info: data.DataInfo, device: torch.device) -> Game:
    """The networks, optimizers and objective of a run, on ``device``, as every run builds them."""
    T, o = cfg.train, cfg.objective
    fmt = torch.channels_last if T.channels_last else torch.contiguous_format
    G, D = (m.to(device, memory_format=fmt) for m in models.build(cfg.model, info))
    dist.broadcast_module(G, D)  # every process starts from rank 0's weights
    freeze(D, cfg.model.freeze_d)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    obj = objectives.build(o)
    aug = DInput(o.diffaugment, o.instance_noise, T.steps, o, -1.0 if obj.lower_is_real else 1.0)
    return Game(G, D, obj, opt_g, opt_d, aug, cfg.model.nz,
                T.d_steps, info.num_classes if cfg.model.conditional != "none" else 0, Precision(T.amp, device))


def freeze(D: torch.nn.Module, n: int) -> None:
    """model.freeze_d (FreezeD, Mo et al. 2020): D's first n blocks keep their weights: no
    gradients, and make_optimizers leaves them out of D's optimizer."""
    if not n:
        return
    blocks = models.d_blocks(D)
    if n > len(blocks):
        raise ConfigError(f"model.freeze_d = {n}: this discriminator has {len(blocks)} blocks")
    for block in blocks[:n]:
        block.requires_grad_(False)


def make_optimizers(cfg: Config, G: torch.nn.Module, D: torch.nn.Module):
    """Adam or RMSprop for each network. optim.fused updates every parameter in one kernel
    (or one multi-tensor pass): PyTorch's default on a CPU is a Python loop over parameters."""
    o = cfg.optim
    if o.name == "adam":
        kind, kw = torch.optim.Adam, {"betas": (o.beta1, o.beta2), "fused": o.fused or None}
    else:
        kind, kw = torch.optim.RMSprop, {"foreach": o.fused or None}
    trainable = [p for p in D.parameters() if p.requires_grad]  # model.freeze_d's frozen blocks stay out
    return kind(G.parameters(), lr=o.lr_g, **kw), kind(trainable, lr=o.lr_d, **kw)


def fixed_noise(cfg: Config, info: data.DataInfo, device: torch.device):
    """The latent batch every snapshot uses, from its own seed: drawing it moves no other RNG."""
    gen = torch.Generator().manual_seed(cfg.train.seed + 1)
    n = cfg.train.n_samples
    z = torch.randn(n, cfg.model.nz, generator=gen)
    y = torch.arange(n) % info.num_classes if cfg.model.conditional != "none" else None
    return z.to(device), None if y is None else y.to(device)
