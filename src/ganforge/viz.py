"""Pictures of a run: image grids, toy scatter plots, loss plots and the timelapse GIF.

Pillow writes grids and GIFs (no torchvision needed); matplotlib (Agg) draws plots.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Images in [-1, 1], (N, C, H, W) → uint8 (N, H, W, C)."""
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid(images: np.ndarray, nrow: int | None = None, pad: int = 2) -> np.ndarray:
    """uint8 (N, H, W, C) → one uint8 (H', W', C) image, row-major, ``nrow`` images per row."""
    n, h, w, c = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = np.zeros((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), np.uint8)
    for i, im in enumerate(images):
        r, col = divmod(i, nrow)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = im
    return out


def save_image(array: np.ndarray, path: Path, scale: int = 1) -> None:
    """uint8 (H, W, C) → PNG, enlarged ``scale`` times (nearest neighbour)."""
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def save_grid(x: torch.Tensor, path: Path, nrow: int | None = None, min_tile: int = 64) -> None:
    """A grid PNG; tiles smaller than ``min_tile`` pixels are enlarged so digits stay legible."""
    save_image(grid(to_uint8(x), nrow), path, scale=max(1, min_tile // x.shape[-1]))


def scatter(fake: np.ndarray, real: np.ndarray | None, path: Path, centers=None, title: str = "", lim: float | None = None) -> None:
    """Generated points over real ones, with the toy's mode centres marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", alpha=0.3, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:orange", alpha=0.6, label="generated")
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", c="k", label="mode centres")
    if lim:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=6, markerscale=3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def save_gif(frames: list[Path], path: Path, ms_per_frame: int = 250) -> None:
    """The timelapse: one frame per snapshot, the last held longer."""
    images = [Image.open(p).convert("RGB") for p in frames]
    if not images:
        return
    size = images[-1].size
    images = [im.resize(size) if im.size != size else im for im in images]
    durations = [ms_per_frame] * (len(images) - 1) + [1500]
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0)


def plot_losses(rows: list[dict], path: Path) -> None:
    """Two panels: the losses, and D's readouts on real and generated data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if "loss_d" in r]
    if not rows:
        return
    steps = [r["step"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=90)
    for key, label in [("loss_d", "D loss"), ("loss_g", "G loss")]:
        a.plot(steps, [r[key] for r in rows], label=label)
    a.set_xlabel("step")
    a.set_title("losses")
    a.legend()
    for key, label in [("d_real", "D(x)"), ("d_fake", "D(G(z))")]:
        if key in rows[0]:
            b.plot(steps, [r[key] for r in rows], label=label)
    b.set_xlabel("step")
    b.set_title("discriminator outputs")
    b.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
