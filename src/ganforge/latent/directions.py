"""Directions that mean something: ordered, orthonormal directions in the latent space.

- ``pca`` (GANSpace, Härkönen et al. 2020): the principal components of G's first layer's
  outputs over many samples, mapped back to z by least squares (z regressed on the PCA
  coordinates: direction i is the change of z that moves the activations along component i),
  then orthonormalized in order (QR). Ordered by the share of the activations' variance
  their component explains.
- ``sefa`` (Shen & Zhou 2021, closed-form factorization): the eigenvectors of AᵀA, A the
  weight of G's first layer restricted to z's inputs (a Linear's (out, in) weight; a transposed
  convolution's (in, out, k, k) weight reshaped to (in, out·k·k) and transposed). Directions
  that change the first layer's output most come first; its eigenvalues' shares are the
  explained variance. No samples are needed.

The first layer is the first Linear or (transposed) convolution G calls on z: found by running
G once, so every family (and a stack's stage 1) works without a list of layer names. A layer
that sees fewer inputs than nz (a stack: stage 1 sees only its part of z) gives directions
that are zero on the rest. Signs are fixed (the largest coordinate positive), so a seed
reproduces the file exactly.

``directions.npz``: ``directions`` (K, nz) float32 (row k = direction k, unit length, rows
orthonormal), ``explained_variance`` (K,) float64 (shares, descending), ``method``, ``seed``,
``samples``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from .. import viz
from ..errors import ConfigError
from .files import as_cells, cell_index, save_latents
from .inputs import fixed_labels, require_images

METHODS = ("pca", "sefa")
DIRECTIONS_FILE = "directions.npz"


@torch.no_grad()
def first_layer(g) -> tuple[nn.Module, torch.Tensor]:
    """(G's first Linear / Conv / ConvTranspose layer on z, its output on 2 samples)."""
    calls: list = []
    hooks = [m.register_forward_hook(lambda mod, i, o: calls.append((mod, o)))
             for m in g.net.modules() if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d))]
    try:
        g.net(g.latents(2, 0).to(g.device), g.labels_for(2, 0) if g.conditional else None)
    finally:
        for h in hooks:
            h.remove()
    if not calls:
        raise ConfigError(f"directions: model.family {g.cfg.model.family} has no Linear or convolution layer on z")
    return calls[0]


def sefa(g) -> dict:
    layer, _ = first_layer(g)
    w = layer.weight.detach().double().cpu()
    if isinstance(layer, nn.ConvTranspose2d):  # (in, out, k, k): one row per output unit
        a = w.reshape(w.shape[0], -1).T
    elif isinstance(layer, nn.Conv2d):  # (out, in, k, k)
        a = w.permute(0, 2, 3, 1).reshape(-1, w.shape[1])
    else:  # Linear (out, in)
        a = w
    cols = min(a.shape[1], g.nz)
    vals, vecs = torch.linalg.eigh(a[:, :cols].T @ a[:, :cols])
    vals, vecs = vals.flip(0).clamp_min(0), vecs.flip(1).T  # descending; rows are directions
    return _result(_pad(vecs, g.nz), vals / vals.sum(), "sefa", None, 0)


@torch.no_grad()
def ganspace(g, n: int = 2000, seed: int = 0, label=0) -> dict:
    if n < 2:
        raise ConfigError(f"--samples {n}: must be >= 2")
    z = g.latents(n, seed)
    y = fixed_labels(g, n, label)
    outs = []
    layer, _ = first_layer(g)
    hook = layer.register_forward_hook(lambda mod, i, o: outs.append(o.detach().double().flatten(1).cpu()))
    try:
        g(z, y)
    finally:
        hook.remove()
    x = torch.cat(outs)
    x = x - x.mean(0)
    _, s, vt = torch.linalg.svd(x, full_matrices=False)
    k = int(min(g.nz, n - 1, (s > s[0] * 1e-9).sum()))
    coords = x @ vt[:k].T  # (n, k): the PCA coordinates
    zc = z.double() - z.double().mean(0)
    b = torch.linalg.lstsq(coords, zc).solution  # (k, nz): z ≈ coords @ b
    q, _ = torch.linalg.qr(b.T)  # (nz, k): Gram-Schmidt in order
    q = q * torch.sign((q * b.T).sum(0)).clamp_min(0).mul(2).sub(1)  # each keeps its regression's sense
    var = s.pow(2)
    return _result(q.T, var[:k] / var.sum(), "pca", seed, n)


def find(g, method: str, samples: int = 2000, seed: int = 0, label=0) -> dict:
    if method not in METHODS:
        raise ConfigError(f"--method {method}: must be one of {', '.join(METHODS)}")
    return sefa(g) if method == "sefa" else ganspace(g, samples, seed, label)


