"""What D sees: its inputs, real and fake alike, through differentiable augmentation and
instance noise. Both apply in D's and G's steps, so G's gradient flows through them.

- DiffAugment (Zhao et al. 2020): random colour, translation and cutout, drawn per sample,
  differentiable, applied to real and generated images alike. Lets D train on a few
  hundred images without memorizing them.
- Instance noise (Sønderby et al. 2017; Arjovsky & Bottou 2017): Gaussian noise on D's
  inputs, std annealed linearly from ``instance_noise`` to 0, so the two distributions
  overlap early in training and D cannot separate them perfectly.

Random draws go through dist: with several processes each draws the global batch's numbers
and keeps its slice, so a sample is augmented the same whichever process holds it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import dist


def color(x: torch.Tensor) -> torch.Tensor:
    n = len(x)
    x = x + (dist.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) - 0.5)  # brightness
    if x.shape[1] > 1:
        mean = x.mean(dim=1, keepdim=True)
        x = (x - mean) * (dist.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) * 2) + mean  # saturation
    mean = x.mean(dim=[1, 2, 3], keepdim=True)
    return (x - mean) * (dist.rand(n, 1, 1, 1, device=x.device, dtype=x.dtype) + 0.5) + mean  # contrast


def translation(x: torch.Tensor, ratio: float = 0.125) -> torch.Tensor:
    """Shift each image by up to ratio × its size, filling with zeros."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = dist.randint(-sh, sh + 1, n, 1, 1, device=x.device)
    dx = dist.randint(-sw, sw + 1, n, 1, 1, device=x.device)
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    gy = (gy.unsqueeze(0) + dy + 1).clamp(0, h + 1)  # +1: index into the zero-padded image
    gx = (gx.unsqueeze(0) + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    idx = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[idx, gy, gx].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Zero a random square of half the image's side in each image."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # the square's centre is anywhere in the image; it may hang over the border
    y0 = dist.randint(0, h, n, 1, 1, device=x.device) - ch // 2
    x0 = dist.randint(0, w, n, 1, 1, device=x.device) - cw // 2
    gy, gx = torch.meshgrid(torch.arange(h, device=x.device), torch.arange(w, device=x.device), indexing="ij")
    inside = (gy >= y0) & (gy < y0 + ch) & (gx >= x0) & (gx < x0 + cw)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES = {"color": color, "translation": translation, "cutout": cutout}


class DInput:
    """Callable applied to every batch D sees; ``step`` drives the noise schedule."""

    def __init__(self, policy: str, noise_std: float, total_steps: int):
        self.ops = [POLICIES[p] for p in policy.split(",") if p]
        self.noise_std = noise_std
        self.total_steps = total_steps
        self.step = 0

    @property
    def active(self) -> bool:
        return bool(self.ops) or self.noise_std > 0

    def sigma(self) -> float:
        return self.noise_std * max(0.0, 1.0 - self.step / self.total_steps)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.ops:
            x = op(x)
        if self.noise_std:
            x = x + self.sigma() * dist.randn(*x.shape, device=x.device, dtype=x.dtype)
        return x
