"""Each detector on synthetic signal traces, then the monitor and `diagnose` on real runs."""
import json
import math

import pytest
import torch

import ganforge
from ganforge import config as C
from ganforge import objectives
from ganforge.cli import main
from ganforge.config import ObjectiveConfig
from ganforge.data import build as build_data
from ganforge.config import DataConfig
from ganforge.health import HealthMonitor, diversity
from ganforge.errors import HealthStop

from conftest import tiny

HEALTHY = {"loss_d": 0.65, "loss_g": 1.5, "d_real": 0.75, "d_fake": 0.3, "d_fake_after": 0.3,
           "acc_real": 0.75, "acc_fake": 0.72, "grad_g": 1.0, "grad_d": 1.0}


def monitor(name="nonsaturating", window=5, tmp_path=None):
    return HealthMonitor(tmp_path, window, objectives.build(ObjectiveConfig(name=name)), warmup_step=0)


def feed(m, rows, start=1):
    events = []
    for i, r in enumerate(rows, start):
        events += m.observe(i * 10, {**HEALTHY, **r} if r is not None else HEALTHY)
    return events


def started(events):
    return [e["condition"] for e in events if e["status"] == "start"]


def test_a_healthy_trace_raises_no_alarm():
    assert feed(monitor(), [{}] * 30) == []


def test_d_loss_falling_to_0_001_triggers_d_wins_within_its_window():
    m = monitor(window=5)
    events = feed(m, [{}] * 5 + [{"loss_d": 0.001, "acc_real": 1.0, "acc_fake": 1.0}] * 5)
    assert started(events) == ["d_wins"]
    assert events[0]["step"] <= 10 * 10  # within the window of 5 rows after the fall
    assert "label smoothing" in " ".join(events[0]["remedies"])
    # and it ends when D stops winning
    assert [e["status"] for e in feed(m, [{}] * 5, start=11) if e["condition"] == "d_wins"] == ["end"]


def test_vanishing_generator_gradient():
    m = monitor(name="minimax")
    events = feed(m, [{}] * 3 + [{"grad_g": 1e-4, "d_fake_after": 0.001}] * 6)
    assert "vanishing_g_grad" in started(events)
    # a small gradient while D is fooled is not the condition
    assert "vanishing_g_grad" not in started(feed(monitor(name="minimax"), [{}] * 3 + [{"grad_g": 1e-4, "d_fake_after": 0.5}] * 6))


def test_minimax_saturated_from_the_start_is_vanishing_but_nonsaturating_is_not():
    """D winning from step one: no healthy gradient to compare with, but under minimax
    G's gradient is scaled by D(G(z)) itself; under the non-saturating loss it is not."""
    saturated = [{"d_fake_after": 0.002, "loss_d": 0.01, "acc_real": 1.0, "acc_fake": 1.0}] * 8
    assert {"vanishing_g_grad", "d_wins"} <= set(started(feed(monitor(name="minimax"), saturated)))
    assert "vanishing_g_grad" not in started(feed(monitor(name="nonsaturating"), saturated))


def test_loss_spikes_are_oscillation():
    rows = [{"loss_d": 0.6 + 0.01 * (i % 3)} for i in range(20)] + [{"loss_d": 30.0}, {}, {"loss_d": 25.0}, {}, {}]
    assert "oscillation" in started(feed(monitor(), rows))


def test_a_healthy_dcgans_loss_jitter_is_not_a_spike():
    """D loss near 0.2 that jumps to 0.9 now and then (the README's main job did this): each
    jump is many robust std above the median, but it is a healthy D loss, not a spike."""
    rows = [{"loss_d": [0.2, 0.18, 0.25, 0.16][i % 4]} for i in range(20)] + [{"loss_d": 0.88}, {}, {"loss_d": 0.94}, {}, {}]
    assert "oscillation" not in started(feed(monitor(), rows))


def test_non_finite_values_are_divergence():
    assert started(feed(monitor(), [{}, {"loss_g": math.nan}])) == ["divergence"]


def test_mode_collapse_from_diversity_and_from_toy_modes():
    m = monitor()
    data = torch.randn(256, 1, 8, 8)
    info = build_data(DataConfig(name="digits", resolution=16)).info
    for step in (10, 20, 30):  # low and not improving over three probes
        m.probe(step, data[:1].expand(256, -1, -1, -1) + 0.01 * torch.randn(256, 1, 8, 8), data, info)
    events = feed(m, [{}])
    assert started(events) == ["mode_collapse"] and "diversity" in events[0]["detail"]

    toy = build_data(DataConfig(name="grid25"))
    real, _ = toy.real_samples(256)
    centers = torch.tensor(toy.info.centers[:3]) / toy.info.point_scale  # 3 of 25 modes, in model space
    fake = centers.repeat(86, 1)[:256]
    m = monitor()
    for step in (10, 20, 30):
        m.probe(step, fake, real, toy.info)
    events = feed(m, [{}])
    assert started(events) == ["mode_collapse"] and events[0]["detail"] == "samples near 3 of 25 modes (3 captured within 3 std)"


