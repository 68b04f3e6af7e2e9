"""Adaptive augmentation (p steered by r_t = E[sign(D(x_real))]) and data.mirror."""
from __future__ import annotations

import pytest
import torch
from conftest import tiny

import ganforge
from ganforge import checkpoint, data
from ganforge import config as C
from ganforge.augment import DInput
from ganforge.data.base import ImageSource
from ganforge.log import Reporter

CPU = torch.device("cpu")


def ada(**kw) -> DInput:
    o = C.from_dict({"objective": {"ada": True, "ada_kimg": 0.5, "ada_every": 2, **kw}}).objective
    return DInput(o.diffaugment, 0.0, 100, o)


def steer(aug: DInput, scores: torch.Tensor, steps: int) -> list[float]:
    ps = []
    for step in range(1, steps + 1):
        aug.observe(scores)
        aug.adapt(step)
        ps.append(aug.p)
    return ps


def test_p_rises_on_a_d_sure_of_the_reals_falls_on_one_that_is_not_and_stays_in_0_1():
    aug = ada()
    sure = torch.full((64,), 5.0)  # a planted D: large positive verdicts on every real image, r_t = 1
    ps = steer(aug, sure, 40)
    assert ps[1] > ps[0] == 0.0  # the first adjustment is at step 2 (ada_every)
    assert ps[1] == pytest.approx(128 / 500)  # images since the last adjustment / (ada_kimg * 1000)
    assert all(a <= b for a, b in zip(ps, ps[1:])) and ps[-1] == 1.0  # up, then held at 1
    unsure = torch.linspace(-1, 1, 64)  # half the reals judged fake: r_t = 0 < target 0.6
    ps = steer(aug, unsure, 40)
    assert all(a >= b for a, b in zip(ps, ps[1:])) and ps[-1] == 0.0
    assert all(0.0 <= p <= 1.0 for p in ps) and aug.rt == pytest.approx(0.0)


def test_p_gates_the_operations_per_image_and_off_means_untouched():
    aug = ada(diffaugment="cutout")
    x = torch.ones(200, 3, 8, 8)
    assert torch.equal(aug(x), x)  # p = 0: D sees the images as they are
    aug.p = 0.5
    changed = (aug(x) != x).flatten(1).any(1).float().mean()
    assert 0.3 < float(changed) < 0.7  # about half the images were cut
    plain = DInput("cutout", 0.0, 100)  # plain DiffAugment: every image
    assert bool((plain(x) != x).flatten(1).any(1).all())


def test_r_t_and_p_are_reported_and_written_to_metrics(tmp_path):
    (tmp_path / "run").mkdir()
    with Reporter(tmp_path / "run") as rep:
        aug = ada()
        aug.observe(torch.full((8,), 3.0))
        reported = aug.adapt(2)
        row = rep.flush(2)
    assert reported.keys() == {"ada_rt", "ada_p"} and row["ada_rt"] == 1.0 and row["ada_p"] == aug.p > 0
    assert '"ada_p": ' in (tmp_path / "run" / "metrics.jsonl").read_text()  # the dashboard and TensorBoard read these rows


OVERFIT = {"data": {"name": "digits", "resolution": 16}, "train": {"batch_size": 16, "log_every": 5, "ckpt_every": 10},
           "objective": {"ada": True, "ada_kimg": 0.2, "ada_every": 2}, "optim": {"lr_d": 2e-3, "lr_g": 1e-6}}


def test_p_rises_in_training_when_d_wins_and_survives_resume_bit_for_bit(tmp_path):
    """A D that learns fast against a G that barely moves: r_t goes to 1, p rises. Stopped at
    step 10 and resumed, p (and the weights) are those of 20 steps in one go."""
    cfg = C.from_dict(tiny(OVERFIT, train={"steps": 20}))
    straight = checkpoint.load(ganforge.train(cfg, out=tmp_path / "a"))
    assert straight["augment"]["p"] > 0.2
    half = C.from_dict(tiny(OVERFIT, train={"steps": 10}))
    ganforge.train(half, out=tmp_path / "b")
    assert 0 < checkpoint.load(tmp_path / "b")["augment"]["p"] < straight["augment"]["p"]
    ganforge.train(cfg, resume=tmp_path / "b")
    resumed = checkpoint.load(tmp_path / "b")
    assert resumed["step"] == 20 and resumed["augment"] == straight["augment"]  # floats compared exactly
    for name, w in straight["D"].items():
        assert torch.equal(w, resumed["D"][name]), name


def test_mirror_flips_about_half_the_images_and_resumes_exactly():
    x = torch.arange(40 * 4, dtype=torch.uint8).view(40, 1, 1, 4).expand(40, 1, 2, 4).contiguous()
    info = data.DataInfo("image", (1, 2, 4), 0)
    src = ImageSource(x, None, info, seed=1)
    src.mirror = True
    it = src.batches(8, CPU)
    batches = [next(it)[0] for _ in range(7)]  # crosses an epoch
    flipped = torch.cat([b[:, 0, 0, 0] > b[:, 0, 0, -1] for b in batches])  # rows of x increase left to right
    assert 0.25 < float(flipped.float().mean()) < 0.75
    plain = ImageSource(x, None, info, seed=1)
    first = next(plain.batches(8, CPU))[0]
    assert torch.equal(batches[0], torch.where((batches[0] != first).any(3, keepdim=True), first.flip(3), first))
    again = ImageSource(x, None, info, seed=1)
    again.mirror = True
    again.load_state_dict(src.state_dict())
    assert torch.equal(next(again.batches(8, CPU))[0], next(it)[0])


def test_mirror_reaches_the_training_batches(tmp_path):
    cfg = C.from_dict(tiny({"data": {"name": "digits", "mirror": True}}))
    from ganforge import training

    t = training.Trainer(cfg, tmp_path / "run")
    assert t.source.mirror is True
