"""Latent files: where a picture's latent vectors are kept, and which cell of the picture each one is.

Every picture ganforge writes has its latent vectors saved beside it as ``<picture>.latents.npz``
(``save_latents``): ``z`` (N, nz) float32 and, for conditional models, ``y`` (N,) int64, in the
order of the tiles (row-major), plus ``cell`` (N, 2): each vector's (row, column) in the picture.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .. import runs
from ..errors import ConfigError

LATENTS_SUFFIX = ".latents.npz"
PROJECTED = "latents.npz"  # what `ganforge project` writes in its folder: z (and y), one row per image


def latents_path(picture: str | Path) -> Path:
    """``X.png`` (or ``X.gif``, ``X.mp4``, or a stem ``X``) → ``X.latents.npz`` beside it."""
    p = Path(picture)
    if str(p).endswith(LATENTS_SUFFIX):
        return p
    stem = p.name[: -len(p.suffix)] if p.suffix in (".png", ".gif", ".mp4", ".npz", ".json") else p.name
    return p.with_name(stem + LATENTS_SUFFIX)


def save_latents(picture: str | Path, z: torch.Tensor, y: torch.Tensor | None = None, **extra) -> Path:
    """Write ``z`` (and ``y``) beside ``picture`` as ``<picture>.latents.npz``; returns its path."""
    path = latents_path(picture)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {"z": _np(z).astype(np.float32)}
    if y is not None:
        arrays["y"] = _np(y).astype(np.int64)
    arrays.update({k: (_np(v) if isinstance(v, torch.Tensor) else np.asarray(v)) for k, v in extra.items() if v is not None})
    np.savez(path, **arrays)
    return path


def load_latents(path: str | Path) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(z, y or None) from a latents file (or from the picture it belongs to)."""
    p = Path(path)
    if p.is_dir() and (p / PROJECTED).is_file():  # `ganforge project --out DIR`'s folder
        p = p / PROJECTED
    elif p.suffix != ".npz":  # a picture: its latents file beside it
        p = latents_path(p)
    if not p.is_file():
        raise ConfigError(f"--latents {path}: no such file (a training run keeps RUN/samples/latents.npz; "
                          f"every picture ganforge writes has X.latents.npz beside X.png; `ganforge project` "
                          f"writes DIR/latents.npz)")
    try:
        with np.load(p) as f:
            if "z" not in f:
                raise ConfigError(f"--latents {p}: holds no array 'z' (found {', '.join(f.files) or 'nothing'})")
            z = torch.from_numpy(np.asarray(f["z"], np.float32))
            y = torch.from_numpy(np.asarray(f["y"], np.int64)) if "y" in f else None
    except (OSError, ValueError) as e:
        raise ConfigError(f"--latents {p}: not a readable .npz file ({e})") from None
    if z.ndim != 2:
        raise ConfigError(f"--latents {p}: 'z' must have shape (N, nz), got {tuple(z.shape)}")
    return z, y


def run_dir(source: str | Path) -> Path:
    """The run directory of a run directory or of a checkpoint file (RUN/checkpoints/step-*.pt)."""
    return runs.run_of(source)


def default_latents(source: str | Path) -> Path:
    """The training snapshots' fixed noise of the run that ``source`` belongs to."""
    return runs.Run(run_dir(source)).latents


def rows(z: torch.Tensor, y: torch.Tensor | None, index: list[int], option: str) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Rows ``index`` of a latents file, checked: an index out of range names the option."""
    bad = [i for i in index if not 0 <= i < len(z)]
    if bad:
        raise ConfigError(f"{option} {','.join(map(str, bad))}: the latents file has {len(z)} rows (valid 0..{len(z) - 1})")
    idx = torch.as_tensor(index, dtype=torch.long)
    return z[idx], None if y is None else y[idx]


def cell_index(rows: int, cols: int) -> torch.Tensor:
    return torch.stack(torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij"), -1).reshape(-1, 2)


def as_cells(tiles: np.ndarray, rows: int, cols: int) -> list[list[np.ndarray | None]]:
    it = iter(tiles)
    return [[next(it, None) for _ in range(cols)] for _ in range(rows)]


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
