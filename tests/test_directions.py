"""Directions: GANSpace (pca) and SeFa are orthonormal, ordered by explained variance,
reproducible from a seed, and the commands write them with a strip per direction."""
import numpy as np
import pytest
import torch

import ganforge
from ganforge import config as C
from ganforge.latent import directions

from conftest import tiny
from test_latent import cli

CASES = {
    "dcgan": tiny({"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan", "nz": 8}}),
    "mlp-cond": tiny({"data": {"name": "digits", "resolution": 16},
                      "model": {"family": "mlp", "nz": 6, "conditional": "concat"}}),
}


@pytest.fixture(scope="module")
def gens(tmp_path_factory):
    return {k: ganforge.load(ganforge.train(C.from_dict(v), out=tmp_path_factory.mktemp(k) / "run")) for k, v in CASES.items()}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("method", directions.METHODS)
def test_directions_are_orthonormal_ordered_and_reproducible(gens, case, method):
    g = gens[case]
    r = directions.find(g, method, samples=300, seed=3)
    d, ev = r["directions"].double(), r["explained_variance"]
    assert d.shape[1] == g.nz and 1 <= len(d) <= g.nz
    assert torch.allclose(d @ d.T, torch.eye(len(d), dtype=torch.float64), atol=1e-5)
    assert torch.all(ev[:-1] >= ev[1:] - 1e-12) and torch.all(ev >= 0) and float(ev.sum()) <= 1 + 1e-9
    again = directions.find(g, method, samples=300, seed=3)
    assert torch.equal(again["directions"], r["directions"])


def test_sefa_is_the_eigenbasis_of_the_first_layers_weight(gens):
    g = gens["dcgan"]  # first layer: ConvTranspose2d (nz, ch, 4, 4)
    w = g.net.net[0].weight.detach().double()
    a = w.reshape(w.shape[0], -1).T
    d = directions.sefa(g)["directions"].double()
    m = a.T @ a
    vals = torch.linalg.eigvalsh(m).flip(0)
    for k in range(len(d)):  # m d_k = λ_k d_k, in descending order
        assert torch.allclose(m @ d[k], vals[k] * d[k], atol=1e-6 * float(vals[0]))


def test_pca_first_direction_moves_the_first_component_most(gens):
    g = gens["dcgan"]
    r = directions.ganspace(g, n=400, seed=0)
    layer, _ = directions.first_layer(g)
    base = g.latents(64, 9)
    acts = {}
    h = layer.register_forward_hook(lambda m, i, o: acts.__setitem__("x", o.flatten(1)))
    moved = []
    for k in (0, len(r["directions"]) - 1):
        g(base)
        a0 = acts["x"]
        g(base + r["directions"][k])
        moved.append(float((acts["x"] - a0).norm(dim=1).mean()))
    h.remove()
    assert moved[0] > moved[1]


def test_directions_cli_writes_the_file_and_strips(gens, tmp_path):
    run = str(gens["mlp-cond"].source)
    out = tmp_path / "d"
    assert cli(["directions", run, "--method", "pca", "--samples", "200", "--out", str(out), "--show", "2",
                "--steps", "5", "--class", "3"]) == 0
    with np.load(out / "directions.npz") as f:
        assert f["directions"].shape[1] == 6 and str(f["method"]) == "pca" and int(f["seed"]) == 0
        first = torch.from_numpy(f["directions"][0])
    assert sorted(p.name for p in out.glob("direction-*.png")) == ["direction-00.png", "direction-01.png"]
    with np.load(out / "direction-00.latents.npz") as f:  # 3 bases x 5 offsets, class 3, along direction 0
        z, y = torch.from_numpy(f["z"]).view(3, 5, 6), f["y"]
    assert set(y.tolist()) == {3}
    step = z[:, 1:] - z[:, :-1]
    assert torch.allclose(step / step.norm(dim=2, keepdim=True), first.expand_as(step), atol=1e-4)


def test_a_points_generator_gets_the_file_and_a_plane_along_two_directions(tmp_path):
    run = ganforge.train(C.from_dict(tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none", "nz": 3}})),
                         out=tmp_path / "ring")
    out = tmp_path / "d"
    assert cli(["directions", str(run), "--method", "sefa", "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["directions.npz"]
    assert cli(["plane", str(run), "--directions", str(out), "--direction", "0,2", "--n", "3", "--out", str(tmp_path / "p")]) == 0
    d, _ = directions.load(out)
    with np.load(tmp_path / "p.latents.npz") as f:
        z, cell = torch.from_numpy(f["z"]), f["cell"]
    base = z[(cell == [1, 1]).all(1)][0]
    step = z[(cell == [1, 2]).all(1)][0] - base  # one column right: + step · d0
    assert torch.allclose(step / step.norm(), d[0], atol=1e-5)