def _pad(d: torch.Tensor, nz: int) -> torch.Tensor:
    return d if d.shape[1] == nz else torch.cat([d, d.new_zeros(len(d), nz - d.shape[1])], 1)


def _result(d: torch.Tensor, explained: torch.Tensor, method: str, seed, samples: int) -> dict:
    big = d.abs().argmax(1)
    d = d * torch.sign(d[torch.arange(len(d)), big])[:, None]  # the largest coordinate positive
    return {"directions": d.float(), "explained_variance": explained.double(), "method": method,
            "seed": -1 if seed is None else seed, "samples": samples}


def save(result: dict, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, directions=result["directions"].numpy(), explained_variance=result["explained_variance"].numpy(),
             method=result["method"], seed=result["seed"], samples=result["samples"])
    return path


def load(path: str | Path, nz: int | None = None) -> tuple[torch.Tensor, np.ndarray]:
    """(directions (K, nz), explained variance (K,)) from a directions file or the folder holding one."""
    p = Path(path)
    if p.is_dir():
        p = p / DIRECTIONS_FILE
    try:
        with np.load(p) as f:
            d = torch.from_numpy(np.asarray(f["directions"], np.float32))
            ev = np.asarray(f["explained_variance"], np.float64) if "explained_variance" in f else np.full(len(d), np.nan)
    except FileNotFoundError:
        raise ConfigError(f"--directions {path}: no such file (`ganforge directions RUN --out DIR` writes DIR/{DIRECTIONS_FILE})") from None
    except (OSError, ValueError, KeyError) as e:
        raise ConfigError(f"--directions {p}: not a directions file ({e}); expected an .npz with 'directions' (K, nz)") from None
    if d.ndim != 2:
        raise ConfigError(f"--directions {p}: 'directions' must have shape (K, nz), got {tuple(d.shape)}")
    if nz is not None and d.shape[1] != nz:
        raise ConfigError(f"--directions {p}: directions have {d.shape[1]} dimensions, the generator's nz is {nz}")
    return d, ev


def pick(d: torch.Tensor, index: list[int], path) -> list[torch.Tensor]:
    bad = [k for k in index if not 0 <= k < len(d)]
    if bad:
        raise ConfigError(f"--direction {','.join(map(str, bad))}: {path} has {len(d)} directions (valid 0..{len(d) - 1})")
    return [d[k] for k in index]


@torch.no_grad()
def write_strip(g, path: str | Path, bases: torch.Tensor, direction: torch.Tensor, span: float, steps: int,
                labels: torch.Tensor | None, title: str = "", row_names: list[str] | None = None) -> dict:
    """One row per base latent, columns base + a·direction for a = −span .. +span in ``steps``."""
    require_images(g, "directions")
    if steps < 2 or not span > 0:
        raise ConfigError(f"--steps {steps} and --range {span}: steps must be >= 2 and range > 0")
    a = torch.linspace(-span, span, steps, dtype=torch.float64)
    z = (bases.double()[:, None, :] + a[None, :, None] * direction.double()).float().reshape(-1, g.nz)
    y = None if labels is None else labels.repeat_interleave(steps)
    x = viz.to_uint8(g(z, y))
    fig = viz.tile_figure(as_cells(x, len(bases), steps), path, col_labels=[f"{v:+.2g}" for v in a.tolist()],
                          row_labels=row_names, xlabel="offset along the direction", title=title)
    fig["latents"] = save_latents(path, z, y, cell=cell_index(len(bases), steps), offsets=a.repeat(len(bases)))
    fig.update(z=z, y=y, images=x)
    return fig


def write_directions(g, result: dict, out: str | Path, show: int = 8, bases: int = 3, span: float = 3.0,
                     steps: int = 7, seed: int = 0, label=0) -> list[Path]:
    """directions.npz, and for an image generator a strip PNG per direction (the first ``show``):
    ``bases`` latents (g.latents(bases, seed)) walked from −span to +span along it."""
    out = Path(out)
    written = [save(result, out / DIRECTIONS_FILE)]
    if g.info.kind != "image":  # 2-D points: the file alone (plane and latent-grid draw points)
        return written
    z = g.latents(bases, seed)
    y = fixed_labels(g, bases, label)
    for k in range(min(show, len(result["directions"]))):
        share = result["explained_variance"][k] * 100
        fig = write_strip(g, out / f"direction-{k:02d}.png", z, result["directions"][k], span, steps, y,
                          title=f"{result['method']} direction {k}: {share:.1f}% of the variance",
                          row_names=[f"seed {seed} [{i}]" for i in range(bases)])
        written.append(fig["path"])
    return written
