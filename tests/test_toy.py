import math

import pytest
import torch

import ganforge
from ganforge import config as C
from ganforge import data
from ganforge.config import DataConfig
from ganforge.metrics import toy_scores



@pytest.mark.parametrize("name, n_modes, std, radius", [("ring8", 8, 0.01, 1.0), ("grid25", 25, 0.05, 4 * math.sqrt(2))])
def test_toys_know_their_modes_and_sample_from_them(name, n_modes, std, radius):
    src = data.build(DataConfig(name=name))
    c = torch.tensor(src.info.centers)
    assert c.shape == (n_modes, 2) and src.info.std == std
    assert math.isclose(float(c.norm(dim=1).max()), radius, rel_tol=1e-6)
    pts, _ = src.real_samples(2500, seed=0)
    assert pts.abs().max() <= 1.0  # model space: divided by the extent
    s = toy_scores(pts * src.info.point_scale, src.info.centers, src.info.std)
    # real data: every mode, and the 2-D Gaussian mass within 3 std, 1 - exp(-9/2) = 98.9%
    assert s.modes == n_modes and abs(s.high_quality - (1 - math.exp(-4.5))) < 0.01


def test_grid25_is_at_minus_four_to_four_and_options_scale_it():
    assert sorted({x for x, _ in data.build(DataConfig(name="grid25")).info.centers}) == [-4, -2, 0, 2, 4]
    src = data.build(DataConfig(name="ring8", scale=2.0, std=0.1))
    assert src.info.std == 0.1 and math.isclose(max(abs(v) for c in src.info.centers for v in c), 2.0)


def test_swissroll_samples_lie_on_the_roll():
    src = data.build(DataConfig(name="swissroll"))
    pts, _ = src.real_samples(1000)
    assert pts.shape == (1000, 2) and pts.abs().max() <= 1.0
    r = (pts * src.info.point_scale).norm(dim=1) * 7.5  # t = radius of the roll
    assert r.min() > 1.5 * math.pi - 1 and r.max() < 4.5 * math.pi + 1


def test_toy_scores_on_constructed_points():
    centers = data.build(DataConfig(name="ring8")).info.centers
    exact = torch.tensor(centers[:5]).repeat(100, 1)  # points exactly at 5 of 8 modes
    s = toy_scores(exact, centers, 0.01)
    assert (s.modes, s.high_quality) == (5, 1.0)
    assert math.isclose(s.reverse_kl, math.log(8 / 5), rel_tol=1e-9)  # uniform over 5 of 8
    far = torch.zeros(10, 2)  # the centre of the ring: far from every mode
    assert toy_scores(far, centers, 0.01).high_quality == 0.0
    half = torch.cat([exact, torch.zeros(500, 2)])
    assert toy_scores(half, centers, 0.01).high_quality == 0.5


def test_ema_update_is_a_moving_average():
    from ganforge.training import ema_update

    a, b = torch.nn.Linear(3, 2), torch.nn.Linear(3, 2)
    bn_a, bn_b = torch.nn.BatchNorm1d(2), torch.nn.BatchNorm1d(2)
    ema, live = torch.nn.Sequential(a, bn_a), torch.nn.Sequential(b, bn_b)
    bn_b.running_mean.fill_(5.0)
    expected = [0.9 * p.detach() + 0.1 * q.detach() for p, q in zip(ema.parameters(), live.parameters())]
    ema_update(ema, live, 0.9)
    for p, e in zip(ema.parameters(), expected):
        assert torch.allclose(p, e, atol=1e-7)
    assert torch.equal(bn_a.running_mean, bn_b.running_mean)  # buffers are copied



def test_ema_rampup_halflife_grows_with_the_steps_up_to_the_decay():
    from ganforge.training import ema_decay

    assert ema_decay(0.999, 0.0, 1) == 0.999  # no warm-up: constant
    for step in (1, 10, 100, 1000):  # half-life rampup·step: after that many steps a weight halves
        d = ema_decay(0.9999, 0.05, step)
        assert d ** (0.05 * step) == pytest.approx(0.5)
    assert ema_decay(0.999, 0.05, 1) < ema_decay(0.999, 0.05, 100) < 0.999
    assert ema_decay(0.999, 0.05, 100_000) == 0.999  # capped at train.ema


def test_lr_decay_falls_linearly_over_the_last_fraction_and_a_rollback_lowers_its_base():
    from types import SimpleNamespace

    from ganforge.training import decay_lr

    net = torch.nn.Linear(2, 2)
    game = SimpleNamespace(opt_g=torch.optim.Adam(net.parameters(), lr=1e-3), opt_d=torch.optim.Adam(net.parameters(), lr=2e-3))
    lrs = []
    for step in range(1, 11):
        decay_lr(game, 0.4, step, 10)  # the last 4 of 10 steps decay
        lrs.append(game.opt_g.param_groups[0]["lr"])
    assert lrs == pytest.approx([1e-3] * 6 + [1e-3 * k / 4 for k in (4, 3, 2, 1)])
    assert game.opt_d.param_groups[0]["lr"] == pytest.approx(2e-3 / 4)
    game.opt_g.param_groups[0]["initial_lr"] *= 0.5  # what Trainer.recover does to it
    decay_lr(game, 0.4, 9, 10)
    assert game.opt_g.param_groups[0]["lr"] == pytest.approx(0.5e-3 * 2 / 4)
    decay_lr(game, 0.0, 10, 10)  # off: the rates are left alone
    assert game.opt_g.param_groups[0]["lr"] == pytest.approx(0.5e-3 * 2 / 4)


@pytest.mark.slow
def test_gan_ring8_preset_learns_the_ring(tmp_path):
    """The learning test: the default toy preset puts >= 90% of 2,500 samples within 3 std
    of a mode centre and covers >= 7 of the 8 modes (PacGAN/VEEGAN protocol)."""
    cfg = C.load(preset="gan-ring8", overrides={"train": {"progress": False, "tensorboard": False}})
    run = ganforge.train(cfg, out=tmp_path / "ring")
    g = ganforge.load(run)
    s = toy_scores(g.sample(2500, seed=0), g.info.centers, g.info.std)
    print("gan-ring8:", s)
    assert s.modes >= 7 and s.high_quality >= 0.90, s
