"""Latent space exploration: the pure functions exactly, then every command end to end on tiny runs."""
import argparse
import json
import math
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import config as C
from ganforge import latent, viz
from ganforge.cli import latent as latent_cli
from ganforge.errors import ConfigError, GanforgeError
from ganforge.metrics.evaluate import extractor_for, sources

from conftest import tiny

DIGITS = {"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan", "nz": 8}}
RUNS = {
    "digits": tiny(DIGITS),
    "cond": tiny(DIGITS, model={"conditional": "concat"}),
    "z2": tiny(DIGITS, model={"nz": 2}),
    "z2b": tiny(DIGITS, model={"nz": 2}, train={"seed": 1}),
    "ring": tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none", "nz": 2}}),
}
TILE = 16 * 4  # 16-px digits are enlarged 4× (viz.save_grid's rule: up to 64 px)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Tiny trained runs (4 steps, 8 snapshot samples), trained on first use."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = ganforge.train(C.from_dict(RUNS[name]), out=tmp_path_factory.mktemp(name) / "run")
        return cache[name]

    return get


def cli(argv: list[str]) -> int:
    """``ganforge ...`` through cli.main once the integrator has registered these commands;
    until then through a parser built from latent_cli.register alone, with main's error handling."""
    from ganforge import cli as gcli

    commands = next(a for a in gcli.parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    if "interpolate" in commands:
        return gcli.main(argv)
    p = argparse.ArgumentParser(prog="ganforge")
    latent_cli.register(p.add_subparsers(dest="command", required=True))
    args = p.parse_args(argv)
    try:
        args.func(args, [])
    except GanforgeError as e:
        print(f"ganforge: error: {e}", file=sys.stderr)
        return 2
    return 0


def png(path) -> np.ndarray:
    return np.array(Image.open(path).convert("RGB"))


def canvas_tiles(path, fig, rows, cols, side=16):
    """The tiles of a tile_figure PNG, cut back out at their native size (every s-th pixel)."""
    top, left, H, W = fig["canvas_box"]
    s = fig["scale"]
    canvas = png(path)[top:top + H, left:left + W, 0][::s, ::s]
    assert canvas.shape == (rows * (side + 2) + 2, cols * (side + 2) + 2)
    return np.stack([canvas[2 + r * (side + 2): 2 + r * (side + 2) + side, 2 + c * (side + 2): 2 + c * (side + 2) + side]
                     for r in range(rows) for c in range(cols)])


def gauss(n, nz, seed=0):
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))


def angle(u, v):
    u, v = u.double(), v.double()
    return torch.arccos(torch.clamp(u @ v / (u.norm() * v.norm()), -1, 1))


# ---------------------------------------------------------------------------- interpolation

def test_lerp_exact_endpoints_and_midpoint():
    a, b = gauss(2, 512)
    out = latent.interpolate(a, b, 7, "lerp")
    assert out.shape == (7, 512) and out.dtype == a.dtype
    assert torch.equal(out[0], a) and torch.equal(out[-1], b)
    assert torch.equal(latent.lerp(a, b, 0.0), a) and torch.equal(latent.lerp(a, b, 1.0), b)
    assert torch.allclose(out[3], (a + b) / 2, atol=1e-6)


@pytest.mark.parametrize("case", ["gaussian", "near-parallel", "opposite", "2-d"])
def test_slerp_exact_endpoints(case):
    a, b = gauss(2, 2 if case == "2-d" else 512, seed=1)
    if case == "near-parallel":
        b = a + 1e-7 * b
    elif case == "opposite":
        b = -a
    out = latent.interpolate(a, b, 9, "slerp")
    assert torch.equal(out[0], a) and torch.equal(out[-1], b)
    assert torch.isfinite(out).all()


def test_slerp_falls_back_to_lerp_for_parallel_vectors():
    a = gauss(1, 64)[0]
    t = torch.linspace(0, 1, 5)
    assert torch.equal(latent.slerp(a, 2 * a, t), latent.lerp(a, 2 * a, t))
    assert torch.equal(latent.slerp(a, -a, t), latent.lerp(a, -a, t))


