"""2-D toy distributions, the standard test beds for mode collapse (VEEGAN, PacGAN, WGAN-GP).

Each knows its mode centres and standard deviation in data coordinates, so metrics can
score samples by the PacGAN/VEEGAN protocol. Training sees the points divided by
``point_scale`` (the distribution's extent), so they lie in [-1, 1] like images do.
"""
from __future__ import annotations

import math

import torch

from ..errors import DataError
from .base import DataInfo, Source


class ToySource(Source):
    """Fresh points every batch, from a seeded generator whose state resumes exactly."""

    def __init__(self, info: DataInfo, sampler, seed: int = 0):
        self.info = info
        self._sampler = sampler  # (n, torch.Generator) -> (n, 2) points in data coordinates
        self._gen = torch.Generator().manual_seed(seed)

    def sample_data(self, n: int, gen: torch.Generator) -> torch.Tensor:
        return self._sampler(n, gen)

    def batches(self, batch_size, device, shard=(0, 1)):
        rank, world = shard
        b = batch_size // world
        while True:  # every process draws the global batch (its generator stays in step), keeps its rows
            x = self._sampler(batch_size, self._gen)[rank * b : (rank + 1) * b]
            yield (x / self.info.point_scale).to(device=device, dtype=torch.get_default_dtype()), None

    def state_dict(self):
        return {"gen": self._gen.get_state()}

    def load_state_dict(self, state):
        self._gen.set_state(state["gen"])

    def real_samples(self, n, seed=0):
        return self._sampler(n, torch.Generator().manual_seed(seed)) / self.info.point_scale, None


def _mixture(centers: torch.Tensor, std: float):
    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        which = torch.randint(len(centers), (n,), generator=gen)
        return centers[which] + std * torch.randn(n, 2, generator=gen)

    return sample


def ring8(scale: float = 0.0, std: float = 0.0, seed: int = 0) -> ToySource:
    """8 Gaussians evenly spaced on a circle of radius ``scale`` (default 1), std 0.01."""
    radius, std = scale or 1.0, std or 0.01
    angles = torch.arange(8, dtype=torch.float64) * (2 * math.pi / 8)
    centers = (radius * torch.stack([angles.cos(), angles.sin()], 1)).float()
    return _toy(centers, std, radius + 4 * std, seed)


def grid25(scale: float = 0.0, std: float = 0.0, seed: int = 0) -> ToySource:
    """25 Gaussians at {-2, -1, 0, 1, 2}² × spacing (default 2, so ±4), std 0.05."""
    spacing, std = scale or 2.0, std or 0.05
    ticks = torch.arange(-2, 3, dtype=torch.float32) * spacing
    centers = torch.cartesian_prod(ticks, ticks)
    return _toy(centers, std, 2 * spacing + 4 * std, seed)


def swissroll(scale: float = 0.0, std: float = 0.0, seed: int = 0) -> ToySource:
    """The 2-D swiss roll of the WGAN-GP toys: t in [1.5π, 4.5π], (t cos t, t sin t) / 7.5 × scale."""
    size, std = scale or 1.0, std or 0.05

    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=gen))
        pts = torch.stack([t * t.cos(), t * t.sin()], 1) * (size / 7.5)
        return pts + std * torch.randn(n, 2, generator=gen)

    info = DataInfo(kind="points", shape=(2,), point_scale=4.5 * math.pi / 7.5 * size + 4 * std, std=std)
    return ToySource(info, sample, seed)


def _toy(centers: torch.Tensor, std: float, extent: float, seed: int) -> ToySource:
    info = DataInfo(kind="points", shape=(2,), point_scale=extent, centers=centers.tolist(), std=std)
    return ToySource(info, _mixture(centers, std), seed)


def points_file(path, std: float = 0.0, seed: int = 0) -> ToySource:
    """Your own 2-D points: a CSV of x,y rows (an optional header line), resampled with
    replacement, each draw moved by N(0, std²) (default 1% of the points' extent) so the data
    has a density rather than a finite set of atoms. No mode centres: toy scores do not apply."""
    pts = read_points_csv(path)
    extent = float(pts.abs().max()) or 1.0
    std = std or 0.01 * extent

    def sample(n: int, gen: torch.Generator) -> torch.Tensor:
        return pts[torch.randint(len(pts), (n,), generator=gen)] + std * torch.randn(n, 2, generator=gen)

    return ToySource(DataInfo(kind="points", shape=(2,), point_scale=extent + 4 * std, std=std), sample, seed)


MAX_POINTS = 100_000


def read_points_csv(path) -> torch.Tensor:
    """(N, 2) float32 from a CSV of x,y rows; a clear DataError for anything else."""
    from pathlib import Path

    p = Path(path or "")
    if not path or not p.is_file():
        raise DataError(f"data.root = {path!r}: name a CSV file of x,y rows (data.name = points)")
    rows, header = [], False
    for i, line in enumerate(p.read_text(errors="replace").splitlines(), 1):
        cells = [c.strip() for c in line.split(",")]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            if len(cells) != 2:
                raise ValueError
            x, y = float(cells[0]), float(cells[1])
        except ValueError:
            if not rows and not header:
                header = True  # one header line before the data
                continue
            raise DataError(f"{p}, line {i}: expected two numbers x,y, got {line[:60]!r}") from None
        if not (math.isfinite(x) and math.isfinite(y)):
            raise DataError(f"{p}, line {i}: x and y must be finite, got {line[:60]!r}")
        rows.append((x, y))
    if len(rows) < 2 or len(rows) > MAX_POINTS:
        raise DataError(f"{p}: holds {len(rows)} points; expected 2 to {MAX_POINTS:,} x,y rows")
    return torch.tensor(rows, dtype=torch.float32)


TOYS = {"ring8": ring8, "grid25": grid25, "swissroll": swissroll}
