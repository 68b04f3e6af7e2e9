"""Repeated patterns in generated images, from their frequency spectra against real images':
the health monitor's ``lattice`` condition (a checkerboard, a tiled blob, one texture everywhere)."""
from __future__ import annotations

import math

import torch


def _power(x: torch.Tensor) -> torch.Tensor:
    """Each image's power spectrum (N, H, W) of its grey levels, mean removed."""
    g = x.detach().float().cpu().mean(1)
    return torch.fft.fft2(g - g.mean((1, 2), keepdim=True)).abs().pow(2)


def texture(fake: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """Two looks at repeated patterns: ``lattice``, the largest spike (log ratio to its 8
    neighbours' median) in the samples' mean spectrum over the real images' (a checkerboard or
    a tiled blob puts power at a few frequencies, natural images spread it smoothly); and
    ``texture_spread``, how much the samples' spectra (banded by radius and orientation, each
    image's own level removed) vary across samples, as a fraction of the real images' variation."""
    pf, pr = _power(fake), _power(real)
    diff = (pf.mean(0) + 1e-8).log() - (pr.mean(0) + 1e-8).log()
    around = torch.stack([diff.roll((dy, dx), (0, 1)) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx])
    peak = diff - around.median(0).values
    h, w = peak.shape
    fy, fx = torch.fft.fftfreq(h).abs()[:, None], torch.fft.fftfreq(w).abs()[None, :]
    peak = peak.masked_fill((fy < 1.5 / h) & (fx < 1.5 / w), 0.0)  # the mean and its neighbours carry no texture
    bands = _bands(h, w)
    sf, sr = ((p.flatten(1) @ bands + 1e-8).log() for p in (pf, pr))
    sf, sr = sf - sf.mean(1, keepdim=True), sr - sr.mean(1, keepdim=True)
    return {"lattice": float(peak.flatten().topk(2).values.mean()),
            "texture_spread": float(sf.std(0).mean() / sr.std(0).mean().clamp_min(1e-8))}


def _bands(h: int, w: int, rings: int = 6, angles: int = 4) -> torch.Tensor:
    """(H·W, rings·angles) averaging matrix: each frequency's ring (log-spaced) and orientation."""
    fy, fx = torch.meshgrid(torch.fft.fftfreq(h), torch.fft.fftfreq(w), indexing="ij")
    r = (fy**2 + fx**2).sqrt()
    ring = ((r * 2 * min(h, w)).clamp_min(1).log2() / math.log2(min(h, w)) * rings).long().clamp(0, rings - 1)
    angle = (((torch.atan2(fy, fx) % math.pi) / math.pi * angles).long()).clamp(0, angles - 1)
    m = torch.nn.functional.one_hot((ring * angles + angle).flatten(), rings * angles).float()
    m[0] = 0  # the mean
    return m / m.sum(0).clamp_min(1)
