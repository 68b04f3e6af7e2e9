"""What a projection minimizes: how far a generated image is from the target, per image.

| name                | distance                                                                        |
|---------------------|---------------------------------------------------------------------------------|
| `pixels`            | mean squared difference of pixel values in [-1, 1]                              |
| `l1`                | mean absolute difference of pixel values in [-1, 1]                             |
| `pixels+d`          | `pixels` plus the run's own discriminator's features (below): needs a checkpoint |
| `l1+d`              | `l1` plus the run's own discriminator's features                                |
| `pixels+classifier` | `pixels` plus the domain classifier's 128-d features (labelled datasets; cached) |

Features are compared as LPIPS compares them (Zhang et al. 2018), without its learned
weights: at every position of every hooked layer the feature vector is scaled to unit length
across channels, and the distance is the squared difference, averaged over positions and then
over layers (0 = the same features, at most 4). D's layers are its activations (every ReLU and
LeakyReLU of the discriminator, not of an EBGAN decoder), in eval mode: what D learned to look
at in this very dataset, and a network that never saw the target.

Which one projects best was measured (benchmarks/README.md, projection.py) by how closely it
recovers the latent of G's own samples; ``DEFAULT`` is the choice.
"""
from __future__ import annotations

import torch
import torch.nn as nn

from ..errors import ConfigError

DISTANCES = ("pixels", "l1", "pixels+d", "l1+d", "pixels+classifier")
# On real images, what projection is for, pixels+d reconstructed closest in all four sets measured;
# on G's own samples l1 and l1+d recovered the latent a little better (benchmarks/README.md).
DEFAULT = "pixels+d"
FEATURE_WEIGHT = 1.0  # features' share against pixels: both are O(0.1-1) for a poor match


class Distance:
    """``prepare(target, y)`` once per set of candidates, then ``(x, y, prepared) → (B,)``."""

    def __init__(self, name: str, features: nn.Module | None = None, layers: list[nn.Module] | None = None,
                 weight: float = FEATURE_WEIGHT):
        if name not in DISTANCES:
            raise ConfigError(f"--distance {name}: must be one of {', '.join(DISTANCES)}")
        self.name, self.net, self.layers, self.weight = name, features, layers or [], weight

    def prepare(self, target: torch.Tensor, y: torch.Tensor | None):
        with torch.no_grad():
            return target, (self._features(target, y) if self.net is not None else None)

    def __call__(self, x: torch.Tensor, y: torch.Tensor | None, prepared) -> torch.Tensor:
        target, tf = prepared
        l1 = self.name.startswith("l1")
        d = (x - target).abs().flatten(1).mean(1) if l1 else (x - target).pow(2).flatten(1).mean(1)
        if self.net is None:
            return d
        xf = self._features(x, y)
        return d + self.weight * torch.stack([feature_distance(a, b) for a, b in zip(xf, tf)]).mean(0)

    def _features(self, x: torch.Tensor, y: torch.Tensor | None) -> list[torch.Tensor]:
        if not self.layers:  # a single feature map (the classifier's penultimate layer)
            return [self.net(x)]
        out: list[torch.Tensor] = []
        hooks = [m.register_forward_hook(lambda mod, i, o: out.append(o)) for m in self.layers]
        try:
            self.net(x, y)
        finally:
            for h in hooks:
                h.remove()
        return out


def feature_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,): unit-normalized across channels (dim 1), squared difference, mean over positions."""
    a, b = a.float(), b.float()
    # eps inside the root: a zero feature vector (every channel 0 after a ReLU) has a finite gradient
    na = a * (a.pow(2).sum(1, keepdim=True) + 1e-10).rsqrt()
    nb = b * (b.pow(2).sum(1, keepdim=True) + 1e-10).rsqrt()
    return (na - nb).pow(2).sum(1).flatten(1).mean(1) if a.dim() > 2 else (na - nb).pow(2).sum(1)


def build(g, name: str = DEFAULT) -> Distance:
    """The distance ``name`` for generator ``g``; ``pixels+d`` and ``l1+d`` need the checkpoint's D."""
    if name in ("pixels", "l1"):
        return Distance(name)
    if name in ("pixels+d", "l1+d"):
        D = discriminator(g)
        if D is None:
            raise ConfigError(f"--distance {name}: {g.source} holds no discriminator (an export keeps only G); "
                              "project from the run's checkpoint, or use --distance pixels")
        layers = [m for n, m in D.named_modules() if isinstance(m, (nn.ReLU, nn.LeakyReLU)) and "decoder" not in n]
        return Distance(name, D, layers)
    if name == "pixels+classifier":
        from ..metrics.evaluate import extractor_for, sources

        _, train, _ = sources(g, None, "train")
        model = extractor_for("classifier", g.info, train).model
        for p in model.parameters():
            p.requires_grad_(False)
        return Distance(name, model.features)
    raise ConfigError(f"--distance {name}: must be one of {', '.join(DISTANCES)}")


def discriminator(g) -> nn.Module | None:
    """D of the checkpoint ``g`` was loaded from, in eval mode and frozen; None for an export or a stack."""
    from .. import checkpoint, models

    if g.source is None or g.source.suffix != ".pt":
        return None
    state = checkpoint.load(g.source)
    if "D" not in state or "stages" in state:
        return None
    _, D = models.build(g.cfg.model, g.info)
    checkpoint.load_weights(D, state["D"], "discriminator", g.source)
    D.to(g.device).eval()
    for p in D.parameters():
        p.requires_grad_(False)
    return D
