"""GAN objectives by name. The objective knows the game; the training loop knows the schedule.

An objective turns D's outputs into losses. D sees real and fake batches separately
(BatchNorm statistics never mix them), so the D loss comes in two parts whose gradients
the loop accumulates before one optimizer step:

    d_loss_real(D(x)) + d_loss_fake(D(G(z).detach()))      g_loss(D(G(z)))

Losses are computed from logits (softplus / BCE-with-logits), never from sigmoid outputs,
so they stay finite when D is confident.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .config import ObjectiveConfig
from .registry import Registry

OBJECTIVES: Registry[type["Objective"]] = Registry("objective")


class Objective:
    """Base: the classic GAN game on D's logits."""

    def __init__(self, cfg: ObjectiveConfig):
        self.cfg = cfg

    def d_loss_real(self, logits: torch.Tensor) -> torch.Tensor:
        # One-sided label smoothing (Salimans et al. 2016): real targets 1 - s, fake stay 0.
        target = torch.full_like(logits, 1.0 - self.cfg.label_smoothing)
        return F.binary_cross_entropy_with_logits(logits, target)

    def d_loss_fake(self, logits: torch.Tensor) -> torch.Tensor:
        return F.softplus(logits).mean()  # -log(1 - D(G(z)))

    def g_loss(self, logits: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def readout(self, logits: torch.Tensor) -> torch.Tensor:
        """What to report as D(x): a probability for classifiers (a raw score for critics)."""
        return torch.sigmoid(logits)


@OBJECTIVES.register("minimax")
class Minimax(Objective):
    """Goodfellow et al. 2014, eq. 1: G minimizes log(1 - D(G(z))). Saturates when D wins:
    its gradient vanishes exactly when G is worst, which is why nonsaturating is the default."""

    def g_loss(self, logits):
        return -F.softplus(logits).mean()  # log(1 - sigmoid(l)) = -softplus(l)


@OBJECTIVES.register("nonsaturating")
class NonSaturating(Objective):
    """Goodfellow et al. 2014, sec. 3: G maximizes log D(G(z)) instead; same fixed point,
    strong gradients early in training."""

    def g_loss(self, logits):
        return F.softplus(-logits).mean()  # -log sigmoid(l)


def build(cfg: ObjectiveConfig) -> Objective:
    return OBJECTIVES.get(cfg.name)(cfg)
