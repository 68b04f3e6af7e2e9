"""Projection (GAN inversion): the latent vector, and for a conditional generator the class,
whose image is closest to a given image.

An optimization of z against a distance (latent/distance.py), as the StyleGAN projectors do
(Karras et al. 2020, sec. 5), in z rather than a style space: Adam on z with a learning rate
that ramps up over the first 5% of the steps and down (cosine) over the last 25%, from several
random starts. Every start (and, for a conditional G, every start under every candidate class)
is a candidate; all run together as one batch for the first quarter of the steps, then only the
best candidate of each image goes on (successive halving in one cut: a poor basin or a wrong
class shows early). A small prior keeps |z| near √nz, the shell where G's training latents
lie, so that edits from the projected point behave as they do from a sample.
"""
from __future__ import annotations

import math
import time

import numpy as np
import torch

from .. import viz
from ..errors import ConfigError
from .distance import DEFAULT, Distance
from .distance import build as build_distance
from .inputs import class_index, class_names

PRIOR = 0.05  # weight of (|z|/√nz − 1)²: small against a poor match, decisive between equal ones


def lr_at(t: float, lr: float) -> float:
    """The learning rate at progress t ∈ [0, 1): ramp-up over 5%, cosine ramp-down over the last 25%."""
    down = min(1.0, (1.0 - t) / 0.25)
    return lr * (0.5 - 0.5 * math.cos(math.pi * down)) * min(1.0, t / 0.05 if t > 0 else 0.05)


def project(g, targets: torch.Tensor, distance: str | Distance = DEFAULT, steps: int = 200, starts: int = 8,
            lr: float = 0.1, seed: int = 0, classes=None, record_every: int = 0, prior: float = PRIOR) -> dict:
    """Project ``targets`` (N, C, H, W) in [-1, 1] (fitted to g: latent/targets.py).

    Returns {"z" (N, nz), "y" (N,) or None, "images" (N, C, H, W) G(z, y), "distance" (N,) the
    minimized distance, "rms" (N,) the RMS pixel difference in [0, 1] (0 = identical, 1 = black
    vs white everywhere), "frames" [uint8 (N, H, W, C) of each image's best candidate every
    ``record_every`` steps], "seconds"}. Reproducible from ``seed``."""
    if steps < 1 or starts < 1:
        raise ConfigError(f"--steps {steps} and --starts {starts}: both must be >= 1")
    dist = distance if isinstance(distance, Distance) else build_distance(g, distance)
    ks = candidate_classes(g, classes)
    n, dev = len(targets), g.device
    per = starts * (len(ks) if ks else 1)  # candidates per image
    gen = torch.Generator().manual_seed(seed)
    z = torch.randn(n * per, g.nz, generator=gen).to(dev)
    y = torch.tensor(ks, dtype=torch.long).repeat(starts).repeat(n).to(dev) if ks else None
    t = targets.to(dev).repeat_interleave(per, 0)
    first = steps // 4 if per > 1 else 0
    started, frames = time.perf_counter(), []
    z, loss = _descend(g, dist, z, y, t, range(first), steps, lr, prior, frames, record_every, per)
    if per > 1:  # keep each image's best candidate
        best = loss.view(n, per).argmin(1) + torch.arange(n, device=dev) * per
        z, y, t = z[best], None if y is None else y[best], t[best]
    z, loss = _descend(g, dist, z, y, t, range(first, steps), steps, lr, prior, frames, record_every, 1)
    x = g(z, y)
    rms = ((x - targets.cpu()) / 2).pow(2).flatten(1).mean(1).sqrt()
    if record_every:
        frames.append(viz.to_uint8(x))
    return {"z": z.detach().cpu(), "y": None if y is None else y.cpu(), "images": x, "distance": loss.cpu(),
            "rms": rms, "frames": frames, "seconds": time.perf_counter() - started}


