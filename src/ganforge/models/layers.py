"""Pieces every model family shares: conditioning, the discriminator's heads, normalization,
spectral norm, minibatch standard deviation and DCGAN init.

A family supplies only its body (x → features) and its head (features → score); the
conditioning modes and stabilizers here then work for every family alike.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..errors import ConfigError

CONDITIONAL = ("none", "concat", "acgan", "projection")


class DOut(NamedTuple):
    """What a discriminator returns when it has more than a score."""

    score: torch.Tensor  # (N,): logits, critic values or energies
    class_logits: torch.Tensor | None = None  # AC-GAN's auxiliary classifier, (N, K)
    code: torch.Tensor | None = None  # EBGAN: the autoencoder's embedding, for the pulling-away term
    aux: Callable[[], torch.Tensor] | None = None  # a self-supervised loss D adds on real images
    # (FastGAN's reconstruction), computed only when the loop asks for it: aux_loss


def score_of(out) -> torch.Tensor:
    return out.score if isinstance(out, DOut) else out


def aux_loss(out):
    """D's own loss on a real batch beside the objective's (0 for most discriminators)."""
    return out.aux() if isinstance(out, DOut) and out.aux is not None else 0.0


def d_blocks(D: nn.Module) -> list[nn.Module]:
    """D's blocks from the input on, for model.freeze_d: the children of its body (an
    autoencoder's encoder), a new block at each weight layer or each sub-network with
    weights; normalization and activations belong to the block before them."""
    body = getattr(D, "body", None)
    if body is None and isinstance(getattr(D, "encoder", None), nn.Sequential):
        body = D.encoder[0]
    if not isinstance(body, nn.Sequential):
        raise ConfigError(f"model.freeze_d: this discriminator ({type(D).__name__}) has no blocks to freeze")
    blocks: list[list[nn.Module]] = []
    for m in body.children():
        norm = isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.LayerNorm))
        if not norm and any(True for _ in m.parameters()) or not blocks:
            blocks.append([])
        blocks[-1].append(m)
    return [nn.Sequential(*b) if len(b) > 1 else b[0] for b in blocks]


def dcgan_init(module: nn.Module) -> None:
    """N(0, 0.02) weights, BatchNorm N(1, 0.02), zero biases (Radford et al. 2016, sec. 4)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear, nn.Embedding)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.normal_(m.weight, 1.0, 0.02)
            nn.init.zeros_(m.bias)


def apply_spectral_norm(module: nn.Module) -> nn.Module:
    """Spectral normalization (Miyato et al. 2018) on every weight layer: each layer's
    largest singular value is held at 1 by one power iteration per forward pass."""
    for m in list(module.modules()):
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.Embedding)):
            nn.utils.parametrizations.spectral_norm(m)
    return module


def norm2d(kind: str, channels: int) -> nn.Module:
    # "layer" normalizes each sample over (C, H, W): GroupNorm with one group. Gradient
    # penalties need a critic without BatchNorm, whose output mixes samples of a batch.
    return {"batch": lambda: nn.BatchNorm2d(channels), "layer": lambda: nn.GroupNorm(1, channels),
            "none": nn.Identity}[kind]()


def norm1d(kind: str, features: int) -> nn.Module:
    return {"batch": lambda: nn.BatchNorm1d(features), "layer": lambda: nn.LayerNorm(features),
            "none": nn.Identity}[kind]()


class MinibatchStd(nn.Module):
    """Appends the batch's mean feature standard deviation as one more channel (Karras et al.
    2018, sec. 3): D can see a batch with too little variety, which penalizes mode collapse."""

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        std = h.float().std(dim=0, unbiased=False).mean().to(h.dtype) if len(h) > 1 else h.new_zeros(())
        extra = std.expand(len(h), 1, *h.shape[2:])
        return torch.cat([h, extra], 1)


class GInput(nn.Module):
    """G's input from z and the class: z alone; z joined with a class embedding (cGAN,
    Mirza & Osindero 2014; also used with a projection D); or z times a learned class
    embedding (AC-GAN, Odena et al. 2017)."""

    def __init__(self, mode: str, nz: int, num_classes: int):
        super().__init__()
        self.mode = mode
        self.embed = None
        if mode in ("concat", "projection"):
            self.embed = nn.Embedding(num_classes, num_classes)
        elif mode == "acgan":
            self.embed = nn.Embedding(num_classes, nz)
        self.out_dim = nz + (num_classes if mode in ("concat", "projection") else 0)

    def forward(self, z: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        if self.embed is None:
            return z
        e = self.embed(require_labels(y, len(z)))
        return z * e if self.mode == "acgan" else torch.cat([z, e], 1)


class Discriminator(nn.Module):
    """body → [minibatch std] → head, with the conditioning of ``mode``:

    - concat: the family's ``join`` adds the class to D's input (cGAN);
    - projection: score += ⟨embed(y), φ(x)⟩ with φ the sum-pooled features (Miyato & Koyama 2018);
    - acgan: ``aux_head`` classifies the body's features (Odena et al. 2017): built like
      ``head`` but with one output per class, so it sees the same (spatial) features as the
      real/fake score. D then returns a DOut.
    """

    def __init__(self, body: nn.Module, head: nn.Module, features: int, mode: str, num_classes: int,
                 mbstd: bool = False, join=None, aux_head: nn.Module | None = None):
        super().__init__()
        self.body, self.head = body, head
        self.mbstd = MinibatchStd() if mbstd else None
        self.join = join if mode == "concat" else None
        self.embed = nn.Embedding(num_classes, features) if mode == "projection" else None
        if mode == "acgan" and aux_head is None:
            raise ValueError("an AC-GAN discriminator needs aux_head")
        self.aux = aux_head if mode == "acgan" else None

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None):
        return self.judge(self.body(self.join(x, y) if self.join is not None else x), y)

    def judge(self, h: torch.Tensor, y: torch.Tensor | None):
        """The body's features → the score (and the conditioning's terms)."""
        score = self.head(self.mbstd(h) if self.mbstd is not None else h).view(len(h))
        if self.embed is None and self.aux is None:
            return score
        if self.embed is not None:
            pooled = h.flatten(2).sum(2) if h.dim() > 2 else h
            return score + (self.embed(require_labels(y, len(h))) * pooled).sum(1)
        return DOut(score, self.aux(h).flatten(1))


