"""What D sees: its inputs, real and fake alike, through differentiable augmentation and
instance noise. Both apply in D's and G's steps, so G's gradient flows through them.

- DiffAugment (Zhao et al. 2020): random colour, translation and cutout, drawn per sample,
  differentiable, applied to real and generated images alike. Lets D train on a few
  hundred images without memorizing them.
- Adaptive augmentation (Karras et al. 2020, ADA): the same operations, each applied to an
  image with probability p, and p steered by D's overfitting signal r_t = E[sign(D(x_real))]:
  up while r_t is above the target (D is sure of the training images), down below it. Below
  p ≈ 0.8 the augmentations do not leak into G's samples; p is clamped to [0, 1] and is
  part of every checkpoint, so a resumed run continues with the same p.
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
from .log import report
from .models.layers import score_of


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


def flip(x: torch.Tensor) -> torch.Tensor:
    """Mirror each image left-right with probability 1/2."""
    mask = dist.rand(len(x), 1, 1, 1, device=x.device) < 0.5
    return torch.where(mask, x.flip(3), x)


def rot90(x: torch.Tensor) -> torch.Tensor:
    """Rotate each (square) image by a random multiple of 90 degrees."""
    k = dist.randint(0, 4, len(x), device=x.device)
    turns = torch.stack([x] + [x.rot90(i, (2, 3)) for i in (1, 2, 3)])
    return turns[k, torch.arange(len(x), device=x.device)]


POLICIES = {"color": color, "translation": translation, "cutout": cutout, "flip": flip, "rot90": rot90}
ADA_DEFAULT = "translation,color,cutout"  # objective.ada with an empty objective.diffaugment


class DInput:
    """Callable applied to every batch D sees; ``step`` drives the noise schedule.

    With ``ada`` (an ObjectiveConfig with ada on), each operation applies to an image with
    probability ``p``; ``observe`` takes D's outputs on real images and ``adapt`` moves p."""

    def __init__(self, policy: str, noise_std: float, total_steps: int, ada=None, real_sign: float = 1.0):
        if ada is not None and not ada.ada:
            ada = None
        self.ops = [POLICIES[p] for p in (policy or (ADA_DEFAULT if ada else "")).split(",") if p]
        self.noise_std = noise_std
        self.total_steps = total_steps
        self.step = 0
        self.ada, self.real_sign = ada, real_sign  # real_sign -1: an energy D scores real images low
        self.p = 0.0 if ada else None  # None: every operation on every image (plain DiffAugment)
        self.rt = None  # the last interval's r_t
        self._acc = torch.zeros(2, dtype=torch.float64)  # since the last adjustment: sum of signs, images
        self._step_acc: list[torch.Tensor] = []  # this step's signs, for the report

    @property
    def active(self) -> bool:
        return bool(self.ops) or self.noise_std > 0

    def sigma(self) -> float:
        return self.noise_std * max(0.0, 1.0 - self.step / self.total_steps)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        for op in self.ops:
            if self.p is None:
                x = op(x)
            elif self.p > 0:  # each image through op with probability p (the draw is global: dist)
                x = torch.where(dist.rand(len(x), 1, 1, 1, device=x.device) < self.p, op(x), x)
        if self.noise_std:
            x = x + self.sigma() * dist.randn(*x.shape, device=x.device, dtype=x.dtype)
        return x

    # -- adaptive augmentation ----------------------------------------------------------
    def observe(self, out_real) -> None:
        """D's output on a real batch: its signs feed r_t (kept as tensors: no device sync)."""
        s = torch.sign(score_of(out_real).detach().float() * self.real_sign)
        self._step_acc.append(s.mean())
        if self.ada is not None:
            self._acc += torch.stack([s.sum(), s.new_tensor(float(len(s)))]).double().cpu()

    def adapt(self, step: int) -> dict:
        """After a step: report r_t of this step (and p), and every ada_every steps move p by
        sign(r_t - target)·images/(ada_kimg·1000), clamped to [0, 1]. Returns what it reported."""
        out = {"ada_rt": torch.stack(self._step_acc).mean()} if self._step_acc else {}
        self._step_acc = []
        if self.ada is not None:
            if step % self.ada.ada_every == 0 and self._acc[1] > 0:
                total = dist.mean_values({"sum": float(self._acc[0]), "n": float(self._acc[1])})  # over processes
                self.rt = total["sum"] / total["n"]
                images = total["n"] * dist.world()
                direction = (self.rt > self.ada.ada_target) - (self.rt < self.ada.ada_target)
                self.p = min(1.0, max(0.0, self.p + direction * images / (self.ada.ada_kimg * 1000)))
                self._acc.zero_()
            out["ada_p"] = self.p
        for k, v in out.items():
            report(k, v)
        return out

    def state_dict(self) -> dict:
        return {"p": self.p, "rt": self.rt, "acc": self._acc.tolist()}

    def load_state_dict(self, state: dict) -> None:
        if self.ada is not None and state.get("p") is not None:
            self.p, self.rt = float(state["p"]), state.get("rt")
            self._acc = torch.tensor(state["acc"], dtype=torch.float64)
