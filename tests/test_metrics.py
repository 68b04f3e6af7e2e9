"""Evaluation: FID/KID/IS/precision-recall/density-coverage against independent computations,
toy scores, the memorization audit, the real-statistics cache, the Inception network, and
``evaluate``/``audit`` end to end on a tiny digits model."""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import warnings

import numpy as np
import pytest
import torch
from scipy import linalg
from scipy.spatial.distance import cdist

import ganforge
from ganforge import config as C
from ganforge.config import DataConfig
from ganforge.data.base import DataInfo
from ganforge.errors import ConfigError, DataError, GanforgeError
from ganforge.generator import Generator
from ganforge.metrics import evaluate as E
from ganforge.metrics import features as F
from ganforge.metrics import scores
from ganforge.metrics.audit import memorization
from ganforge.metrics.neighbours import knn

from conftest import tiny

PROTOCOL_KEYS = {"extractor", "weights_hash", "resize", "n_real", "n_generated", "reference", "seed",
                 "dataset", "dataset_hash", "ganforge_version"}


# ------------------------------------------------------------------------------------- FID

def exact_moments(rng, n: int, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """n samples whose sample mean and (ddof 1) covariance are exactly ``mean`` and ``cov``."""
    z = rng.normal(size=(n, len(mean)))
    z -= z.mean(0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False))).T  # whiten: cov exactly I
    return mean + z @ np.linalg.cholesky(cov).T


def test_fid_of_a_set_with_itself_is_zero():
    f = np.random.default_rng(0).normal(size=(400, 12))
    assert abs(scores.fid(scores.stats(f), f)) < 1e-8


def test_fid_of_two_gaussians_matches_the_closed_form():
    # Diagonal covariances: d² = |m1 - m2|² + Σ (√s1 - √s2)².
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=6), rng.normal(size=6)
    s1, s2 = rng.uniform(0.2, 2, size=6), rng.uniform(0.2, 2, size=6)
    gen = exact_moments(rng, 300, m2, np.diag(s2))
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert scores.fid((m1, np.diag(s1)), gen) == pytest.approx(expected, rel=1e-9)


def test_fid_agrees_with_an_independent_scipy_sqrtm_computation():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(500, 16)) @ rng.normal(size=(16, 16))
    b = rng.normal(size=(400, 16)) @ rng.normal(size=(16, 16)) + 0.5
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * linalg.sqrtm(s1 @ s2).real)
    got = scores.fid(scores.stats(a), b)
    assert abs(got - expected) <= 1e-6 * abs(expected)


# ------------------------------------------------------------------------------ KID and IS

def test_kid_is_about_zero_for_one_distribution_and_positive_for_two():
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    mean, std, size = scores.kid(a, b, subsets=20, subset_size=500)
    assert size == 500 and abs(mean) < 3 * std + 1e-3
    shifted, _, _ = scores.kid(a, b + 0.5, subsets=20, subset_size=500)
    assert shifted > 0.05 and shifted > 10 * std


def test_kid_is_unbiased_mmd2_with_the_cubic_kernel():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(30, 5)), rng.normal(size=(30, 5)) + 0.3
    k = lambda a, b: (a @ b.T / 5 + 1) ** 3
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    m = len(x)
    expected = ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.mean()
    assert scores.mmd2_unbiased(torch.tensor(x), torch.tensor(y)) == pytest.approx(expected, rel=1e-10)
    mean, std, _ = scores.kid(x, y, subsets=3, subset_size=30)  # the whole sets: every subset equal
    assert mean == pytest.approx(expected, rel=1e-10) and std < 1e-12


def test_kid_clips_the_subset_size_with_a_warning():
    rng = np.random.default_rng(5)
    with pytest.warns(UserWarning, match="subset size clipped from 1000 to 50"):
        _, _, size = scores.kid(rng.normal(size=(50, 4)), rng.normal(size=(80, 4)), subsets=2)
    assert size == 50