def test_a_toy_generator_spread_between_the_modes_is_imprecise_not_collapsed():
    """Early in training samples lie between the modes: none captured, but all covered."""
    toy = build_data(DataConfig(name="grid25"))
    real, _ = toy.real_samples(256, seed=0)
    torch.manual_seed(0)  # unseeded, a mode got under 3 of the 256 samples now and then (24 of 25 covered)
    blurred = real + 0.3 * torch.randn_like(real)  # spread over the whole grid, off the modes
    m = monitor()
    for step in (10, 20, 30):
        out = m.probe(step, blurred, real, toy.info)
    assert out["modes_captured"] < 10 and out["modes"] == 25
    assert "mode_collapse" not in started(feed(m, [{}]))


def test_a_generator_still_spreading_out_is_not_collapsed():
    """Early training: low diversity that is rising is convergence in progress, not collapse."""
    m = monitor()
    data = torch.randn(256, 1, 8, 8)
    info = build_data(DataConfig(name="digits", resolution=16)).info
    for step, spread in ((10, 0.05), (20, 0.1), (30, 0.2)):
        m.probe(step, data * spread, data, info)
    assert "mode_collapse" not in started(feed(m, [{}]))


def test_quality_swinging_between_probes_is_oscillation():
    toy = build_data(DataConfig(name="ring8"))
    real, _ = toy.real_samples(256)
    m = monitor()
    for i in range(5):
        fake = real if i % 2 == 0 else real * 0.5  # on the modes, then far from them
        m.probe(10 * i, fake, real, toy.info)
    assert "oscillation" in started(feed(m, [{}]))


def test_diversity_of_identical_samples_is_zero_and_of_data_positive():
    x = torch.randn(1, 3, 32, 32).expand(10, -1, -1, -1)
    assert diversity(x) == 0.0 and diversity(torch.randn(10, 3, 32, 32)) > 0


def test_events_reach_health_jsonl_and_diagnose_writes_its_page(tmp_path, capsys):
    # learning rates of 1e-8: G stays where it starts, a deficit that provably persists
    cfg = C.from_dict(tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}},
                           optim={"lr_g": 1e-8, "lr_d": 1e-8},
                           train={"steps": 40, "log_every": 2}, health={"every": 4, "window": 2, "warmup": 0}))
    run = ganforge.train(cfg, out=tmp_path / "r")
    rows = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    assert any("diversity" in r and "high_quality" in r for r in rows)
    assert {"grad_g", "grad_d", "acc_real", "acc_fake", "d_fake_after"} <= rows[-1].keys()
    events = [json.loads(l) for l in (run / "health.jsonl").read_text().splitlines()]
    assert any(e["condition"] == "mode_collapse" for e in events)
    assert main(["diagnose", str(run)]) == 0
    out = capsys.readouterr().out
    assert "MODE COLLAPSE" in out and "try:" in out
    assert (run / "diagnose.png").stat().st_size > 10_000
    page = (run / "diagnose.html").read_text()
    assert "data:image/png;base64," in page and "src='http" not in page  # self-contained


def test_health_action_stop_checkpoints_and_explains(tmp_path):
    cfg = C.from_dict(tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}},
                           optim={"lr_g": 1e-8, "lr_d": 1e-8}, train={"steps": 40, "log_every": 2},
                           health={"every": 4, "window": 2, "warmup": 0, "action": "stop", "conditions": ["mode_collapse"]}))
    with pytest.raises(HealthStop, match="mode collapse.*Try:"):
        ganforge.train(cfg, out=tmp_path / "r")
    from ganforge import checkpoint
    assert checkpoint.load(tmp_path / "r")["step"] < 40


def test_monitor_state_resumes(tmp_path):
    m = monitor()
    feed(m, [{}] * 5 + [{"loss_d": 0.001, "acc_real": 1.0, "acc_fake": 1.0}] * 5)
    m2 = monitor()
    m2.load_state_dict(json.loads(json.dumps(m.state_dict())))
    assert m2.active == m.active and list(m2.rows) == list(m.rows)


def test_mode_collapse_from_the_classes_a_domain_classifier_finds(tmp_path):
    """Labelled data: samples of three digits only are three of ten classes, and all of them are ten."""
    from ganforge.metrics.classifier import train_classifier

    src = build_data(DataConfig(name="digits", resolution=8))
    clf = train_classifier(src.images, src.labels.numpy(), epochs=20)  # ~97% on its own data
    real, y = src.real_samples(1797)
    three = real[y < 3][:256]
    m = monitor()
    for step in (10, 20, 30):
        out = m.probe(step, three, real[:256], src.info, clf)
    assert out["modes"] == 3 and out["total_modes"] == 10 and out["class_coverage"] == 0.3
    events = feed(m, [{}])
    assert started(events) == ["mode_collapse"] and events[0]["detail"] == "3 of 10 classes covered (domain classifier)"

    m = monitor()
    for step in (10, 20, 30):
        out = m.probe(step, real[:256], real[:256], src.info, clf)
    assert out["modes"] == 10 and "mode_collapse" not in started(feed(m, [{}]))


