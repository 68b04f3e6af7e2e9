"""Whether two runs map the same latent vector to the same output: the same z through both
generators, side by side, with the mean paired distance against the unpaired baseline.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from .. import viz
from ..errors import ConfigError
from .files import as_cells, cell_index, save_latents


@torch.no_grad()
def pair_distances(g, xa: torch.Tensor, xb: torch.Tensor, features: str = "auto") -> tuple[torch.Tensor, str]:
    """(distances (N, N) of every xa[i] to every xb[j], how they were measured); see ``compare``."""
    exact = lambda fa, fb: torch.cdist(fa, fb, compute_mode="donot_use_mm_for_euclid_dist")
    if g.info.kind != "image":
        return exact(xa.double(), xb.double()), "data coordinates: Euclidean distance"
    from ..metrics import features as feats

    name = feats.auto_name(g.info) if features == "auto" else features
    if name == "pixels":
        fa, fb = ((xa.flatten(1) + 1) / 2).double(), ((xb.flatten(1) + 1) / 2).double()
        return exact(fa, fb) / math.sqrt(fa.shape[1]), "pixels: RMS difference of pixel values in [0, 1]"
    from ..metrics.evaluate import extractor_for, sources

    _, train, _ = sources(g, None, "train")  # the classifier is the one trained on (and cached for) g's dataset
    ex = extractor_for(name, g.info, train)
    fa, fb = (torch.from_numpy(ex.features(x)) for x in (xa, xb))
    return exact(fa, fb), f"{ex.name} features: Euclidean distance"


def compare(g_a, g_b, path: str | Path, n: int = 64, seed: int = 0, names: tuple[str, str] = ("A", "B"),
            features: str = "auto", z: torch.Tensor | None = None, y: torch.Tensor | None = None) -> dict:
    """The same n latent vectors (``g_a.latents(n, seed)``) through two generators.

    Distance of a pair of outputs: for images, the Euclidean distance of their ``features``
    (``ganforge evaluate``'s extractors: auto is the domain classifier for labelled data, as
    there), or with ``features="pixels"`` the root-mean-square difference of pixel values scaled
    to [0, 1] (0 = identical, 1 = black vs white everywhere); for points, the Euclidean distance
    in the data's own coordinates. ``paired`` is the mean distance between
    G_A(z_i) and G_B(z_i); ``unpaired`` the mean over all i ≠ j of G_A(z_i) vs G_B(z_j), the
    baseline of unrelated outputs; ``ratio = paired / unpaired``: ≈ 1 when the two runs map the
    same z to unrelated outputs, near 0 when they map it to the same output. Conditional
    generators get classes in turn (Generator.labels_for). Given ``z`` (and ``y``), e.g. projected
    images' latents, those rows go through both instead (n = len(z)). Writes a side-by-side picture
    (A | B per pair), its latents and ``<path>.json`` with the numbers.
    """
    if g_a.nz != g_b.nz:
        raise ConfigError(f"compare: the runs have different latent sizes (nz {g_a.nz} and {g_b.nz}); "
                          "the same z cannot go through both")
    if g_a.info.kind != g_b.info.kind or tuple(g_a.info.shape) != tuple(g_b.info.shape):
        raise ConfigError(f"compare: the runs make different data ({g_a.info.kind} {tuple(g_a.info.shape)} and "
                          f"{g_b.info.kind} {tuple(g_b.info.shape)})")
    if z is not None:
        if z.shape[1] != g_a.nz:
            raise ConfigError(f"--from-latents: latent vectors have {z.shape[1]} dimensions, the runs' nz is {g_a.nz}")
        n = len(z)
    if n < 2:
        raise ConfigError(f"-n {n}: must be >= 2 (the unpaired baseline needs two samples)")
    z = g_a.latents(n, seed) if z is None else z
    ya, yb = (g_a.labels_for(n), g_b.labels_for(n)) if y is None else (g_a.labels_for(n, y), g_b.labels_for(n, y))
    xa, xb = g_a(z, ya), g_b(z, yb)
    d, space = pair_distances(g_a, xa, xb, features)
    paired = float(d.diagonal().mean())
    unpaired = float((d.sum() - d.diagonal().sum()) / (n * n - n))
    stats = {"run_a": str(names[0]), "run_b": str(names[1]), "n": n, "seed": seed, "distance": space,
             "paired": paired, "unpaired": unpaired, "ratio": paired / unpaired if unpaired > 0 else None}
    title = (f"left {names[0]} | right {names[1]}, same z;  paired {paired:.3g} vs unpaired {unpaired:.3g} "
             f"(ratio {stats['ratio'] or float('nan'):.2f})")
    cell = None
    if g_a.info.kind == "points":
        colours = viz.position_colours(z[:, :2].double(), 2.5)
        lim = 1.1 * max(g_a.info.point_scale, g_b.info.point_scale)
        fig = viz.points_figure([{"points": xa, "colours": colours, "title": f"A: {names[0]}", "centers": g_a.info.centers, "lim": lim},
                                 {"points": xb, "colours": colours, "title": f"B: {names[1]}", "centers": g_b.info.centers, "lim": lim}],
                                path, title + "\ncolour = the latent z (hue: angle of z[0:2], saturation: its radius)")
    else:
        ta, tb = viz.to_uint8(xa), viz.to_uint8(xb)
        sep = np.full((*ta.shape[1:2], 1, ta.shape[3]), 128, np.uint8)  # grey: A | B of one pair
        pairs = np.stack([np.concatenate([a, sep, b], 1) for a, b in zip(ta, tb)])
        per_row = math.ceil(math.sqrt(n))
        rows_ = math.ceil(n / per_row)
        fig = viz.tile_figure(as_cells(pairs, rows_, per_row), path, title=title, scale=viz.tile_scale(ta.shape[1]),
                              col_labels=["A | B"] * per_row)
        cell = cell_index(rows_, per_row)[:n]
    fig["latents"] = save_latents(path, z, ya, cell=cell, y_b=yb)
    json_path = Path(path).with_suffix(".json")
    json_path.write_text(json.dumps(stats, indent=2) + "\n")
    fig.update(stats=stats, json=json_path, z=z, xa=xa, xb=xb)
    return fig
