"""Projection: images fitted like training data, latents recovered from G's own samples, the
output files in the order given, the held-out gap, and projected latents through every latent
command (--from-latents)."""
import json

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import config as C
from ganforge import latent, viz
from ganforge.data.base import RawImages, to_model_images
from ganforge.errors import ConfigError
from ganforge.latent import directions
from ganforge.latent.gap import gap, write_gap
from ganforge.latent.project import lr_at, project
from ganforge.latent.targets import load_targets

from conftest import tiny
from test_latent import cli

DIGITS = {"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan", "nz": 8}}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    cache = {}

    def get(name):
        if name not in cache:
            cfg = (tiny(DIGITS, model={"ngf": 16, "ndf": 16}, train={"steps": 150, "batch_size": 32}) if name == "digits" else tiny(DIGITS, model={"conditional": "concat"}))
            cache[name] = ganforge.train(C.from_dict(cfg), out=tmp_path_factory.mktemp(name) / "run")
        return cache[name]

    return get


def rms(a, b):
    return ((a - b) / 2).pow(2).flatten(1).mean(1).sqrt()


def test_learning_rate_schedule_ramps_up_and_down():
    assert lr_at(0.5, 1.0) == 1.0
    assert lr_at(0.01, 1.0) < 0.25 and lr_at(0.99, 1.0) < 0.01
    assert lr_at(0.8, 1.0) < lr_at(0.76, 1.0) < 1.0


@pytest.mark.parametrize("distance", ["pixels", "pixels+d"])
def test_projection_recovers_a_sample_of_the_same_generator(runs, distance):
    g = ganforge.load(runs("digits"))
    z = g.latents(4, 11)
    x = g(z)
    r = project(g, x, distance, steps=120, starts=4, seed=0)
    baseline = rms(g(g.latents(4, 12)), x).mean()  # a random latent's distance
    assert r["rms"].mean() < 0.25 * baseline, (float(r["rms"].mean()), float(baseline))
    assert torch.allclose(g(r["z"]), r["images"])  # the reported latents make the reported images
    assert torch.allclose(r["rms"], rms(r["images"], x))
    again = project(g, x, distance, steps=120, starts=4, seed=0)
    assert torch.equal(again["z"], r["z"])  # reproducible from the seed


def test_conditional_projection_tries_the_classes_given(runs):
    g = ganforge.load(runs("cond"))
    x = g(g.latents(3, 5), torch.tensor([1, 2, 3]))
    r = project(g, x, "pixels", steps=8, starts=2, classes="2,3")
    assert set(r["y"].tolist()) <= {2, 3}
    assert torch.allclose(g(r["z"], r["y"]), r["images"])
    with pytest.raises(ConfigError, match="class 12"):
        project(g, x, "pixels", steps=2, classes="12")


def test_targets_are_fitted_as_training_data_is(runs, tmp_path):
    g = ganforge.load(runs("digits"))  # 1 x 16 x 16, trained on an array dataset
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (30, 40, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "wide.png")
    rgba = np.dstack([rgb, np.zeros((30, 40), np.uint8)])  # fully transparent: white, as folders read it
    Image.fromarray(rgba, "RGBA").save(tmp_path / "clear.png")
    x, names = load_targets(g, [tmp_path / "wide.png", tmp_path / "clear.png"])
    assert names == ["wide.png", "clear.png"] and x.shape == (2, 1, 16, 16)
    grey = np.asarray(Image.fromarray(rgb).convert("L"))[None, ..., None].copy()
    want = to_model_images(RawImages(grey), 16, 1).float() / 127.5 - 1
    assert torch.equal(x[:1], want)
    assert torch.all(x[1] == 1.0)
    inverted, _ = load_targets(g, [tmp_path / "wide.png"], invert=True)  # a digit drawn dark on light
    assert torch.equal(inverted, -x[:1])
    with pytest.raises(ganforge.GanforgeError, match="no such image"):
        load_targets(g, [tmp_path / "missing.png"])


def test_project_cli_writes_every_output_in_the_order_given(runs, tmp_path, capsys):
    g = ganforge.load(runs("digits"))
    x = viz.to_uint8(g(g.latents(3, 2)))
    np.savez(tmp_path / "three.npz", images=x)
    Image.fromarray(x[0, ..., 0]).resize((50, 50)).save(tmp_path / "big.png")
    out = tmp_path / "proj"
    assert cli(["project", str(runs("digits")), str(tmp_path / "big.png"), str(tmp_path / "three.npz"), "--out", str(out),
                "--steps", "20", "--starts", "2"]) == 0
    with np.load(out / "latents.npz") as f:
        z, names = torch.from_numpy(f["z"]), list(f["names"])
        assert "y" not in f and z.shape == (4, g.nz)
    assert names == ["big.png", "three[0]", "three[1]", "three[2]"]
    with np.load(out / "reconstructions.npz") as f:
        assert f["images"].dtype == np.uint8 and f["images"].shape == (4, 16, 16, 1)
        assert np.array_equal(f["images"], viz.to_uint8(g(z)))
        assert np.array_equal(f["targets"][1:], x)
    rows = json.loads((out / "distances.json").read_text())["images"]
    assert [r["name"] for r in rows] == names and all(0 <= r["rms"] <= 1 for r in rows)
    assert (out / "projection.png").is_file() and (out / "progress.gif").is_file()
    assert "RMS" in capsys.readouterr().out