def _descend(g, dist, z, y, t, steps: range, total: int, lr: float, prior: float, frames: list, record_every: int,
             per: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Adam on z over ``steps`` (of ``total``); returns (z, the distance of each row at the end)."""
    z = z.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr, betas=(0.9, 0.999))
    prepared = dist.prepare(t, y)
    root = math.sqrt(z.shape[1])
    for s in steps:
        for group in opt.param_groups:
            group["lr"] = lr_at(s / total, lr)
        d = dist(g.net(z, y), y, prepared)
        loss = d + prior * (z.norm(dim=1) / root - 1).pow(2)
        (grad,) = torch.autograd.grad(loss.sum(), z)  # only z's gradient: G's weights stay untouched
        z.grad = grad
        opt.step()
        if record_every and s % record_every == 0:
            frames.append(_best_images(g, z.detach(), y, d.detach(), per))
    with torch.no_grad():
        d = dist(g.net(z, y), y, prepared)
    return z.detach(), d


@torch.no_grad()
def _best_images(g, z, y, d, per: int) -> np.ndarray:
    best = d.view(-1, per).argmin(1) + torch.arange(len(d) // per, device=d.device) * per
    return viz.to_uint8(g(z[best], None if y is None else y[best]))


def candidate_classes(g, classes) -> list[int] | None:
    """The classes a conditional G's projection tries: all, or those named; None if unconditional."""
    if not g.conditional:
        if classes not in (None, "all"):
            raise ConfigError("--class: this generator is unconditional (it takes no class)")
        return None
    if classes in (None, "all"):
        return list(range(len(class_names(g))))
    items = classes.split(",") if isinstance(classes, str) else list(classes)
    return [class_index(g, c.strip() if isinstance(c, str) else c) for c in items]


COLUMNS = 8  # images per row pair (target above its projection) in projection.png and the video


def write_projection(g, targets: torch.Tensor, names: list[str], out, video: str = "gif", record_every: int = 5,
                     **kw) -> dict:
    """Project ``targets`` and write DIR = ``out``:

    latents.npz          ``z`` (N, nz) and, for conditional G, ``y`` (N,): row i is image i, the
                         format every latent command reads (``--from-latents DIR``); also
                         ``distance``, ``rms`` and ``names``
    reconstructions.npz  ``images`` uint8 (N, H, W, C) = G(z, y), and ``targets`` (the fitted images)
    projection.png       each target above its projection, with the names and RMS differences
    distances.json       per image: name, class, rms, distance; and how it was measured
    progress.gif|mp4     the optimization: targets above each one's best candidate so far
    """
    import json
    from pathlib import Path

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    r = project(g, targets, record_every=record_every, **kw)
    names = [str(n) for n in names]
    arrays = {"z": r["z"].numpy().astype(np.float32), "distance": r["distance"].numpy(), "rms": r["rms"].numpy(),
              "names": np.array(names)}
    if r["y"] is not None:
        arrays["y"] = r["y"].numpy().astype(np.int64)
    np.savez(out / "latents.npz", **arrays)
    recon, tgt = viz.to_uint8(r["images"]), viz.to_uint8(targets)
    np.savez(out / "reconstructions.npz", images=recon, targets=tgt)
    cls = class_names(g) if g.conditional else None
    rows = [{"name": n, "rms": float(r["rms"][i]), "distance": float(r["distance"][i]),
             **({"class": cls[int(r["y"][i])]} if cls else {})} for i, n in enumerate(names)]
    dist_name = kw.get("distance", DEFAULT)
    summary = {"distance": getattr(dist_name, "name", dist_name), "steps": kw.get("steps", 200),
               "starts": kw.get("starts", 8), "seed": kw.get("seed", 0), "seconds": r["seconds"],
               "seconds_per_image": r["seconds"] / len(targets), "mean_rms": float(r["rms"].mean()),
               "rms_meaning": "root-mean-square pixel difference in [0, 1]: 0 identical, 1 black vs white", "images": rows}
    (out / "distances.json").write_text(json.dumps(summary, indent=2) + "\n")
    fig = _pairs_figure(tgt, recon, names, r["rms"], out / "projection.png", cls, r["y"])
    frames = [_pairs_canvas(tgt, f) for f in r["frames"]]
    durations = [80] * (len(frames) - 1) + [1500]
    anim = viz.save_animation(frames, out / "progress", durations, viz.tile_scale(tgt.shape[1]), video=video)
    r.update(dir=out, latents=out / "latents.npz", reconstructions=out / "reconstructions.npz", figure=fig["path"],
             json=out / "distances.json", animation=anim, summary=summary)
    return r


def _pairs_canvas(tgt: np.ndarray, rec: np.ndarray) -> np.ndarray:
    """Row pairs: up to COLUMNS targets, their projections below; then the next COLUMNS."""
    tiles = []
    for i in range(0, len(tgt), COLUMNS):
        pad = [np.zeros_like(tgt[0])] * (COLUMNS - len(tgt[i:i + COLUMNS])) if len(tgt) > COLUMNS else []
        tiles += [*tgt[i:i + COLUMNS], *pad, *rec[i:i + COLUMNS], *pad]
    return viz.grid(np.stack(tiles), nrow=min(COLUMNS, len(tgt)))


def _pairs_figure(tgt, rec, names, rms, path, cls, y) -> dict:
    cols = min(COLUMNS, len(tgt))
    cells, row_labels = [], []
    for i in range(0, len(tgt), cols):
        cells += [list(tgt[i:i + cols]), list(rec[i:i + cols])]
        row_labels += ["target", "projection"]
    labels = [f"{float(d):.3f}" + (f" ({cls[int(y[i])]})" if cls else "") for i, d in enumerate(rms)]
    col_labels = labels if len(tgt) <= cols else [str(c) for c in range(cols)]
    return viz.tile_figure(cells, path, row_labels=row_labels, col_labels=col_labels,
                           title="each target above its projection" + (", RMS pixel difference in [0, 1] (class)" if cls else
                                                                      ", RMS pixel difference in [0, 1]")
                           + ("" if len(tgt) <= cols else "\nimages in order, row pair by row pair (distances.json names them)"))
