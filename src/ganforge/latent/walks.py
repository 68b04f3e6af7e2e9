"""Walks between latent points: lerp and slerp, interpolation strips and their GIF, and the
truncation trick's latents.
"""
from __future__ import annotations

import math
from pathlib import Path

import torch

from .. import viz
from ..errors import ConfigError
from .files import cell_index, save_latents
from .inputs import check_nz, class_index, require_images


def lerp(a: torch.Tensor, b: torch.Tensor, t) -> torch.Tensor:
    """(1 − t)·a + t·b. ``t`` a float → (nz,); a sequence of T values → (T, nz).

    Written as (1 − t)·a + t·b rather than a + t·(b − a), so both endpoints are exact.
    """
    t64, scalar = _ts(t)
    a64, b64 = a.double(), b.double()
    out = (1 - t64)[:, None] * a64 + t64[:, None] * b64
    return _out(out, a, scalar)


def slerp(a: torch.Tensor, b: torch.Tensor, t, eps: float = 1e-6) -> torch.Tensor:
    """Spherical interpolation (Shoemake 1985), as Tom White proposes for GAN latents
    ("Sampling Generative Networks", 2016):

        slerp(a, b, t) = sin((1 − t)ω)/sin ω · a + sin(tω)/sin ω · b,   cos ω = â·b̂.

    Gaussian latents in high dimension live near a sphere of radius √nz; a straight line
    between two of them cuts through the low-density interior (its midpoint has norm ≈ √nz/√2),
    this arc does not. For |a| = |b| it is the great circle at constant angular speed. Both
    endpoints are exact (sin(1·ω)/sin ω = 1 and sin 0 = 0 in floating point). Where sin ω < eps
    (near-parallel or near-opposite vectors, or a zero vector) the arc is undefined or not
    unique, and this falls back to lerp, as White's code does. Computed in float64.
    """
    t64, scalar = _ts(t)
    a64, b64 = a.double(), b.double()
    na, nb = a64.norm(), b64.norm()
    if na == 0 or nb == 0:
        return lerp(a, b, t)
    omega = torch.arccos(torch.clamp((a64 / na) @ (b64 / nb), -1.0, 1.0))
    so = torch.sin(omega)
    if so < eps:
        return lerp(a, b, t)
    out = (torch.sin((1 - t64) * omega) / so)[:, None] * a64 + (torch.sin(t64 * omega) / so)[:, None] * b64
    return _out(out, a, scalar)


METHODS = {"slerp": slerp, "lerp": lerp}


def interpolate(a: torch.Tensor, b: torch.Tensor, steps: int, method: str = "slerp") -> torch.Tensor:
    """``steps`` latent vectors from a to b inclusive, t = 0, 1/(steps−1), ..., 1 → (steps, nz)."""
    if method not in METHODS:
        raise ConfigError(f"--method {method}: must be one of {', '.join(METHODS)}")
    if steps < 2:
        raise ConfigError(f"--steps {steps}: must be >= 2 (both endpoints are drawn)")
    return METHODS[method](a, b, torch.linspace(0, 1, steps, dtype=torch.float64))


def truncated_latents(n: int, nz: int, psi: float, seed: int | None = None) -> torch.Tensor:
    """(n, nz) standard normal latents with every coordinate in [−psi, psi]: the truncation
    trick (Brock et al. 2019, BigGAN, sec. 3.1): coordinates with |z| > psi are redrawn until
    all are inside. Smaller psi trades variety for fidelity.

    Drawn with ``torch.Generator().manual_seed(seed)`` like ``Generator.latents(n, seed)``:
    the first draw is the same, so rows with no coordinate beyond psi equal the untruncated
    latents. After 1,000 rounds (only for psi ≲ 0.01) the few coordinates still outside are
    drawn from the same truncated normal directly, by its inverse CDF.
    """
    if not psi > 0 or not math.isfinite(psi):
        raise ConfigError(f"--truncation {psi}: must be a number > 0 (coordinates with |z| > psi are "
                          "resampled; 0.5 to 1 is typical, large values change nothing)")
    gen = torch.Generator().manual_seed(seed) if seed is not None else None
    z = torch.randn(n, nz, generator=gen)
    for _ in range(1000):
        bad = z.abs() > psi
        k = int(bad.sum())
        if k == 0:
            return z
        z[bad] = torch.randn(k, generator=gen)
    bad = z.abs() > psi
    lo = torch.special.ndtr(torch.tensor(-psi, dtype=torch.float64))
    u = torch.rand(int(bad.sum()), generator=gen, dtype=torch.float64)
    z[bad] = torch.special.ndtri(lo + u * (1 - 2 * lo)).clamp(-psi, psi).float()
    return z


@torch.no_grad()
def write_interpolations(g, pairs: list[tuple[torch.Tensor, torch.Tensor]], stem: str | Path, names: list[str],
                         steps: int = 10, method: str = "slerp", labels: list[int] | None = None,
                         ms_per_frame: int = 100, video: str = "gif") -> list[Path]:
    """One strip PNG per pair, ``<stem>-<name>.png`` (with its latents), and ``<stem>.gif``
    (``video="mp4"``: ``<stem>.mp4``) animating every pair at once, there and back (ping-pong).
    ``labels``: one class per pair for a conditional G (fixed along the strip)."""
    require_images(g, "interpolate")
    stem = Path(stem)
    zs = torch.stack([interpolate(a, b, steps, method) for a, b in pairs])  # (P, S, nz)
    check_nz(g, zs, "interpolate")
    P, S = zs.shape[:2]
    y = None
    if g.conditional:
        y = torch.as_tensor([class_index(g, l) for l in (labels or [0] * P)], dtype=torch.long).repeat_interleave(S)
    x = g(zs.reshape(P * S, -1), y).view(P, S, *g.info.shape)
    tiles = viz.to_uint8(x.flatten(0, 1)).reshape(P, S, *x.shape[3:], x.shape[2])
    t = torch.linspace(0, 1, S, dtype=torch.float64)
    written = []
    for p in range(P):
        path = stem.with_name(f"{stem.name}-{names[p]}.png")
        viz.save_image(viz.grid(tiles[p], nrow=S), path, viz.tile_scale(tiles.shape[2]))
        save_latents(path, zs[p], None if y is None else y[p * S:(p + 1) * S], cell=cell_index(1, S), t=t, method=method)
        written.append(path)
    frames = [viz.grid(tiles[:, s], nrow=P) for s in list(range(S)) + list(range(S - 2, 0, -1))]
    durations = [ms_per_frame * (5 if i in (0, S - 1) else 1) for i in range(len(frames))]
    anim = viz.save_animation(frames, stem.with_name(stem.name + ".gif"), durations, viz.tile_scale(tiles.shape[2]), video)
    save_latents(anim, zs.reshape(P * S, -1), y, cell=cell_index(P, S), t=t, method=method)
    return written + [anim]


def _ts(t) -> tuple[torch.Tensor, bool]:
    t64 = torch.as_tensor(t, dtype=torch.float64)
    return t64.reshape(-1), t64.ndim == 0


def _out(out: torch.Tensor, like: torch.Tensor, scalar: bool) -> torch.Tensor:
    out = out.to(like.dtype)
    return out[0] if scalar else out
