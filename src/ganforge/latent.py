"""Latent space exploration: interpolation, 2-D grids, planes, vector arithmetic, class sweeps,
truncation, and whether two runs map the same z to the same output.

Two layers, as everywhere in ganforge:

- pure functions on latent tensors (``lerp``, ``slerp``, ``interpolate``, ``truncated_latents``,
  ``square_grid``, ``plane_offsets``, ``plane_directions``, ``plane_points``,
  ``arithmetic_vectors``), which know nothing about a generator;
- ``write_*`` functions and ``compare``, which take a ``ganforge.Generator``, write pictures and
  return what they wrote. The CLI (latent_cli.py) is a thin shell over them.

Addressable samples: every picture written here has its latent vectors saved beside it as
``<picture>.latents.npz`` (``save_latents``): ``z`` (N, nz) float32 and, for conditional models,
``y`` (N,) int64, in the order of the tiles (row-major), plus ``cell`` (N, 2): each vector's
(row, column) in the picture. ``g(z, y)`` regenerates the tiles exactly. Training snapshots keep
theirs in ``RUN/samples/latents.npz``, so "sample 17 of that grid" is ``z[17]``.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import torch

from . import runs, viz
from .errors import ConfigError

LATENTS_SUFFIX = ".latents.npz"


# ============================================================================ latent files

def latents_path(picture: str | Path) -> Path:
    """``X.png`` (or ``X.gif``, or a stem ``X``) → ``X.latents.npz`` beside it."""
    p = Path(picture)
    if str(p).endswith(LATENTS_SUFFIX):
        return p
    stem = p.name[: -len(p.suffix)] if p.suffix in (".png", ".gif", ".npz", ".json") else p.name
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
    if p.suffix != ".npz":  # a picture: its latents file beside it
        p = latents_path(p)
    if not p.is_file():
        raise ConfigError(f"--latents {path}: no such file (a training run keeps RUN/samples/latents.npz; "
                          f"every picture ganforge writes has X.latents.npz beside X.png)")
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


def check_nz(g, z: torch.Tensor, where: str) -> None:
    if z.shape[-1] != g.nz:
        raise ConfigError(f"{where}: latent vectors have {z.shape[-1]} dimensions, the generator's nz is {g.nz}")


# ============================================================================ pure functions

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


# ============================================================================ with a generator

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


def class_names(g) -> list[str]:
    k = g.info.num_classes or 0
    names = g.info.class_names
    return list(names) if names and len(names) == k else [str(i) for i in range(k)]


def class_index(g, value) -> int:
    """A class given as an index or by name."""
    names = class_names(g)
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        if value not in names:
            raise ConfigError(f"class {value!r}: not one of {', '.join(names)}")
        return names.index(value)
    k = int(value)
    if not 0 <= k < len(names):
        raise ConfigError(f"class {k}: must be in 0..{len(names) - 1} ({', '.join(names)})")
    return k


def require_images(g, command: str) -> None:
    if g.info.kind != "image":
        raise ConfigError(f"{command} draws images; this generator makes 2-D points "
                          "(for points use latent-grid, plane or compare)")


def fixed_labels(g, n: int, label) -> torch.Tensor | None:
    """One class for all n, or None for an unconditional G."""
    return None if not g.conditional else torch.full((n,), class_index(g, label), dtype=torch.long)


@torch.no_grad()
def write_interpolations(g, pairs: list[tuple[torch.Tensor, torch.Tensor]], stem: str | Path, names: list[str],
                         steps: int = 10, method: str = "slerp", labels: list[int] | None = None,
                         ms_per_frame: int = 100) -> list[Path]:
    """One strip PNG per pair, ``<stem>-<name>.png`` (with its latents), and ``<stem>.gif``
    animating every pair at once, there and back (ping-pong). ``labels``: one class per pair
    for a conditional G (fixed along the strip)."""
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
        save_latents(path, zs[p], None if y is None else y[p * S:(p + 1) * S], cell=_cell_index(1, S), t=t, method=method)
        written.append(path)
    gif = stem.with_name(stem.name + ".gif")
    frames = [viz.grid(tiles[:, s], nrow=P) for s in list(range(S)) + list(range(S - 2, 0, -1))]
    durations = [ms_per_frame * (5 if i in (0, S - 1) else 1) for i in range(len(frames))]
    viz.save_gif(frames, gif, durations, viz.tile_scale(tiles.shape[2]))
    save_latents(gif, zs.reshape(P * S, -1), y, cell=_cell_index(P, S), t=t, method=method)
    return written + [gif]


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
        fig = viz.tile_figure(_as_cells(viz.to_uint8(x), n, n), path, col_labels=_fmt(xs), row_labels=_fmt(ys),
                              xlabel="z[0]", ylabel="z[1]", title=title)
    fig["latents"] = save_latents(path, z, y, cell=_cell_index(n, n), coords=coords)
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
        fig = viz.tile_figure(_as_cells(viz.to_uint8(x), n, n), path, col_labels=_fmt(offsets), row_labels=_fmt(offsets.flip(0)),
                              xlabel="a (along d1)", ylabel="b (along d2)", title=title)
    fig["latents"] = save_latents(path, z, y, cell=_cell_index(n, n), coords=coords, base=base, d1=d1, d2=d2, step=step)
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
    fig = viz.tile_figure(_as_cells(x, len(z), k), path, col_labels=names, row_labels=row_names,
                          xlabel="class", title="each row: one fixed z, every class")
    fig["latents"] = save_latents(path, zz, y, cell=_cell_index(len(z), k))
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
    fig = viz.tile_figure(_as_cells(x, len(z), steps), path, col_labels=cols, row_labels=row_names,
                          xlabel=f"class embedding: (1 − t)·e[{names[k0]}] + t·e[{names[k1]}]",
                          title="each row: one fixed z; the class moves between two classes")
    fig["latents"] = save_latents(path, zz, None, cell=_cell_index(len(z), steps), embedding=ee, t=t.repeat(len(z)),
                                  y_from=k0, y_to=k1)
    fig.update(z=zz, e=ee, images=x)
    return fig


@torch.no_grad()
def pair_distances(g, xa: torch.Tensor, xb: torch.Tensor, features: str = "auto") -> tuple[torch.Tensor, str]:
    """(distances (N, N) of every xa[i] to every xb[j], how they were measured); see ``compare``."""
    exact = lambda fa, fb: torch.cdist(fa, fb, compute_mode="donot_use_mm_for_euclid_dist")
    if g.info.kind != "image":
        return exact(xa.double(), xb.double()), "data coordinates: Euclidean distance"
    from .metrics import features as feats

    name = feats.auto_name(g.info) if features == "auto" else features
    if name == "pixels":
        fa, fb = ((xa.flatten(1) + 1) / 2).double(), ((xb.flatten(1) + 1) / 2).double()
        return exact(fa, fb) / math.sqrt(fa.shape[1]), "pixels: RMS difference of pixel values in [0, 1]"
    from .metrics.evaluate import extractor_for, sources

    _, train, _ = sources(g, None, "train")  # the classifier is the one trained on (and cached for) g's dataset
    ex = extractor_for(name, g.info, train)
    fa, fb = (torch.from_numpy(ex.features(x)) for x in (xa, xb))
    return exact(fa, fb), f"{ex.name} features: Euclidean distance"


def compare(g_a, g_b, path: str | Path, n: int = 64, seed: int = 0, names: tuple[str, str] = ("A", "B"),
            features: str = "auto") -> dict:
    """The same n latent vectors (``g_a.latents(n, seed)``) through two generators.

    Distance of a pair of outputs: for images, the Euclidean distance of their ``features``
    (``ganforge evaluate``'s extractors: auto is the domain classifier for labelled data, as
    there), or with ``features="pixels"`` the root-mean-square difference of pixel values scaled
    to [0, 1] (0 = identical, 1 = black vs white everywhere); for points, the Euclidean distance
    in the data's own coordinates. ``paired`` is the mean distance between
    G_A(z_i) and G_B(z_i); ``unpaired`` the mean over all i ≠ j of G_A(z_i) vs G_B(z_j), the
    baseline of unrelated outputs; ``ratio = paired / unpaired``: ≈ 1 when the two runs map the
    same z to unrelated outputs, near 0 when they map it to the same output. Conditional
    generators get classes in turn (Generator.labels_for). Writes a side-by-side picture
    (A | B per pair), its latents and ``<path>.json`` with the numbers.
    """
    if g_a.nz != g_b.nz:
        raise ConfigError(f"compare: the runs have different latent sizes (nz {g_a.nz} and {g_b.nz}); "
                          "the same z cannot go through both")
    if g_a.info.kind != g_b.info.kind or tuple(g_a.info.shape) != tuple(g_b.info.shape):
        raise ConfigError(f"compare: the runs make different data ({g_a.info.kind} {tuple(g_a.info.shape)} and "
                          f"{g_b.info.kind} {tuple(g_b.info.shape)})")
    if n < 2:
        raise ConfigError(f"-n {n}: must be >= 2 (the unpaired baseline needs two samples)")
    z = g_a.latents(n, seed)
    xa, xb = g_a(z, g_a.labels_for(n)), g_b(z, g_b.labels_for(n))
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
        fig = viz.tile_figure(_as_cells(pairs, rows_, per_row), path, title=title, scale=viz.tile_scale(ta.shape[1]),
                              col_labels=["A | B"] * per_row)
        cell = _cell_index(rows_, per_row)[:n]
    fig["latents"] = save_latents(path, z, g_a.labels_for(n), cell=cell, y_b=g_b.labels_for(n))
    json_path = Path(path).with_suffix(".json")
    json_path.write_text(json.dumps(stats, indent=2) + "\n")
    fig.update(stats=stats, json=json_path, z=z, xa=xa, xb=xb)
    return fig


# ============================================================================ figures

def _points_latent_figure(x, coords, path, radius, info, title, axis_names) -> dict:
    colours = viz.position_colours(coords, radius)
    r = 1.05 * radius
    return viz.points_figure([
        {"points": coords, "colours": colours, "title": "latent positions", "lim": r, "xlabel": axis_names[0], "ylabel": axis_names[1]},
        {"points": x, "colours": colours, "title": "generated points (same colours)", "centers": info.centers,
         "lim": 1.1 * info.point_scale, "xlabel": "x", "ylabel": "y"}], path, title)


# ============================================================================ helpers

def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


def _ts(t) -> tuple[torch.Tensor, bool]:
    t64 = torch.as_tensor(t, dtype=torch.float64)
    return t64.reshape(-1), t64.ndim == 0


def _out(out: torch.Tensor, like: torch.Tensor, scalar: bool) -> torch.Tensor:
    out = out.to(like.dtype)
    return out[0] if scalar else out


def _cells(xs: torch.Tensor, ys: torch.Tensor) -> torch.Tensor:
    """Row-major (len(ys)·len(xs), 2) coordinates: row r has y = ys[r], column c has x = xs[c]."""
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack([xx.reshape(-1), yy.reshape(-1)], 1)


def _cell_index(rows: int, cols: int) -> torch.Tensor:
    return torch.stack(torch.meshgrid(torch.arange(rows), torch.arange(cols), indexing="ij"), -1).reshape(-1, 2)


def _as_cells(tiles: np.ndarray, rows: int, cols: int) -> list[list[np.ndarray | None]]:
    it = iter(tiles)
    return [[next(it, None) for _ in range(cols)] for _ in range(rows)]


def _fmt(values: torch.Tensor) -> list[str]:
    return [f"{v:.3g}".replace("-", "−") for v in values.tolist()]