def test_inception_score_bounds():
    # Confident predictions spread evenly over 10 classes: IS = 10; one class for all: IS = 1.
    confident = torch.full((1000, 10), -50.0)
    confident[torch.arange(1000), torch.arange(1000) % 10] = 50.0
    assert scores.inception_score(confident, splits=1) == (pytest.approx(10, rel=1e-6), 0.0)
    mean, std = scores.inception_score(confident)  # 10 shuffled splits: p(y) per split is nearly uniform
    assert 9 < mean <= 10 and 0 < std < 0.5
    assert scores.inception_score(torch.zeros(100, 10))[0] == pytest.approx(1.0)


# ----------------------------------------------------------- nearest neighbours, P/R, D/C

def test_knn_is_exact_against_brute_force():
    rng = np.random.default_rng(6)
    q, r = rng.normal(size=(300, 20)), rng.normal(size=(1000, 20))
    d, i = knn(q, r, k=3, chunk=64)
    full = cdist(q, r)
    assert np.array_equal(i.numpy(), np.argsort(full, 1)[:, :3])
    np.testing.assert_allclose(d.numpy(), np.sort(full, 1)[:, :3], rtol=1e-6)
    d_self, i_self = knn(r, r, k=2, exclude_self=True)
    np.fill_diagonal(full := cdist(r, r), np.inf)
    assert np.array_equal(i_self.numpy(), np.argsort(full, 1)[:, :2])


def brute_prdc(real, fake):
    """Reference precision/recall (Kynkäänniemi, <=, k=3) and density/coverage (Naeem, <, k=5) with scipy."""
    rr, ff, rf = cdist(real, real), cdist(fake, fake), cdist(real, fake)
    r3, r5 = np.sort(rr, 1)[:, 3], np.sort(rr, 1)[:, 5]
    f3 = np.sort(ff, 1)[:, 3]
    return {"precision": (rf <= r3[:, None]).any(0).mean(), "recall": (rf <= f3[None, :]).any(1).mean(),
            "density": (rf < r5[:, None]).sum(0).mean() / 5, "coverage": (rf.min(1) < r5).mean()}


def test_precision_recall_density_coverage_match_a_brute_force_computation():
    rng = np.random.default_rng(7)
    real, fake = rng.normal(size=(200, 5)), rng.normal(size=(150, 5)) * 1.3 + 0.4
    got, want = scores.manifold_scores(real, fake), brute_prdc(real, fake)
    for k in want:
        assert got[k] == pytest.approx(want[k], abs=1e-12), k


def test_manifold_scores_on_constructed_sets():
    grid = np.stack(np.meshgrid(np.arange(10.0), np.arange(10.0), indexing="ij"), -1).reshape(-1, 2)
    same = scores.manifold_scores(grid, grid.copy())
    assert same["precision"] == same["recall"] == same["coverage"] == 1.0 and 0.9 < same["density"] < 1.6
    far = scores.manifold_scores(grid, grid + 1000)
    assert far == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}
    # Rows 0-4 copied, the other 50 samples far away: half precise; the copies' balls (radius 1
    # at the copied block's edge) reach real row 5, so recall and coverage are 6 rows of 10.
    half = scores.manifold_scores(grid, np.concatenate([grid[:50], grid[:50] + 1000]))
    assert half["precision"] == 0.5 and half["recall"] == 0.6 and half["coverage"] == 0.6


# ------------------------------------------------------------------------------- toy scores

class Fixed(torch.nn.Module):
    """A 'generator' returning given model-space outputs in turn, whatever the latent."""

    def __init__(self, out: torch.Tensor):
        super().__init__()
        self.out = out
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, z, y=None):
        return self.out[torch.arange(len(z)) % len(self.out)]


