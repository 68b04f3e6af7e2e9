"""Classes at a fixed latent vector: every class in turn (a sweep), or the class embedding moved
from one class's to another's (a class interpolation).
"""
from __future__ import annotations

from pathlib import Path

import torch

from .. import viz
from ..errors import ConfigError
from .files import as_cells, cell_index, save_latents
from .inputs import check_nz, class_index, class_names, require_images
from .walks import lerp


def class_embedding(g) -> torch.nn.Embedding:
    """The one nn.Embedding through which G takes its class label."""
    if not g.conditional:
        raise ConfigError("class interpolation and sweeps need a conditional generator (model.conditional concat, "
                          "projection or acgan); this one is unconditional")
    found = [m for m in g.net.modules() if isinstance(m, torch.nn.Embedding)]
    if len(found) != 1:
        raise ConfigError(f"class interpolation needs a generator that takes its label through one class embedding "
                          f"(an nn.Embedding); model.family {g.cfg.model.family} with model.conditional "
                          f"{g.cfg.model.conditional} has {len(found)}")
    return found[0]


@torch.no_grad()
def generate_with_embeddings(g, z: torch.Tensor, e: torch.Tensor) -> torch.Tensor:
    """G(z) with the class embedding's output replaced by ``e`` (N, dim): the label enters G
    only through that embedding, so interpolated embeddings give classes "in between"."""
    emb = class_embedding(g)
    if e.shape != (len(z), emb.embedding_dim):
        raise ValueError(f"embeddings must have shape ({len(z)}, {emb.embedding_dim}), got {tuple(e.shape)}")
    handle = emb.register_forward_hook(lambda m, inp, out: e.to(out.device, out.dtype))
    try:  # one batch, so the hook's rows line up with z's
        return g(z, torch.zeros(len(z), dtype=torch.long), batch_size=max(1, len(z)))
    finally:
        handle.remove()


@torch.no_grad()
def write_class_sweep(g, path: str | Path, z: torch.Tensor, row_names: list[str]) -> dict:
    """One row per latent vector, one column per class: the class changes, z stays."""
    require_images(g, "sweep")
    class_embedding(g)  # a clear error for unconditional G
    check_nz(g, z, "sweep")
    names = class_names(g)
    k = len(names)
    zz = z.repeat_interleave(k, 0)
    y = torch.arange(k).repeat(len(z))
    x = viz.to_uint8(g(zz, y))
    fig = viz.tile_figure(as_cells(x, len(z), k), path, col_labels=names, row_labels=row_names,
                          xlabel="class", title="each row: one fixed z, every class")
    fig["latents"] = save_latents(path, zz, y, cell=cell_index(len(z), k))
    fig.update(z=zz, y=y, images=x)
    return fig


@torch.no_grad()
def write_class_interpolation(g, path: str | Path, z: torch.Tensor, row_names: list[str], start, end, steps: int = 8) -> dict:
    """At each fixed z (one row each), the class embedding goes linearly from class ``start``'s
    to class ``end``'s in ``steps`` steps. Needs a G that takes its label through one
    nn.Embedding (model.conditional concat, projection or acgan); the end columns are exactly
    G(z, start) and G(z, end)."""
    require_images(g, "sweep")
    emb = class_embedding(g)
    check_nz(g, z, "sweep")
    k0, k1 = class_index(g, start), class_index(g, end)
    if steps < 2:
        raise ConfigError(f"--steps {steps}: must be >= 2")
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    e0, e1 = emb(torch.tensor([k0, k1], device=emb.weight.device)).cpu().float()
    e = lerp(e0, e1, t)  # (steps, dim)
    zz, ee = z.repeat_interleave(steps, 0), e.repeat(len(z), 1)
    x = viz.to_uint8(generate_with_embeddings(g, zz, ee))
    names = class_names(g)
    cols = [names[k0]] + [f"{v:.2f}" for v in t[1:-1].tolist()] + [names[k1]]
    fig = viz.tile_figure(as_cells(x, len(z), steps), path, col_labels=cols, row_labels=row_names,
                          xlabel=f"class embedding: (1 − t)·e[{names[k0]}] + t·e[{names[k1]}]",
                          title="each row: one fixed z; the class moves between two classes")
    fig["latents"] = save_latents(path, zz, None, cell=cell_index(len(z), steps), embedding=ee, t=t.repeat(len(z)),
                                  y_from=k0, y_to=k1)
    fig.update(z=zz, e=ee, images=x)
    return fig
