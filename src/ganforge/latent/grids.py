"""Latent points on a grid: a scan of a 2-D latent space, a plane through a latent point, and
DCGAN-style vector arithmetic on group means. The pure functions (``square_grid``,
``plane_offsets``, ``plane_directions``, ``plane_points``, ``arithmetic_vectors``) know nothing
about a generator; the ``write_*`` functions draw their pictures with one.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from .. import viz
from ..errors import ConfigError
from .files import as_cells, cell_index, save_latents
from .inputs import check_nz, class_index, class_names, fixed_labels, require_images


def square_grid(lo: float, hi: float, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """An n×n scan of [lo, hi]²: (coords (n·n, 2), xs (n,), ys (n,)), float64.

    Row-major as drawn: column c has x = xs[c] (ascending, left to right), row r has
    y = ys[r] (descending, top to bottom), so the picture has the usual orientation.
    """
    if not lo < hi:
        raise ConfigError(f"--range {lo} {hi}: the low end must be below the high end")
    if n < 2:
        raise ConfigError(f"--n {n}: must be >= 2")
    xs = torch.linspace(lo, hi, n, dtype=torch.float64)
    ys = xs.flip(0)
    return _cells(xs, ys), xs, ys


def plane_offsets(n: int, step: float) -> torch.Tensor:
    """Offsets along each plane direction: step·(k − ⌊n/2⌋) for k = 0..n−1 (float64).

    For n = 10, step = 1/4: −5/4, −4/4, ..., +4/4, i.e. Python's range(−5, 5) in quarters,
    as in the classic walk; odd n is symmetric. Offset 0 (the base point) is always at k = ⌊n/2⌋.
    """
    if n < 2:
        raise ConfigError(f"--n {n}: must be >= 2")
    if not step > 0:
        raise ConfigError(f"--step {step}: must be > 0")
    return step * (torch.arange(n, dtype=torch.float64) - n // 2)


def block_directions(nz: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The classic block pattern, generalized: split the nz coordinates into 5 near-equal
    consecutive blocks B0..B4 (numpy.array_split); d1 = +1 on B0 and B2; d2 = −1 on B1 and B3,
    +1 on B4. For nz = 100 the blocks are 0:20, 20:40, 40:60, 60:80, 80:100, so base + (i/4)·d1
    + (j/4)·d2 adds i/4 to 0:20 and 40:60, subtracts j/4 from 20:40 and 60:80, adds j/4 to 80:100.
    """
    if nz < 5:
        raise ConfigError(f"--dirs blocks: needs nz >= 5 (5 blocks of coordinates); this generator has nz = {nz} (use --dirs random or i,j)")
    b = np.array_split(np.arange(nz), 5)
    d1, d2 = torch.zeros(nz), torch.zeros(nz)
    d1[b[0]] = 1
    d1[b[2]] = 1
    d2[b[1]] = -1
    d2[b[3]] = -1
    d2[b[4]] = 1
    return d1, d2