def test_toy_scores_on_points_exactly_at_5_of_8_modes():
    src = ganforge.data.build(DataConfig(name="ring8"))
    info = src.info
    centers = torch.tensor(info.centers)[:5]
    cfg = C.from_dict({"data": {"name": "ring8"}, "model": {"family": "mlp", "nz": 2}})
    g = Generator(Fixed(centers / info.point_scale), cfg, info)
    res = E.evaluate(g, metrics=["modes"], n=100)
    got = {r["metric"]: r["value"] for r in res}
    assert got["modes"] == 5 and got["high_quality"] == 1.0
    assert got["reverse_kl"] == pytest.approx(math.log(8 / 5), abs=1e-3)  # about uniform over 5 of 8 modes
    assert all(r["protocol"]["n_generated"] == 2500 and r["protocol"]["params"]["total_modes"] == 8 for r in res)
    # The feature metrics on points: the points themselves.
    res = E.evaluate(g, metrics=["pr"], n=500)
    assert res[0]["protocol"]["extractor"] == "pixels" and res[0]["protocol"]["feature_dim"] == 2
    assert E.best_value(res, "precision") > 0.9 and E.best_value(res, "recall") < 0.75


# ---------------------------------------------------------------------------------- audit

def test_audit_flags_planted_copies_and_not_fresh_samples():
    from sklearn.datasets import load_digits

    x = torch.tensor(load_digits().images, dtype=torch.float32).reshape(-1, 64) / 8 - 1
    x = x[torch.randperm(len(x), generator=torch.Generator().manual_seed(0))]
    proj = torch.randn(64, 16, generator=torch.Generator().manual_seed(1))
    spaces = lambda t: {"pixels": t, "features": t @ proj}
    train, held, fresh = x[:1200], x[1200:1500], x[1500:]
    m = memorization(spaces(fresh), spaces(train), spaces(held))
    assert m["score"] <= 0.05 and m["expected"] <= 0.03  # fresh real images: the rule's false-alarm rate
    planted = torch.cat([train[:40], fresh[:100]])
    m = memorization(spaces(planted), spaces(train), spaces(held))
    assert m["flagged"][:40].all() and m["flagged"][40:].mean() <= 0.05
    assert (m["spaces"]["pixels"]["index"][:40] == np.arange(40)).all()  # the copies' originals found


def test_audit_is_not_fooled_by_blur():
    """Blurred fresh images are nearer to the training images than sharp fresh ones (a plain
    distance rule flags most of them), yet copy none; a blurred copy still sits by its original."""
    nnf = torch.nn.functional
    g = torch.Generator().manual_seed(0)

    def photos(n):  # smooth fields plus fine detail, as photos are
        low = nnf.interpolate(torch.randn(n, 3, 4, 4, generator=g), size=16, mode="bilinear", align_corners=False)
        return (low + 0.3 * torch.randn(n, 3, 16, 16, generator=g)).clamp(-1, 1)

    spaces = lambda t: {"pixels": t.reshape(len(t), -1)}
    train, held = photos(300), photos(300)
    m = memorization(spaces(nnf.avg_pool2d(photos(200), 5, 1, 2, count_include_pad=False)), spaces(train), spaces(held))
    s = m["spaces"]["pixels"]
    assert (s["gen"] < np.quantile(s["heldout"], 0.01)).mean() >= 0.5  # what the distance alone would flag
    assert m["score"] <= 0.1  # 0.01 to 0.06 over seeds 0-5
    m = memorization(spaces(nnf.avg_pool2d(train[:100], 3, 1, 1, count_include_pad=False)), spaces(train), spaces(held))
    assert m["score"] == 1.0 and (m["spaces"]["pixels"]["index"] == np.arange(100)).all()


# ----------------------------------------------------------------------- inception network

def test_tf1_bilinear_resize():
    from ganforge.metrics.inception import resize_like_tf1

    x = torch.tensor([[[[0.0, 1.0]]]]).expand(1, 1, 2, 2)
    out = resize_like_tf1(x, 4)  # TF1: source = destination × 2/4, the last columns clamp to the edge
    assert torch.equal(out[0, 0, 0], torch.tensor([0.0, 0.5, 1.0, 1.0]))
    y = torch.rand(1, 3, 299, 299)
    assert torch.equal(resize_like_tf1(y), y)