def test_slerp_constant_angular_steps():
    """With |a| = |b| slerp is the great circle at constant speed: every step turns by ω/(T−1)
    and stays on the sphere."""
    a, b = gauss(2, 512, seed=2)
    b = b * (a.norm() / b.norm())
    T = 11
    out = latent.interpolate(a, b, T, "slerp")
    omega = angle(a, b)
    steps = torch.stack([angle(out[k], out[k + 1]) for k in range(T - 1)])
    assert torch.allclose(steps, omega.expand(T - 1) / (T - 1), atol=1e-5)
    assert torch.allclose(torch.stack([angle(a, v) for v in out]), omega * torch.linspace(0, 1, T, dtype=torch.float64), atol=1e-5)
    assert torch.allclose(out.norm(dim=1), a.norm().expand(T), rtol=1e-6)


def test_slerp_norms_stay_between_the_endpoints_norms():
    """|slerp|² = |a|²s₁² + |b|²s₂² + 2|a||b|s₁s₂cos ω with s₁, s₂ ≥ 0. When cos ω ≥ 0 it grows in
    |a| and |b|, and equals r² when |a| = |b| = r, so it lies in [min², max²] exactly. When
    cos ω < 0 it can leave that range by about (|b| − |a|)·cos²ω/2; for Gaussian vectors in
    512 dimensions cos ω ~ N(0, 1/512), and over these 200 pairs the largest excursion is
    ≈ 1e-4 of the norm (lerp's midpoint, for contrast, sits ≈ 29% below both)."""
    t = torch.linspace(0, 1, 51)
    worst = 0.0
    for k in range(200):
        a, b = gauss(2, 512, seed=100 + k)
        n = latent.slerp(a, b, t).double().norm(dim=1)
        lo, hi = min(a.norm(), b.norm()).double(), max(a.norm(), b.norm()).double()
        if a @ b >= 0:
            assert (n >= lo * (1 - 1e-6)).all() and (n <= hi * (1 + 1e-6)).all()
        worst = max(worst, float((lo - n).max() / lo), float((n - hi).max() / hi))
        assert latent.lerp(a, b, 0.5).norm() < 0.8 * lo
    assert worst < 1e-3


def test_interpolate_rejects_bad_options():
    a, b = gauss(2, 4)
    with pytest.raises(ConfigError, match="--method"):
        latent.interpolate(a, b, 5, "cubic")
    with pytest.raises(ConfigError, match="--steps"):
        latent.interpolate(a, b, 1)


# ---------------------------------------------------------------------------- truncation

def test_truncated_latents_bounds_and_reproducibility():
    z = latent.truncated_latents(500, 16, 0.5, seed=3)
    assert z.shape == (500, 16) and z.abs().max() <= 0.5
    assert torch.equal(z, latent.truncated_latents(500, 16, 0.5, seed=3))
    assert (z.abs() == 0.5).sum() == 0  # resampled, not clipped
    assert 0.45 < (z.abs() < 0.25).float().mean() < 0.56  # truncated normal: P(|z|<.25 | |z|<.5) ≈ .51
    # A psi no coordinate reaches changes nothing: the same draw as Generator.latents(n, seed).
    assert torch.equal(latent.truncated_latents(8, 4, 100.0, seed=5), gauss(8, 4, seed=5))
    tiny_psi = latent.truncated_latents(64, 64, 1e-4, seed=0)  # mostly through the inverse-CDF fallback
    assert tiny_psi.abs().max() <= 1e-4
    for bad in (0, -1, float("nan"), float("inf")):
        with pytest.raises(ConfigError, match="truncation"):
            latent.truncated_latents(4, 4, bad)


# ---------------------------------------------------------------------------- grids and planes

def test_square_grid_is_row_major_with_y_up():
    coords, xs, ys = latent.square_grid(-2, 2, 5)
    assert coords.shape == (25, 2)
    assert xs.tolist() == [-2, -1, 0, 1, 2] and ys.tolist() == [2, 1, 0, -1, -2]
    for r in range(5):
        for c in range(5):
            assert coords[r * 5 + c].tolist() == [xs[c], ys[r]]
    with pytest.raises(ConfigError, match="--range"):
        latent.square_grid(1, -1, 4)