def test_projected_latents_round_trip_through_every_latent_command(runs, tmp_path):
    """Projected photos → interpolate, plane, arithmetic, sweep (a direction), compare: each
    starts from exactly the projected images."""
    run = str(runs("digits"))
    g = ganforge.load(run)
    proj = tmp_path / "proj"
    assert cli(["project", run, *[str(p) for p in _digit_files(tmp_path)], "--out", str(proj), "--steps", "10",
                "--starts", "2", "--distance", "pixels"]) == 0
    z, _ = latent.load_latents(proj)  # the folder reads as its latents.npz
    with np.load(proj / "reconstructions.npz") as f:
        recon = f["images"]
    dirs = tmp_path / "dirs"
    assert cli(["directions", run, "--method", "sefa", "--out", str(dirs), "--show", "1"]) == 0
    o = tmp_path / "o"
    assert cli(["interpolate", run, "--from-latents", str(proj), "--out", str(o / "i"), "--steps", "4"]) == 0
    strip, _ = latent.load_latents(o / "i-0-1.png")
    assert torch.equal(strip[0], z[0]) and torch.equal(strip[-1], z[1])
    assert cli(["interpolate", run, "--from-latents", str(proj), "--directions", str(dirs), "--out", str(o / "w")]) == 0
    walk, _ = latent.load_latents(o / "w-row0.png")
    assert torch.allclose(walk.mean(0), z[0], atol=1e-5)  # a symmetric walk through the photo's latent
    assert cli(["plane", run, "--from-latents", str(proj), "--base", "2", "--directions", str(dirs), "--n", "3",
                "--out", str(o / "p")]) == 0
    with np.load(o / "p.latents.npz") as f:
        centre = torch.from_numpy(f["z"][(f["cell"] == [1, 1]).all(1)][0])
    assert torch.equal(centre, z[2]) and np.array_equal(viz.to_uint8(g(centre[None]))[0], recon[2])
    assert cli(["arithmetic", run, "--from-latents", str(proj), "--a", "0", "--b", "1", "--c", "2", "--out", str(o / "a")]) == 0
    with np.load(o / "a.latents.npz") as f:
        assert np.allclose(f["result"], (z[0] - z[1] + z[2]).numpy(), atol=1e-6)
    assert cli(["sweep", run, "--from-latents", str(proj), "--directions", str(dirs), "--steps", "3", "--out", str(o / "s")]) == 0
    with np.load(o / "s.latents.npz") as f:
        assert np.allclose(f["z"][1::3], z.numpy(), atol=1e-6)  # the middle column: offset 0, the photos
    assert cli(["compare", run, run, "--from-latents", str(proj), "--features", "pixels", "--out", str(o / "c")]) == 0
    assert json.loads((o / "c.json").read_text())["paired"] == 0.0  # the same run: identical outputs


def _digit_files(tmp_path):
    from sklearn.datasets import load_digits

    paths = []
    for i, im in enumerate(load_digits().images[:3]):
        p = tmp_path / f"digit{i}.png"
        Image.fromarray(np.round(im * 255 / 16).astype(np.uint8)).save(p)
        paths.append(p)
    return paths


def test_gap_summary():
    s = gap(torch.tensor([0.1, 0.1, 0.1]), torch.tensor([0.2, 0.3, 0.1]))
    assert s["gap"] == pytest.approx(0.1) and s["ratio"] == pytest.approx(2.0)
    assert s["gap_standard_error"] > 0 and s["n_train"] == 3


def test_gap_needs_a_held_out_split(runs, tmp_path):
    with pytest.raises(ConfigError, match="no held-out"):
        write_gap(ganforge.load(runs("digits")), tmp_path, n=2)


def test_gap_on_mnist_projects_both_splits(shared_datasets, tmp_path):
    cfg = tiny({"data": {"name": "mnist", "resolution": 28, "root": str(shared_datasets), "download": False},
                "model": {"family": "dcgan", "nz": 8}}, train={"steps": 2})
    run = ganforge.train(C.from_dict(cfg), out=tmp_path / "run")
    out = tmp_path / "gap"
    assert cli(["project", str(run), "--gap", "3", "--steps", "4", "--starts", "1", "--out", str(out)]) == 0
    s = json.loads((out / "gap.json").read_text())
    tr = json.loads((out / "train" / "distances.json").read_text())["images"]
    ho = json.loads((out / "heldout" / "distances.json").read_text())["images"]
    assert s["train_rms"] == pytest.approx(np.mean([r["rms"] for r in tr]))
    assert s["gap"] == pytest.approx(np.mean([r["rms"] for r in ho]) - s["train_rms"])


def test_directions_file_errors(runs, tmp_path):
    g = ganforge.load(runs("digits"))
    with pytest.raises(ConfigError, match="no such file"):
        directions.load(tmp_path / "nope.npz")
    directions.save(directions.sefa(g), tmp_path / "d.npz")
    with pytest.raises(ConfigError, match="nz is 5"):
        directions.load(tmp_path / "d.npz", nz=5)
    d, _ = directions.load(tmp_path / "d.npz")
    with pytest.raises(ConfigError, match="has 8 directions"):
        directions.pick(d, [9], tmp_path / "d.npz")