def test_inception_builds_loads_its_state_dict_format_and_has_the_right_shapes(tmp_path):
    from ganforge.metrics.inception import FIDInceptionV3

    torch.manual_seed(0)
    net = FIDInceptionV3()
    for k, v in net.state_dict().items():  # random weights, with sane BatchNorm statistics
        if k.endswith("running_var"):
            v.uniform_(0.5, 1.5)
        elif v.is_floating_point():
            v.normal_(0, 0.05)
    state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}  # as the .pth file
    path = tmp_path / F.INCEPTION_FILE
    torch.save(state, path)
    info = DataInfo("image", (1, 16, 16), 10)
    ex = F.build("inception", info, weights=path)
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    f, lg = ex.run(x)
    assert f.shape == (2, 2048) and lg.shape == (2, 1008) and np.isfinite(f).all()
    assert ex.weights_hash == F.file_sha256(path)[:16] and ex.protocol()["resize"].startswith("quantized to uint8")
    net.load_state_dict({**state, "Conv2d_1a_3x3.bn.num_batches_tracked": torch.tensor(0)})
    with torch.no_grad():
        want, _ = net.eval()(((x.clamp(-1, 1) + 1) * 127.5).round().expand(-1, 3, -1, -1))
    np.testing.assert_allclose(f, want.numpy(), rtol=1e-5, atol=1e-6)
    torch.save({"fc.weight": torch.zeros(1008, 2048)}, tmp_path / "bad.pth")
    with pytest.raises(GanforgeError, match="missing: Conv2d_1a_3x3"):
        F.build("inception", info, weights=tmp_path / "bad.pth")


def test_inception_offline_without_weights_names_the_path(monkeypatch, tmp_path):
    def offline(url, dest, **kw):
        raise DataError(f"could not download {url} to {dest}: no network")

    monkeypatch.setattr("ganforge.data.download.fetch", offline)
    with pytest.raises(GanforgeError) as e:
        F.build("inception", DataInfo("image", (3, 32, 32), 0))
    msg = str(e.value)
    assert str(F.cache_dir() / "weights" / F.INCEPTION_FILE) in msg and "--features.weights" in msg
    with pytest.raises(ConfigError, match="no such file"):
        F.build("inception", DataInfo("image", (3, 32, 32), 0), weights=tmp_path / "missing.pth")


# ------------------------------------------------------------------------- end to end

@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    cfg = C.from_dict(tiny({"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan"}}))
    return ganforge.train(cfg, out=tmp_path_factory.mktemp("eval") / "r")


