"""A small CNN classifier of the real data, as the feature extractor and judge of sample metrics.

For MNIST-like data an ImageNet Inception network is a poor judge (and a large download);
a classifier trained on the dataset itself gives class predictions (for confidence,
coverage and Inception Score) and penultimate features (for a Fréchet distance). Scores
made with it are comparable only with scores made with the same weights: ``load_or_train``
caches them under a key of the training data, the seed and the architecture version.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from .. import runs
from ..checkpoint import require_safe_torch

ARCH_VERSION = 1  # bump when the network or its training changes: old cached weights stop matching


class Classifier(nn.Module):
    """conv-pool, conv-pool, fc (the features), fc (the logits). Inputs are (N, C, H, W) in [-1, 1];
    other sizes are resized to ``side`` and RGB/gray converted to ``in_channels`` first."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10, side: int = 28, width: int = 32, feature_dim: int = 128):
        super().__init__()
        self.in_channels, self.num_classes, self.side = in_channels, num_classes, side
        self.conv = nn.Sequential(
            nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(width, 2 * width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.fc1 = nn.Linear(2 * width * (side // 4) ** 2, feature_dim)
        self.fc2 = nn.Linear(feature_dim, num_classes)

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 3 and self.in_channels == 1:
            x = (x * x.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)).sum(1, keepdim=True)  # ITU-R 601 luma
        elif x.shape[1] == 1 and self.in_channels == 3:
            x = x.expand(-1, 3, -1, -1)
        if x.shape[-2:] != (self.side, self.side):
            x = F.interpolate(x, size=(self.side, self.side), mode="bilinear", antialias=True, align_corners=False)
        return x

    def features(self, x: torch.Tensor) -> torch.Tensor:
        # Before the ReLU: units that are dead on all inputs would make the covariances singular.
        return self.fc1(self.conv(self.prepare(x)).flatten(1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.relu(self.features(x)))

    forward = logits


def as_input(images) -> torch.Tensor:
    """uint8 (N, H, W), (N, H, W, C) or (N, C, H, W) in 0..255, or float (N, C, H, W) in [-1, 1]
    (what ganforge generators return) → float32 (N, C, H, W) in [-1, 1]."""
    x = torch.as_tensor(images)
    if x.ndim == 3:
        x = x[:, None]
    if x.dtype == torch.uint8:
        if x.shape[-1] in (1, 3) and x.shape[1] not in (1, 3):  # channels last, as datasets store them
            x = x.permute(0, 3, 1, 2)
        return x.float().div(127.5).sub(1.0).contiguous()
    return x.float()


def train_classifier(images, labels, seed: int = 0, epochs: int = 3, batch_size: int = 128, lr: float = 1e-3) -> Classifier:
    """Train with Adam on cross-entropy. On CPU the same seed (and thread count) gives the
    same weights: initialization and shuffling draw only from generators seeded here."""
    x, y = as_input(images), torch.as_tensor(np.asarray(labels)).long()
    with torch.random.fork_rng(devices=[]):  # seed the init without moving the caller's RNG
        torch.manual_seed(seed)
        model = Classifier(x.shape[1], int(y.max()) + 1, x.shape[-1] if x.shape[-1] == x.shape[-2] else 28)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    model.train()
    with torch.enable_grad():  # also when called under no_grad (e.g. from a sampling path)
        for _ in range(epochs):
            perm = torch.randperm(len(x), generator=order)
            for i in range(0, len(x), batch_size):
                idx = perm[i : i + batch_size]
                loss = F.cross_entropy(model(x[idx]), y[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
    return model.eval()


@torch.no_grad()
def predict(model: Classifier, images, batch_size: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, feature_dim), class probabilities (N, num_classes)) as float64 numpy arrays."""
    model.eval()
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        h = model.features(as_input(images[i : i + batch_size]))
        feats.append(h.double().numpy())
        probs.append(F.softmax(model.fc2(F.relu(h)), dim=1).double().numpy())
    return np.concatenate(feats), np.concatenate(probs)


def cache_key(images, labels, seed: int, epochs: int) -> str:
    """A hash of everything the weights depend on: the data bytes, seed, epochs, architecture."""
    h = hashlib.sha256(f"ganforge-classifier v{ARCH_VERSION} seed={seed} epochs={epochs}".encode())
    for a in (np.asarray(images), np.asarray(labels)):
        h.update(f"{a.dtype}{a.shape}".encode())
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()[:20]


def _cache_path(images, labels, cache_dir, seed: int, epochs: int, key: str | None = None) -> tuple[str, Path]:
    if cache_dir is None:
        cache_dir = Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge") / "classifiers"
    key = key or cache_key(images, labels, seed, epochs)
    return key, Path(cache_dir).expanduser() / f"classifier-{key}.pt"


def load_cached(images, labels, cache_dir: str | Path | None = None, seed: int = 0, epochs: int = 3,
                key: str | None = None) -> Classifier | None:
    """The cached classifier for this data and seed, or None when none was trained yet.
    ``key``: ``cache_key`` of the same arguments, when the caller has it (hashing is not free)."""
    _, path = _cache_path(images, labels, cache_dir, seed, epochs, key)
    if not path.exists():
        return None
    require_safe_torch()  # a cache folder can be shared: the same torch floor as checkpoints
    state = torch.load(path, map_location="cpu", weights_only=True)  # plain tensors and numbers only
    m = state["meta"]
    with torch.random.fork_rng(devices=[]):  # the throwaway init must not move the caller's RNG (a
        model = Classifier(m["in_channels"], m["num_classes"], m["side"])  # training run's seed)
    model.load_state_dict(state["state_dict"])
    return model.eval()


def load_or_train(images, labels, cache_dir: str | Path | None = None, seed: int = 0, epochs: int = 3,
                  key: str | None = None) -> tuple[Classifier, bool]:
    """The classifier for this data and seed: cached weights if present, else trained and cached.
    Returns (model, whether it came from the cache). Default cache: $GANFORGE_CACHE/classifiers."""
    key, path = _cache_path(images, labels, cache_dir, seed, epochs, key)
    model = load_cached(images, labels, cache_dir, seed, epochs, key)
    if model is not None:
        return model, True
    model = train_classifier(images, labels, seed, epochs)
    meta = {"arch_version": ARCH_VERSION, "key": key, "seed": seed, "epochs": epochs,
            "in_channels": model.in_channels, "num_classes": model.num_classes, "side": model.side}
    path.parent.mkdir(parents=True, exist_ok=True)
    runs.atomic_write(path, lambda f: torch.save({"state_dict": model.state_dict(), "meta": meta}, f))
    return model, False