class AutoencoderD(nn.Module):
    """EBGAN's discriminator (Zhao et al. 2017): energy = per-sample reconstruction MSE of an
    autoencoder; also returns the code for the pulling-away term."""

    def __init__(self, encoder: nn.Module, decoder: nn.Module):
        super().__init__()
        self.encoder, self.decoder = encoder, decoder

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> DOut:
        code = self.encoder(x)
        energy = (self.decoder(code) - x).pow(2).flatten(1).mean(1)
        return DOut(energy, code=code)


class FlatJoin(nn.Module):
    """cGAN conditioning of a flat input: a learned class embedding joined to it."""

    def __init__(self, num_classes: int):
        super().__init__()
        self.embed = nn.Embedding(num_classes, num_classes)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None) -> torch.Tensor:
        return torch.cat([x.flatten(1), self.embed(require_labels(y, len(x)))], 1)


def join_label_maps(x: torch.Tensor, y: torch.Tensor | None, num_classes: int) -> torch.Tensor:
    """cDCGAN conditioning of an image input: one-hot class maps appended as channels."""
    y = require_labels(y, len(x))
    maps = F.one_hot(y, num_classes).to(x.dtype)[:, :, None, None]
    return torch.cat([x, maps.expand(-1, -1, x.shape[2], x.shape[3])], 1)


def require_labels(y: torch.Tensor | None, n: int) -> torch.Tensor:
    if y is None:
        raise ValueError("this model is conditional: pass labels (an int64 tensor of shape (N,))")
    if y.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {tuple(y.shape)}")
    return y


def check_conditional(conditional: str, num_classes: int | None) -> None:
    if conditional != "none" and num_classes == 0:
        raise ConfigError(f"model.conditional = {conditional!r}: the dataset has no labels "
                          "(use a labelled dataset, or model.conditional none)")


class OutputConvTranspose2d(nn.ConvTranspose2d):
    """The 4x4, stride-2, padding-1 transposed convolution that writes a DCGAN's few output
    channels, computed on CPUs as a 3x3 convolution to 4·C channels and a pixel shuffle
    (Shi et al. 2016's sub-pixel form of the same linear map).

    oneDNN runs a transposed convolution with 1-3 output channels at a small fraction of its
    usual speed: at 64x64, batch 64, G's last layer took a third of G's time for a tenth of its
    arithmetic. Output pixel (2j + r) of the transposed convolution is a 2-tap sum over input
    pixels j-1..j+1, so the four phases r ∈ {0,1}² are one 3x3 convolution whose kernel gathers
    the 4x4 weight (a zero where a phase has no tap). The parameter, its shape and its
    state_dict are those of nn.ConvTranspose2d; results and gradients agree up to float
    rounding (tests/test_fast_step.py). CUDA keeps the native kernel.
    """

    # KERNEL_TAP[r][t]: which of the 4 kernel taps output phase r takes from input offset t - 1
    # (4 indexes the zero appended to the kernel: that phase has no tap at that offset).
    KERNEL_TAP = ((3, 1, 4), (4, 2, 0))

    def __init__(self, in_channels: int, out_channels: int, bias: bool = False):
        super().__init__(in_channels, out_channels, 4, 2, 1, bias=bias)
        self.register_buffer("_taps", torch.tensor(self.KERNEL_TAP), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type != "cpu":
            return super().forward(x)
        w = F.pad(self.weight, (0, 1, 0, 1))  # (in, out, 5, 5): index 4 is zero
        k = self._taps
        w = w[:, :, k[:, None, :, None], k[None, :, None, :]]  # (in, out, ry, rx, ty, tx)
        w = w.permute(1, 2, 3, 0, 4, 5).reshape(4 * self.out_channels, self.in_channels, 3, 3)
        b = None if self.bias is None else self.bias.repeat_interleave(4)
        return F.pixel_shuffle(F.conv2d(x, w, b, padding=1), 2)


def require_images(family: str, cfg, info, autoencoder_ok: bool = False) -> None:
    """The checks an image-only family shares: images in, and (unless it has one) no EBGAN autoencoder D."""
    if info.kind != "image":
        raise ConfigError(f"model.family = {family!r} needs images; for 2-D points use model.family mlp")
    if not autoencoder_ok and cfg.d_arch != "standard":
        raise ConfigError(f"model.d_arch = {cfg.d_arch!r}: {family} has a standard discriminator only "
                          "(EBGAN's autoencoder D: model.family dcgan or mlp)")