def test_evaluate_end_to_end_on_a_tiny_digits_model(digits_run):
    g = ganforge.load(digits_run)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # KID's subset size is clipped at this n
        res = E.evaluate(g, metrics=["fid", "kid", "pr", "dc", "is"], n=120)
    assert [r["metric"] for r in res] == ["fid", "kid", "precision", "recall", "density", "coverage", "is"]
    for r in res:
        assert PROTOCOL_KEYS <= set(r["protocol"]) and math.isfinite(r["value"])
        p = r["protocol"]
        assert p["extractor"] == "classifier" and p["n_generated"] == 120 and p["n_real"] == 120
        assert p["reference"] == "train" and p["dataset"] == "digits" and "not comparable" in p["note"]
    assert res[0]["value"] > 0 and "std" in res[1] and "std" in res[-1] and res[1]["protocol"]["params"]["subset_size"] == 120
    again = E.evaluate(g, metrics=["fid"], n=120)
    assert again[0]["value"] == res[0]["value"]  # same seed: same number
    assert ganforge.evaluate(digits_run, metrics=["fid"], n=120)[0]["value"] == res[0]["value"]  # the public API loads a run directory
    with pytest.raises(ConfigError, match="digits has no test split"):
        E.evaluate(g, metrics=["fid"], n=50, reference="test")
    with pytest.raises(ConfigError, match="needs class logits"):
        E.evaluate(g, metrics=["is"], n=50, features="pixels")

    E.append_results(digits_run, res, g.step)
    row = json.loads((digits_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["step"] == g.step and row["eval"][0]["metric"] == "fid"
    assert E.best_value(row["eval"], "fid") == res[0]["value"] and E.best_value(res, "modes") is None
    assert "fid" in E.LOWER_IS_BETTER and "precision" not in E.LOWER_IS_BETTER


def test_real_statistics_are_cached_on_disk(digits_run):
    g = ganforge.load(digits_run)
    src = ganforge.data.build(g.cfg.data)
    ex = E.extractor_for("pixels", g.info, src)
    E._real.clear()
    first, hit1 = E.real_features(src, ex, 100, seed=3)
    E._real.clear()  # only the disk cache is left
    second, hit2 = E.real_features(src, ex, 100, seed=3)
    assert not hit1 and hit2 and first["path"] == second["path"] and first["path"].is_file()
    np.testing.assert_array_equal(first["features"], second["features"])
    _, hit3 = E.real_features(src, ex, 100, seed=4)  # another subset: another entry
    assert not hit3


@pytest.mark.filterwarnings("ignore:Matrix is singular", "ignore:frechet_distance")  # pixel FID at n = 100
def test_cli_evaluate_and_audit(digits_run, tmp_path, capsys):
    from ganforge import cli
    from ganforge.cli import evaluate as eval_cli

    def run(*argv):
        rest, extra = cli.split_overrides(list(argv))
        p = argparse.ArgumentParser()
        eval_cli.register(p.add_subparsers(dest="command"))
        args = p.parse_args(rest)
        args.func(args, extra)
        return capsys.readouterr().out

    before = len((digits_run / "metrics.jsonl").read_text().splitlines())
    out = run("evaluate", str(digits_run), "--metrics", "fid,pr", "-n", "100", "--features", "pixels")
    assert "fid" in out and "precision" in out and "pixels@" in out and "protocol:" in out
    assert len((digits_run / "metrics.jsonl").read_text().splitlines()) == before + 1
    with pytest.raises(ConfigError, match="unknown option --data.rot"):
        run("evaluate", str(digits_run), "--data.rot", "x")

    out = run("audit", str(digits_run), "-n", "100", "--out", str(tmp_path / "a"), "--data.root", str(tmp_path))
    assert "memorization score" in out
    s = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert 0 <= s["memorization_score"] <= 1 and set(s["spaces"]) == {"pixels", "features"}
    assert s["protocol"]["extractor"] == "classifier" and len(s["closest_pairs"]) == 16
    assert (tmp_path / "a" / "distances.png").stat().st_size > 0 and (tmp_path / "a" / "pairs.png").stat().st_size > 0


def test_metric_names_are_checked():
    info = DataInfo("image", (1, 16, 16), 10)
    assert E.resolve_metrics("fid,precision,recall,dc", info) == ["fid", "pr", "dc"]
    with pytest.raises(ConfigError, match="did you mean 'kid'"):
        E.resolve_metrics(["kidd"], info)
    with pytest.raises(ConfigError, match="2-D toy"):
        E.resolve_metrics(["modes"], info)
    with pytest.raises(ConfigError, match="Inception Score needs class logits"):
        E.resolve_metrics(["is"], DataInfo("image", (3, 32, 32), 0))  # unlabelled: auto means pixels
    assert E.resolve_metrics(["is"], DataInfo("image", (3, 32, 32), 0), features="inception") == ["is"]


def test_audit_on_mnist_flags_a_generator_that_returns_training_images(shared_datasets, tmp_path):
    from ganforge.metrics.audit import audit

    cfg = C.from_dict({"data": {"name": "mnist", "resolution": 28, "root": str(shared_datasets), "download": False},
                       "model": {"family": "dcgan", "nz": 8}})
    train = ganforge.data.build(cfg.data)
    test = ganforge.data.build(dataclasses.replace(cfg.data, split="test"))
    as_model = lambda u8: u8.float() / 127.5 - 1
    copier = Generator(Fixed(as_model(train.images[:200])), cfg, train.info)
    fresh = Generator(Fixed(as_model(test.images[5000:5200])), cfg, train.info)
    s = audit(copier, n=200, features="pixels", out=tmp_path / "copier")
    assert s["memorization_score"] == 1.0 and s["n_train"] == 60000 and "test split" in s["heldout"]
    assert s["closest_pairs"][0]["pixel_distance"] == 0.0
    s = audit(fresh, n=200, features="pixels", out=False)
    assert s["memorization_score"] <= 0.06
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 200 samples in 784 dimensions: singular covariances
        res = E.evaluate(fresh, metrics=["fid", "pr"], n=200, reference="test", features="pixels")
    assert res[0]["protocol"]["reference"] == "test" and res[0]["protocol"]["n_real"] == 200
    assert E.best_value(res, "precision") > 0.5


# ------------------------------------------------------------------ audit --heldout PATH

def write_photos(folder, count: int, seed: int):
    """``count`` smooth colour images (a gradient each), 20x24, in ``folder``."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = np.linspace(0, 1, 24)[None, :, None]
        Image.fromarray((a * (1 - t) + b * t).repeat(20, 0).astype(np.uint8)).save(folder / f"{i}.png")
    return folder


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """A tiny dcgan run (2 steps) on a folder of 30 photos, and a separate folder of 12 fresh ones."""
    base = tmp_path_factory.mktemp("heldout")
    train = write_photos(base / "train", 30, seed=0)
    fresh = write_photos(base / "fresh", 12, seed=1)
    cfg = C.from_dict(tiny({"data": {"name": "folder", "root": str(train), "resolution": 16, "labels": "none"},
                            "model": {"family": "dcgan"}, "train": {"steps": 2, "ckpt_every": 2}}))
    return ganforge.train(cfg, out=base / "r"), train, fresh


def test_audit_heldout_folder_of_fresh_photos_searches_the_whole_training_set(folder_run, tmp_path, capsys):
    from ganforge.cli import main

    run, train, fresh = folder_run
    assert main(["audit", str(run), "-n", "20", "--heldout", str(fresh), "--out", str(tmp_path / "a")]) == 0
    assert f"held-out: 12 photos from {fresh.resolve()} (never trained on); training images searched: 30" in capsys.readouterr().out
    s = json.loads((tmp_path / "a" / "audit.json").read_text())
    assert s["n_heldout"] == 12 and s["n_train"] == 30 and s["heldout"] == f"12 photos from {fresh.resolve()} (never trained on)"
    assert s["spaces"]["pixels"]["distance"]["heldout"]["min"] > 0  # fresh photos: none of them is a training image

    small = ganforge.audit(run, n=5, heldout=fresh, out=False)  # at most n held-out images, a seeded subset
    assert small["n_heldout"] == 5 and small["n_train"] == 30 and small["heldout"].startswith("5 of 12 photos from ")
    assert ganforge.audit(run, n=5, heldout=fresh, out=False)["spaces"] == small["spaces"]
    default = ganforge.audit(run, n=5, out=False)  # without: 10% of the training photos, left out of the search
    assert default["n_train"] == 27 and default["n_heldout"] == 3 and "did see them" in default["heldout"]


def test_audit_heldout_refuses_what_is_not_a_folder_of_fresh_photos(folder_run, digits_run, tmp_path, capsys):
    from ganforge.cli import main

    run, train, fresh = folder_run
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    (tmp_path / "file.png").write_bytes(b"")
    cases = {tmp_path / "missing": "no such folder", tmp_path / "file.png": "is a file, not a folder",
             tmp_path / "empty": "holds no images", train: f"is the training folder {train.resolve()}",
             train / ".." / train.name: "is the training folder", train.parent: "holds the training folder"}
    for path, message in cases.items():
        assert main(["audit", str(run), "-n", "4", "--heldout", str(path), "--out", str(tmp_path / "a")]) == 2
        err = capsys.readouterr().err
        assert f"--heldout {path}: {message}" in err, err
    assert not (tmp_path / "a").exists()
    with pytest.raises(ConfigError, match=f"--heldout {tmp_path / 'empty'}: holds no images"):
        ganforge.audit(run, n=4, heldout=tmp_path / "empty", out=False)
    with pytest.raises(ConfigError, match="only a folder run can take a folder of fresh photos.*datasets with a test split use it"):
        ganforge.audit(digits_run, n=4, heldout=fresh, out=False)
    assert main(["audit", str(digits_run), "-n", "4", "--heldout", str(fresh)]) == 2
    assert "--heldout" in capsys.readouterr().err