def random_directions(nz: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two random orthonormal directions: rows 1 and 2 of ``torch.randn(3, nz)`` drawn with
    ``seed``, orthonormalized by QR (Gram-Schmidt: d1 ∥ the first). Row 0 is skipped because
    it is ``Generator.latents(1, seed)``: the directions are independent of a base drawn with
    the same seed."""
    if nz < 2:
        raise ConfigError(f"--dirs random: needs nz >= 2; this generator has nz = {nz}")
    v = torch.randn(3, nz, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)[1:]
    q, r = torch.linalg.qr(v.T)
    q = q * torch.sign(torch.diagonal(r))  # positive diagonal: d1 points along v[0]
    return q[:, 0].float(), q[:, 1].float()


def axis_directions(nz: int, i: int, j: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The coordinate axes e_i and e_j."""
    if not (0 <= i < nz and 0 <= j < nz) or i == j:
        raise ConfigError(f"--dirs {i},{j}: need two different coordinates in 0..{nz - 1}")
    return torch.eye(nz)[i], torch.eye(nz)[j]


def plane_directions(spec: str, nz: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``random`` | ``blocks`` | ``i,j`` → (d1, d2), each (nz,)."""
    if spec == "random":
        return random_directions(nz, seed)
    if spec == "blocks":
        return block_directions(nz)
    parts = spec.split(",")
    if len(parts) == 2 and all(p.strip().lstrip("-").isdigit() for p in parts):
        return axis_directions(nz, int(parts[0]), int(parts[1]))
    raise ConfigError(f"--dirs {spec}: must be random, blocks, or two coordinate indices i,j (e.g. 0,1)")


def plane_points(base: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor, offsets: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """z = base + a·d1 + b·d2 over the grid a, b ∈ offsets: (z (n·n, nz) float32, coords (n·n, 2)).

    Row-major as drawn: column c has a = offsets[c] (left to right), row r has
    b = offsets[n − 1 − r] (b grows upwards); coords[k] = (a, b) of z[k].
    """
    coords = _cells(offsets, offsets.flip(0))
    z = base.double() + coords[:, :1] * d1.double() + coords[:, 1:] * d2.double()
    return z.float(), coords


def arithmetic_vectors(za: torch.Tensor, zb: torch.Tensor, zc: torch.Tensor, n_perturb: int = 8,
                       sigma: float = 0.25, seed: int = 0) -> dict[str, torch.Tensor]:
    """DCGAN-style vector arithmetic (Radford et al. 2016, sec. 6.3): averages of a few latent
    vectors per concept, mean(a) − mean(b) + mean(c), and ``n_perturb`` neighbours of it,
    result + sigma·N(0, I) drawn with ``seed``."""
    for name, g in (("a", za), ("b", zb), ("c", zc)):
        if len(g) == 0:
            raise ConfigError(f"--{name}: give at least one row index")
    if n_perturb < 0 or not sigma >= 0:
        raise ConfigError(f"--perturb {n_perturb} --sigma {sigma}: both must be >= 0")
    ma, mb, mc = za.mean(0), zb.mean(0), zc.mean(0)
    result = ma - mb + mc
    noise = torch.randn(n_perturb, len(result), generator=torch.Generator().manual_seed(seed))
    return {"mean_a": ma, "mean_b": mb, "mean_c": mc, "result": result, "perturbed": result + sigma * noise}


@torch.no_grad()
def write_latent_grid(g, path: str | Path, lo: float = -2.0, hi: float = 2.0, n: int = 16, label=0) -> dict:
    """Scan a 2-D latent space over [lo, hi]²: an n×n image grid with its axes labelled by
    the coordinates; for a 2-D points generator, the n·n generated points coloured by their
    latent position (hue = angle, saturation = radius) beside the latent square itself."""
    if g.nz != 2:
        raise ConfigError(f"latent-grid scans a 2-D latent space; this generator has nz = {g.nz} "
                          f"(use `ganforge plane RUN --dirs i,j` or --dirs random|blocks for a 2-D slice through it)")
    coords, xs, ys = square_grid(lo, hi, n)
    z = coords.float()
    y = fixed_labels(g, len(z), label)
    x = g(z, y)
    title = f"G(z) over z ∈ [{lo:g}, {hi:g}]²" + (f", class {class_names(g)[int(y[0])]}" if y is not None else "")
    if g.info.kind == "points":
        fig = _points_latent_figure(x, coords, path, max(abs(lo), abs(hi)), g.info, title, ("z[0]", "z[1]"))
    else:
        fig = viz.tile_figure(as_cells(viz.to_uint8(x), n, n), path, col_labels=tick_labels(xs), row_labels=tick_labels(ys),
                              xlabel="z[0]", ylabel="z[1]", title=title)
    fig["latents"] = save_latents(path, z, y, cell=cell_index(n, n), coords=coords)
    fig.update(z=z, coords=coords, x=x)
    return fig


@torch.no_grad()
def write_plane(g, path: str | Path, base: torch.Tensor, d1: torch.Tensor, d2: torch.Tensor, step: float = 0.25,
                n: int = 10, label=0, title: str = "") -> dict:
    """A grid over the plane base + a·d1 + b·d2, a, b ∈ plane_offsets(n, step); axes labelled
    with a (columns) and b (rows, growing upwards)."""
    check_nz(g, base, "plane")
    offsets = plane_offsets(n, step)
    z, coords = plane_points(base, d1, d2, offsets)
    y = fixed_labels(g, len(z), label)
    x = g(z, y)
    title = title or "base + a·d1 + b·d2"
    if g.info.kind == "points":
        fig = _points_latent_figure(x, coords, path, float(offsets.abs().max()), g.info, title, ("a (along d1)", "b (along d2)"))
    else:
        fig = viz.tile_figure(as_cells(viz.to_uint8(x), n, n), path, col_labels=tick_labels(offsets), row_labels=tick_labels(offsets.flip(0)),
                              xlabel="a (along d1)", ylabel="b (along d2)", title=title)
    fig["latents"] = save_latents(path, z, y, cell=cell_index(n, n), coords=coords, base=base, d1=d1, d2=d2, step=step)
    fig.update(z=z, coords=coords, x=x)
    return fig


@torch.no_grad()
def write_arithmetic(g, path: str | Path, za, zb, zc, ya=None, yb=None, yc=None, label=None, n_perturb: int = 8,
                     sigma: float = 0.25, seed: int = 0, names: tuple[str, str, str] = ("a", "b", "c")) -> dict:
    """One figure: rows a, b, c show each group's members and (last column) the image of their
    mean vector; the last row shows mean(a) − mean(b) + mean(c) and ``n_perturb`` neighbours.
    Members keep their own labels (ya, yb, yc) on a conditional G; means and results use
    ``label`` (default: a's first member's)."""
    require_images(g, "arithmetic")
    for zz in (za, zb, zc):
        check_nz(g, zz, "arithmetic")
    v = arithmetic_vectors(za, zb, zc, n_perturb, sigma, seed)
    cols = max(max(len(za), len(zb), len(zc)) + 1, 1 + n_perturb)
    zs, cells = [], []
    for r, (members, mean) in enumerate(((za, v["mean_a"]), (zb, v["mean_b"]), (zc, v["mean_c"]))):
        zs += [*members, mean]
        cells += [(r, c) for c in range(len(members))] + [(r, cols - 1)]
    zs += [v["result"], *v["perturbed"]]
    cells += [(3, c) for c in range(1 + n_perturb)]
    z = torch.stack(zs)
    y = None
    if g.conditional:
        fixed = class_index(g, label if label is not None else (int(ya[0]) if ya is not None else 0))
        own = lambda grp, yy: [int(c) for c in yy] if yy is not None else [fixed] * len(grp)
        y = torch.tensor(own(za, ya) + [fixed] + own(zb, yb) + [fixed] + own(zc, yc) + [fixed] * (2 + n_perturb))
    x = viz.to_uint8(g(z, y))
    grid = [[None] * cols for _ in range(4)]
    for (r, c), tile in zip(cells, x):
        grid[r][c] = tile
    a, b, c = names
    fig = viz.tile_figure(grid, path, row_labels=[a, b, c, f"{a} − {b} + {c}"],
                          title=f"last column: image of the group's mean vector; last row: mean({a}) − mean({b}) + mean({c}), "
                                f"then {n_perturb} × (+ {sigma:g}·N(0, I))")
    fig["latents"] = save_latents(path, z, y, cell=torch.tensor(cells), sigma=sigma, seed=seed,
                                  group_sizes=[len(za), len(zb), len(zc)], **v)
    fig.update(z=z, y=y, images=x)
    return fig


def _points_latent_figure(x, coords, path, radius, info, title, axis_names) -> dict:
    colours = viz.position_colours(coords, radius)
    r = 1.05 * radius
    return viz.points_figure([
        {"points": coords, "colours": colours, "title": "latent positions", "lim": r, "xlabel": axis_names[0], "ylabel": axis_names[1]},
        {"points": x, "colours": colours, "title": "generated points (same colours)", "centers": info.centers,
         "lim": 1.1 * info.point_scale, "xlabel": "x", "ylabel": "y"}], path, title)


def _cells(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Row-major (len(ys)·len(xs), 2) coordinates: row r has y = ys[r], column c has x = xs[c]."""
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


def tick_labels(values: torch.Tensor) -> list[str]:
    return [f"{v:.3g}".replace("-", "−") for v in values.tolist()]