def test_plane_offsets():
    assert latent.plane_offsets(10, 0.25).tolist() == [k / 4 for k in range(-5, 5)]
    assert latent.plane_offsets(5, 1.0).tolist() == [-2, -1, 0, 1, 2]
    assert latent.plane_offsets(4, 0.5)[4 // 2] == 0


def test_block_directions_are_the_classic_pattern_for_nz_100():
    d1, d2 = latent.block_directions(100)
    e1, e2 = torch.zeros(100), torch.zeros(100)
    e1[0:20] = 1
    e1[40:60] = 1
    e2[20:40] = -1
    e2[60:80] = -1
    e2[80:100] = 1
    assert torch.equal(d1, e1) and torch.equal(d2, e2)
    # f(a, i, j): add i/4 to 0:20 and 40:60, subtract j/4 from 20:40 and 60:80, add j/4 to 80:100.
    base = gauss(1, 100)[0]
    z, coords = latent.plane_points(base, d1, d2, latent.plane_offsets(10, 0.25))
    for k in (0, 37, 55, 99):
        i, j = (coords[k] * 4).round().long().tolist()
        f = base.clone()
        f[0:20] += i / 4
        f[40:60] += i / 4
        f[20:40] -= j / 4
        f[60:80] -= j / 4
        f[80:100] += j / 4
        assert torch.equal(z[k], f)
    # Generalized: 5 near-equal blocks.
    d1, d2 = latent.block_directions(64)
    assert d1.tolist() == [1] * 13 + [0] * 13 + [1] * 13 + [0] * 25
    assert d2.tolist() == [0] * 13 + [-1] * 13 + [0] * 13 + [-1] * 13 + [1] * 12
    with pytest.raises(ConfigError, match="nz >= 5"):
        latent.block_directions(4)


def test_random_and_axis_directions():
    d1, d2 = latent.random_directions(32, seed=4)
    assert torch.allclose(torch.stack([d1 @ d1, d2 @ d2, d1 @ d2]), torch.tensor([1.0, 1.0, 0.0]), atol=1e-6)
    assert torch.equal(d1, latent.random_directions(32, seed=4)[0])
    base = gauss(1, 32, seed=4)[0]  # the base drawn with the same seed: independent of the directions
    assert abs(float(d1 @ base / base.norm())) < 0.9
    e1, e2 = latent.plane_directions("3,5", 8)
    assert e1.tolist() == torch.eye(8)[3].tolist() and e2.tolist() == torch.eye(8)[5].tolist()
    for bad in ("3,3", "0,8", "up", "1,2,3"):
        with pytest.raises(ConfigError, match="--dirs"):
            latent.plane_directions(bad, 8)


def test_plane_points_match_their_coordinates():
    base = gauss(1, 16)[0]
    d1, d2 = latent.random_directions(16)
    offsets = latent.plane_offsets(6, 0.5)
    z, coords = latent.plane_points(base, d1, d2, offsets)
    assert z.shape == (36, 16) and coords.shape == (36, 2)
    for r in range(6):
        for c in range(6):
            k = r * 6 + c
            assert coords[k].tolist() == [offsets[c], offsets[5 - r]]
            assert torch.allclose(z[k], base + coords[k, 0].float() * d1 + coords[k, 1].float() * d2, atol=1e-6)
    assert torch.equal(z[(5 - 3) * 6 + 3], base)  # the base point: a = b = 0


def test_arithmetic_vectors():
    za, zb, zc = gauss(3, 8, 1), gauss(2, 8, 2), gauss(4, 8, 3)
    v = latent.arithmetic_vectors(za, zb, zc, n_perturb=5, sigma=0.25, seed=7)
    assert torch.allclose(v["result"], za.mean(0) - zb.mean(0) + zc.mean(0))
    assert v["perturbed"].shape == (5, 8)
    assert torch.allclose(v["perturbed"], v["result"] + 0.25 * gauss(5, 8, 7))


# ---------------------------------------------------------------------------- addressable samples

@pytest.mark.parametrize("name", ["digits", "cond"])
def test_snapshot_latents_reproduce_the_grid_exactly(runs, name):
    """samples/latents.npz regenerates samples/final.png pixel for pixel: the PNG is viz.grid
    (2-px padding) enlarged 4× by nearest neighbour; tile k is row k of the file."""
    run = runs(name)
    g = ganforge.load(run)
    z, y = latent.load_latents(run / "samples" / "latents.npz")
    assert (y is not None) == g.conditional
    tiles = viz.to_uint8(g(z, y))
    expected = viz.grid(tiles).repeat(4, 0).repeat(4, 1)[..., 0]
    assert np.array_equal(np.array(Image.open(run / "samples" / "final.png")), expected)
    k = 5  # "sample 5 of that grid", on its own
    alone = viz.to_uint8(g(z[k:k + 1], None if y is None else y[k:k + 1]))[0]
    assert np.abs(alone.astype(int) - tiles[k].astype(int)).max() <= 1


def test_latents_files(tmp_path):
    assert latent.latents_path(tmp_path / "x.png") == tmp_path / "x.latents.npz"
    assert latent.latents_path(tmp_path / "x.latents.npz") == tmp_path / "x.latents.npz"
    z, y = gauss(3, 4), torch.tensor([1, 0, 2])
    p = latent.save_latents(tmp_path / "x.png", z, y)
    z2, y2 = latent.load_latents(tmp_path / "x.png")  # a picture finds its latents
    assert p.name == "x.latents.npz" and torch.equal(z, z2) and torch.equal(y, y2)
    with pytest.raises(ConfigError, match="3 rows"):
        latent.rows(z, y, [0, 3], "--pairs")
    with pytest.raises(ConfigError, match="no such file"):
        latent.load_latents(tmp_path / "missing.npz")


# ---------------------------------------------------------------------------- commands

def test_interpolate_cli(runs, tmp_path, capsys):
    run = runs("digits")
    assert cli(["interpolate", str(run), "--pairs", "3:7,1:2", "--steps", "5", "--out", str(tmp_path / "i.png")]) == 0
    out = capsys.readouterr().out
    for f in ["i-3-7.png", "i-1-2.png", "i.gif", "i-3-7.latents.npz", "i.latents.npz"]:
        assert (tmp_path / f).is_file(), f
        assert f.endswith(".npz") or str(tmp_path / f) in out
    strip = np.array(Image.open(tmp_path / "i-3-7.png"))
    assert strip.shape == ((16 + 4) * 4, (5 * 18 + 2) * 4)
    g = ganforge.load(run)
    z, _ = latent.load_latents(run / "samples" / "latents.npz")
    zs, _ = latent.load_latents(tmp_path / "i-3-7.latents.npz")
    assert torch.equal(zs[0], z[3]) and torch.equal(zs[-1], z[7])
    assert np.array_equal(strip, viz.grid(viz.to_uint8(g(zs)), nrow=5).repeat(4, 0).repeat(4, 1)[..., 0])
    gif = Image.open(tmp_path / "i.gif")
    assert gif.size == ((2 * 18 + 2) * 4, (16 + 4) * 4)
    total = 0
    for k in range(gif.n_frames):  # identical neighbouring frames are merged, their durations added
        gif.seek(k)
        total += gif.info["duration"]
    assert total == 100 * (2 * 5 - 2) + 2 * 400  # ping-pong, the endpoints held 5×

    assert cli(["interpolate", str(run), "--seeds", "1:2", "--method", "lerp", "--steps", "3", "--out", str(tmp_path / "s")]) == 0
    zs, _ = latent.load_latents(tmp_path / "s-seed1-2.png")
    assert torch.equal(zs[0], g.latents(1, 1)[0]) and torch.equal(zs[1], (g.latents(1, 1)[0] + g.latents(1, 2)[0]) / 2)


def test_interpolate_at_a_fixed_class(runs, tmp_path):
    assert cli(["interpolate", str(runs("cond")), "--pairs", "0:1", "--class", "3", "--steps", "4", "--out", str(tmp_path / "c")]) == 0
    z, y = latent.load_latents(tmp_path / "c-0-1.latents.npz")
    assert y.tolist() == [3, 3, 3, 3]


def test_latent_grid_cli_labels_and_pixels(runs, tmp_path):
    run = runs("z2")
    out = tmp_path / "grid.png"
    assert cli(["latent-grid", str(run), "--range", "-2", "2", "--n", "6", "--out", str(out)]) == 0
    g = ganforge.load(run)
    fig = latent.write_latent_grid(g, tmp_path / "again.png", -2, 2, 6)  # the API the command calls
    assert np.array_equal(png(out), png(tmp_path / "again.png"))
    assert Image.open(out).size == fig["size"]
    assert fig["canvas_box"][2:] == ((6 * 18 + 2) * 4,) * 2
    z, _ = latent.load_latents(out)
    coords = np.load(latent.latents_path(out))["coords"]
    assert np.array_equal(z.numpy(), coords.astype(np.float32))
    num = lambda s: float(s.replace("−", "-"))
    assert [c for c, _ in fig["xticks"]] == list(range(6)) and [r for r, _ in fig["yticks"]] == list(range(6))
    for c, label in fig["xticks"]:
        assert all(abs(num(label) - coords[r * 6 + c, 0]) < 5e-3 for r in range(6))
    for r, label in fig["yticks"]:
        assert all(abs(num(label) - coords[r * 6 + c, 1]) < 5e-3 for c in range(6))
    # the picture shows G at the saved z, pixel for pixel
    assert np.array_equal(canvas_tiles(out, fig, 6, 6), viz.to_uint8(g(z))[..., 0])


def test_latent_grid_needs_a_2d_latent_and_draws_points(runs, tmp_path, capsys):
    assert cli(["latent-grid", str(runs("digits")), "--out", str(tmp_path / "x")]) == 2
    assert "nz = 8" in capsys.readouterr().err
    assert cli(["latent-grid", str(runs("ring")), "--n", "10", "--out", str(tmp_path / "ring")]) == 0
    assert Image.open(tmp_path / "ring.png").size == (800, 422)
    assert latent.load_latents(tmp_path / "ring.png")[0].shape == (100, 2)


def test_plane_cli(runs, tmp_path):
    run = runs("digits")
    out = tmp_path / "plane.png"
    assert cli(["plane", str(run), "--base", "3", "--dirs", "0,5", "--step", "0.5", "--n", "4", "--out", str(out)]) == 0
    f = np.load(latent.latents_path(out))
    z, coords = torch.from_numpy(f["z"]), torch.from_numpy(f["coords"])
    base = latent.load_latents(run / "samples" / "latents.npz")[0][3]
    assert z.shape == (16, 8) and torch.equal(torch.from_numpy(f["base"]), base)
    assert torch.equal(z[(3 - 2) * 4 + 2], base)
    for k in range(16):
        expect = base.clone()
        expect[0] += coords[k, 0].float()
        expect[5] += coords[k, 1].float()
        assert torch.equal(z[k], expect)
    g = ganforge.load(run)
    fig = latent.write_plane(g, tmp_path / "api.png", base, *latent.plane_directions("0,5", 8), 0.5, 4)
    assert torch.equal(fig["z"], z) and Image.open(tmp_path / "api.png").size == fig["size"]
    assert fig["canvas_box"][2:] == ((4 * 18 + 2) * 4,) * 2
    assert np.array_equal(canvas_tiles(tmp_path / "api.png", fig, 4, 4), viz.to_uint8(g(z))[..., 0])
    assert [lbl for _, lbl in fig["xticks"]] == ["−1", "−0.5", "0", "0.5"] and [lbl for _, lbl in fig["yticks"]] == ["0.5", "0", "−0.5", "−1"]
    for dirs in ("random", "blocks"):
        assert cli(["plane", str(run), "--dirs", dirs, "--n", "3", "--out", str(tmp_path / dirs)]) == 0
    assert cli(["plane", str(runs("ring")), "--dirs", "random", "--n", "5", "--out", str(tmp_path / "ring")]) == 0
    assert Image.open(tmp_path / "ring.png").size == (800, 422)


def test_arithmetic_is_reproducible_from_saved_vectors(runs, tmp_path):
    run = runs("cond")
    out = tmp_path / "a.png"
    assert cli(["arithmetic", str(run), "--a", "3,7,1", "--b", "5,6", "--c", "1,2,4", "--perturb", "4", "--out", str(out)]) == 0
    g = ganforge.load(run)
    f = np.load(latent.latents_path(out))
    z, y = torch.from_numpy(f["z"]), torch.from_numpy(f["y"])
    assert len(z) == 3 + 1 + 2 + 1 + 3 + 1 + 1 + 4
    zf, yf = latent.load_latents(run / "samples" / "latents.npz")
    assert torch.equal(z[:3], zf[[3, 7, 1]]) and y[:3].tolist() == yf[[3, 7, 1]].tolist()
    v = latent.arithmetic_vectors(zf[[3, 7, 1]], zf[[5, 6]], zf[[1, 2, 4]], 4, 0.25, 0)
    assert torch.equal(torch.from_numpy(f["result"]), v["result"]) and torch.equal(z[-5], v["result"])
    assert torch.equal(torch.from_numpy(f["perturbed"]), v["perturbed"])
    # re-running G on the saved vectors gives the same images as the picture shows
    again = viz.to_uint8(g(z, y))[..., 0]
    tiles = canvas_tiles(out, latent.write_arithmetic(g, tmp_path / "b.png", zf[[3, 7, 1]], zf[[5, 6]], zf[[1, 2, 4]],
                                                       yf[[3, 7, 1]], yf[[5, 6]], yf[[1, 2, 4]], n_perturb=4,
                                                       names=("a 3,7,1", "b 5,6", "c 1,2,4")), 4, 5)
    cells = f["cell"]
    assert np.array_equal(np.stack([tiles[r * 5 + c] for r, c in cells]), again)
    assert np.array_equal(png(out), png(tmp_path / "b.png"))


def test_sweep_cli(runs, tmp_path, capsys):
    run = runs("cond")
    g = ganforge.load(run)
    assert cli(["sweep", str(run), "--base", "2,3", "--out", str(tmp_path / "s")]) == 0
    z, y = latent.load_latents(tmp_path / "s.png")
    assert z.shape == (20, 8) and y.tolist() == list(range(10)) * 2
    zf = latent.load_latents(run / "samples" / "latents.npz")[0]
    fig = latent.write_class_sweep(g, tmp_path / "api.png", zf[[2, 3]], ["#2", "#3"])
    assert Image.open(tmp_path / "s.png").size == Image.open(tmp_path / "api.png").size == fig["size"]
    assert fig["canvas_box"][2:] == ((2 * 18 + 2) * 4, (10 * 18 + 2) * 4)
    assert np.array_equal(canvas_tiles(tmp_path / "s.png", fig, 2, 10), viz.to_uint8(g(z, y))[..., 0])
    assert cli(["sweep", str(run), "--from", "1", "--to", "7", "--steps", "5", "-n", "2", "--out", str(tmp_path / "i")]) == 0
    f = np.load(tmp_path / "i.latents.npz")
    z, e = torch.from_numpy(f["z"]), torch.from_numpy(f["embedding"])
    x = latent.generate_with_embeddings(g, z, e)
    # the end columns are exactly G(z, 1) and G(z, 7)
    assert torch.equal(x[0::5], g(z[0::5], torch.full((2,), 1)))
    assert torch.equal(x[4::5], g(z[4::5], torch.full((2,), 7)))
    assert not torch.equal(x[2], x[0])
    assert cli(["sweep", str(runs("digits"))]) == 2
    assert "conditional" in capsys.readouterr().err
    assert cli(["sweep", str(run), "--from", "1"]) == 2


def test_compare_cli(runs, tmp_path, capsys):
    a, b = runs("z2"), runs("z2b")
    out = tmp_path / "cmp.png"
    assert cli(["compare", str(a), str(b), "-n", "12", "--features", "pixels", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    stats = json.loads((tmp_path / "cmp.json").read_text())
    assert stats["n"] == 12 and stats["unpaired"] > 0 and math.isclose(stats["ratio"], stats["paired"] / stats["unpaired"])
    assert f"{stats['ratio']:.3f}" in printed and str(out) in printed
    # pairs A | B: 4 pairs per row (⌈√12⌉), 3 rows; each pair is 16 + 1 + 16 pixels wide
    ga, gb = ganforge.load(a), ganforge.load(b)
    fig = latent.compare(ga, gb, tmp_path / "api.png", 12, names=(a.parent.name, b.parent.name), features="pixels")
    assert fig["stats"]["paired"] == stats["paired"] and Image.open(out).size == fig["size"]
    assert fig["canvas_box"][2:] == ((3 * 18 + 2) * 4, (4 * 35 + 2) * 4)
    z = latent.load_latents(out)[0]
    assert torch.equal(z, ga.latents(12, 0))
    xa, xb = (ga(z) + 1) / 2, (gb(z) + 1) / 2
    paired = ((xa - xb) ** 2).flatten(1).mean(1).sqrt().mean()
    assert math.isclose(stats["paired"], float(paired), rel_tol=1e-4)
    # a run against itself: paired distance 0
    assert cli(["compare", str(a), str(a), "-n", "40", "--features", "pixels", "--out", str(tmp_path / "self")]) == 0
    assert json.loads((tmp_path / "self.json").read_text())["paired"] == 0
    # labelled data by default: distances between the domain classifier's features of the images
    assert cli(["compare", str(a), str(b), "-n", "12", "--out", str(tmp_path / "feat")]) == 0
    feat = json.loads((tmp_path / "feat.json").read_text())
    assert feat["distance"] == "classifier features: Euclidean distance"
    ex = extractor_for("classifier", ga.info, sources(ga, None, "train")[1])
    fa, fb = (torch.from_numpy(ex.features(x)) for x in (ga(z), gb(z)))
    assert math.isclose(feat["paired"], float((fa - fb).norm(dim=1).mean()), rel_tol=1e-6)
    # points: two scatter panels; different nz: a clear error
    assert cli(["compare", str(runs("ring")), str(runs("ring")), "-n", "50", "--out", str(tmp_path / "ring")]) == 0
    assert Image.open(tmp_path / "ring.png").size == (800, 444)
    assert cli(["compare", str(a), str(runs("digits"))]) == 2
    assert "nz 2 and 8" in capsys.readouterr().err


def test_cli_option_errors(runs, tmp_path, capsys):
    run = str(runs("digits"))
    for argv, needle in [
        (["interpolate", run, "--pairs", "3-17"], "--pairs 3-17"),
        (["interpolate", run, "--pairs", "3:99"], "--pairs 99"),
        (["interpolate", run, "--pairs", "1:2", "--seeds", "1:2"], "one of them"),
        (["interpolate", run, "--pairs", "1:2", "--latents", str(tmp_path / "none.npz")], "no such file"),
        (["plane", run, "--dirs", "diagonal"], "--dirs diagonal"),
        (["plane", run, "--step", "0"], "--step 0"),
        (["arithmetic", run, "--a", "1,x", "--b", "1", "--c", "2"], "--a 1,x"),
        (["interpolate", str(runs("ring")), "--steps", "3"], "2-D points"),
    ]:
        assert cli(argv + ["--out", str(tmp_path / "e")]) == 2, argv
        assert needle in capsys.readouterr().err, argv


def test_default_outputs_go_under_the_run(runs, capsys):
    run = runs("digits")
    assert cli(["arithmetic", str(run / "checkpoints"), "--a", "0", "--b", "1", "--c", "2"]) == 0
    assert (run / "latent" / "arithmetic.png").is_file() and (run / "latent" / "arithmetic.latents.npz").is_file()
    assert str(run / "latent" / "arithmetic.png") in capsys.readouterr().out
    assert latent_cli.out_stem("x/y.png", run, "d") == latent_cli.out_stem("x/y", run, "d")
    assert latent_cli.out_stem(str(run) + "/", run, "d") == run / "d"


def test_the_latent_pictures_script_runs_every_command(shared_datasets, tmp_path):
    """docs/make_latent_images.py --quick: tiny runs, then every command docs/latent.md shows."""
    import importlib.util
    import re
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "docs" / "make_latent_images.py"
    spec = importlib.util.spec_from_file_location("make_latent_images", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    script.main(["--quick", "--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "images")])
    names = {p.name for p in (tmp_path / "images").iterdir()}
    page = (path.parent / "latent.md").read_text()
    shown = set(re.findall(r"\]\(images/(latent-[^)\s]+)\)", page))
    assert shown and shown <= names  # every picture (and score file) the latent page shows, written by the script