def test_health_classes_trains_or_reuses_the_cached_domain_classifier(tmp_path, monkeypatch):
    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    run = lambda name, classes: ganforge.train(C.from_dict(tiny(
        {"data": {"name": "digits"}}, train={"steps": 4, "log_every": 2},
        health={"every": 2, "classes": classes})), out=tmp_path / name)
    coverage = lambda r: [row for row in map(json.loads, (r / "metrics.jsonl").read_text().splitlines()) if "class_coverage" in row]
    assert coverage(run("auto-before", "auto")) == []  # nothing cached yet: no classifier, no cost
    assert coverage(run("train", "train"))  # trained and cached ...
    assert coverage(run("auto-after", "auto"))  # ... and found by the next run
    assert coverage(run("off", "off")) == []
    # the judge never changes the training: same seed, same losses with and without it
    losses = lambda r: [(row["loss_d"], row["loss_g"]) for row in map(json.loads, (r / "metrics.jsonl").read_text().splitlines())
                        if "loss_d" in row]
    assert losses(tmp_path / "auto-before") == losses(tmp_path / "auto-after") == losses(tmp_path / "train")


def test_one_output_for_every_latent_is_collapse_at_the_first_probe():
    """A generator stuck on one image is flagged at once (not after three probes), in words
    that say what it means and what to try; a flat image is named as such."""
    info = build_data(DataConfig(name="digits", resolution=16)).info
    real = build_data(DataConfig(name="digits", resolution=16)).real_samples(256, seed=0)[0]
    for fake, flat in ((torch.full((256, 1, 16, 16), -0.02), True), (real[:1].expand(256, -1, -1, -1), False)):
        m = monitor()
        out = m.probe(10, fake, real, info)
        assert out["diversity"] < 1e-3 and (out["pixel_std"] < 1e-3) == flat
        (e,) = feed(m, [{}])
        assert e["condition"] == "mode_collapse" and e["title"] == "mode collapse to one output"
        assert e["detail"].startswith("every sample is nearly the same flat image" if flat else "every sample is nearly the same image")
        assert "flat grey square" in e["remedies"][0] and "G is not using its input" in e["explanation"]
    m = monitor()  # real images pass; flat ones of many shades are diverse, but each image is flat
    m.probe(10, real, real, info)
    assert feed(m, [{}]) == []
    m.probe(20, torch.rand(256, 1, 1, 1).expand(-1, -1, 16, 16) * 2 - 1, real, info)
    assert started(feed(m, [{}])) == ["mode_collapse"]


def test_no_one_output_alarm_on_points_or_before_the_warmup():
    toy = build_data(DataConfig(name="ring8"))
    real, _ = toy.real_samples(256)
    m = HealthMonitor(None, 5, objectives.build(ObjectiveConfig()), warmup_step=0, kind="points")
    m.probe(10, real * 0.02, real, toy.info)  # a toy G still near its starting point: the modes judge it, later
    assert "mode_collapse" not in started(feed(m, [{}]))
    info = build_data(DataConfig(name="digits", resolution=16)).info
    m = HealthMonitor(None, 5, objectives.build(ObjectiveConfig()), warmup_step=100)
    m.probe(10, torch.zeros(256, 1, 16, 16), torch.randn(256, 1, 16, 16), info)  # every G starts near-constant
    assert feed(m, [{}]) == []


class ConstantG(torch.nn.Module):
    """A generator that ignores its latent: one learnable image, grey at the start."""

    def __init__(self, shape):
        super().__init__()
        self.image = torch.nn.Parameter(torch.zeros(shape))

    def forward(self, z, y=None):
        return torch.tanh(self.image).expand(len(z), *self.image.shape)


def test_a_generator_with_one_constant_output_is_flagged_at_the_first_probe_of_a_run(tmp_path, monkeypatch, capsys):
    from ganforge import models

    real_build = models.build
    monkeypatch.setattr(models, "build", lambda cfg, info: (ConstantG(info.shape), real_build(cfg, info)[1]))
    cfg = C.from_dict(tiny({"data": {"name": "digits"}, "model": {"family": "dcgan"}},
                           train={"steps": 12, "log_every": 2}, health={"every": 4, "warmup": 0.25}))
    run = ganforge.train(cfg, out=tmp_path / "r")
    events = [json.loads(line) for line in (run / "health.jsonl").read_text().splitlines()]
    assert [(e["step"], e["condition"], e["status"]) for e in events] == [(4, "mode_collapse", "start")]  # the first judged probe
    assert "ganforge: warning: step 4: mode collapse to one output: every sample is nearly the same flat image" in capsys.readouterr().out
    assert main(["diagnose", str(run)]) == 0
    out = capsys.readouterr().out
    assert "MODE COLLAPSE TO ONE OUTPUT" in out and "why: every latent gives nearly the same image" in out
