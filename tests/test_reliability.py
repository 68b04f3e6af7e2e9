"""What ganforge promises: nothing lost (atomic checkpoints, clean stops, exact resume,
bounded rollbacks, clear disk errors) and nothing let in (no code runs from a checkpoint)."""
import errno
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge import checkpoint, runs, training, viz
from ganforge import config as C
from ganforge.errors import CheckpointError, ConfigError, GanforgeError
from ganforge.errors import TrainingDiverged, TrainingStopped

from conftest import tiny

TOY = {"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}}
TRAIN_CMD = [sys.executable, "-m", "ganforge", "train", "--preset", "gan-ring8", "--train.steps", "1000000",
             "--train.progress", "false", "--train.tensorboard", "false", "--train.log_every", "5"]


def _start(out: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([*TRAIN_CMD, "--out", str(out), *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _wait_for_training(out: Path, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while not (out / "metrics.jsonl").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.time() < deadline, "training did not start"
        time.sleep(0.1)


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_finishes_the_step_checkpoints_and_says_how_to_resume(tmp_path, sig, code):
    out = tmp_path / "run"
    proc = _start(out)
    _wait_for_training(out, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == code, err
    assert f"ganforge train --resume {out}" in err
    state = checkpoint.load(out)
    assert state["step"] > 0 and not list((out / "checkpoints").glob(".*.tmp"))
    run = ganforge.train(C.from_dict(C.merge(state["config"], {"train": {"steps": state["step"] + 3}})), resume=out)
    assert checkpoint.load(run)["step"] == state["step"] + 3


def test_a_second_ctrl_c_stops_at_once_and_corrupts_nothing(tmp_path):
    out = tmp_path / "run"
    proc = _start(out, "--train.ckpt_every", "1")
    _wait_for_training(out, proc)
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert proc.returncode != 0
    for p in (out / "checkpoints").glob("step-*.pt"):
        checkpoint.load(p)  # every file there is whole
    assert not list((out / "checkpoints").glob(".*.tmp"))


def test_kill_9_at_any_moment_leaves_the_previous_checkpoint_loadable(tmp_path):
    out = tmp_path / "run"
    rng = random.Random(0)
    for attempt in range(3):  # kill while checkpoints are written every step
        proc = _start(out, "--train.ckpt_every", "1") if attempt == 0 else subprocess.Popen(
            [sys.executable, "-m", "ganforge", "train", "--resume", str(out), "--train.steps", "1000000"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_training(out, proc)
        time.sleep(rng.uniform(0.2, 1.5))
        proc.kill()
        proc.communicate()
        state = checkpoint.load(out)  # the latest whole checkpoint
        assert torch.isfinite(state["G"]["net.0.weight"]).all()


def _poison(after_step: int, times: int):
    """A gan_step that turns G's weights to NaN at the given step, ``times`` times."""
    real, count = training.gan_step, [0]

    def step(game, batches):
        real(game, batches)
        if count[0] < times and game.aug.step >= after_step:
            count[0] += 1
            with torch.no_grad():
                next(game.G.parameters()).fill_(float("nan"))

    return step


def test_a_transient_divergence_rolls_back_and_finishes(tmp_path, monkeypatch):
    monkeypatch.setattr(training.loop, "gan_step", _poison(after_step=5, times=1))
    cfg = C.from_dict(tiny(TOY, train={"steps": 8, "ckpt_every": 4, "log_every": 1}))
    run = ganforge.train(cfg, out=tmp_path / "r")
    state = checkpoint.load(run)
    assert state["step"] == 8 and state["rollbacks"] == 1
    assert all(torch.isfinite(v).all() for v in state["G"].values())
    assert state["opt_g"]["param_groups"][0]["lr"] == pytest.approx(cfg.optim.lr_g * 0.5)
    assert '"event": "rollback"' in (run / "health.jsonl").read_text()


def test_one_non_finite_row_rolls_back_exactly_once_even_when_health_acts_on_it_too(tmp_path, monkeypatch):
    """health.action rollback, and the row that turns NaN also starts a health condition: the
    loop acts on one decision, so training rolls back once (not once for health, once more for
    the divergence)."""
    from ganforge.health import HealthMonitor

    observe = HealthMonitor.observe

    def observe_and_plant(self, step, row):
        events = observe(self, step, row)
        if not all(isinstance(v, (int, float)) and v == v for v in row.values()):  # NaN: plant a condition
            events.append({"step": step, "condition": "mode_collapse", "status": "start", "title": "mode collapse",
                           "detail": "planted", "remedies": ["none"]})
        return events

    monkeypatch.setattr(HealthMonitor, "observe", observe_and_plant)
    monkeypatch.setattr(training.loop, "gan_step", _poison(after_step=5, times=1))
    cfg = C.from_dict(tiny(TOY, train={"steps": 8, "ckpt_every": 4, "log_every": 1, "max_rollbacks": 3},
                           health={"action": "rollback", "warmup": 0.0}))
    run = ganforge.train(cfg, out=tmp_path / "r")
    rollbacks = [e for e in runs.read_health(run) if e.get("event") == "rollback"]
    assert len(rollbacks) == 1 and checkpoint.load(run)["rollbacks"] == 1, rollbacks
    assert rollbacks[0]["reason"].startswith("a non-finite loss")  # the divergence's rollback: both rates lowered


def test_a_persistent_divergence_gives_up_after_the_bounded_attempts(tmp_path, monkeypatch):
    monkeypatch.setattr(training.loop, "gan_step", _poison(after_step=3, times=10**9))
    cfg = C.from_dict(tiny(TOY, train={"steps": 50, "ckpt_every": 2, "log_every": 1, "max_rollbacks": 2}))
    with pytest.raises(TrainingDiverged, match="2 rollbacks did not cure it"):
        ganforge.train(cfg, out=tmp_path / "r")
    for p in (tmp_path / "r" / "checkpoints").glob("step-*.pt"):  # no non-finite checkpoint was ever written
        assert all(torch.isfinite(v).all() for v in checkpoint.load(p)["G"].values())


def test_a_full_disk_is_a_clear_error_and_the_previous_checkpoint_survives(tmp_path, monkeypatch):
    run = ganforge.train(C.from_dict(tiny(TOY)), out=tmp_path / "r")
    before = checkpoint.latest(run / "checkpoints")
    good = before.read_bytes()

    def full_disk(obj, f):
        f.write(b"partial checkpoint bytes")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint.torch, "save", full_disk)
    cfg = C.from_dict(C.merge(checkpoint.load(run)["config"], {"train": {"steps": 6}}))
    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoint is intact"):
        ganforge.train(cfg, resume=run)
    assert before.read_bytes() == good and checkpoint.latest(run / "checkpoints") == before
    assert not [p for p in (run / "checkpoints").iterdir() if p.name.startswith(".")]


def test_a_full_disk_while_writing_samples_names_the_file(tmp_path, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", "samples/step-000002.png")

    monkeypatch.setattr(viz, "scatter", full)
    with pytest.raises(GanforgeError, match="could not write samples/step-000002.png: No space left on device"):
        ganforge.train(C.from_dict(tiny(TOY)), out=tmp_path / "r")


def test_an_unwritable_run_directory_is_a_clear_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(ConfigError, match="cannot create run directory"):
        ganforge.train(C.from_dict(tiny(TOY)), out=blocker / "run")


def test_the_refusing_test_payload_really_runs_code_under_plain_torch_load(tmp_path):
    """The malicious checkpoint of test_training is real: plain torch.load runs it."""
    from test_training import _Evil

    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.target = str(marker)
    torch.save({"payload": evil}, tmp_path / "evil.pt")
    torch.load(tmp_path / "evil.pt", weights_only=False)
    assert marker.exists()


STATEFUL = {"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan", "conditional": "acgan", "mbstd": True},
            "objective": {"diffaugment": "color,translation,cutout", "instance_noise": 0.1, "mode_seeking": 1.0},
            "optim": {"lr_decay": 1.0}, "train": {"ema": 0.9, "d_steps": 2}}


def test_exact_resume_covers_ema_augmentation_noise_and_critic_steps(tmp_path, monkeypatch):
    """Interrupted at step 3 of 6 by a real SIGINT, then resumed: bit-identical to 6 in one go,
    with EMA, DiffAugment, annealed instance noise, mode seeking, AC-GAN, 2 critic steps and a
    learning-rate decay."""
    cfg = C.from_dict(tiny(STATEFUL, train={"steps": 6}))
    straight = ganforge.train(cfg, out=tmp_path / "a")
    real = training.gan_step

    def interrupt_at_3(game, batches):
        real(game, batches)
        if game.aug.step == 3:
            os.kill(os.getpid(), signal.SIGINT)

    monkeypatch.setattr(training.loop, "gan_step", interrupt_at_3)
    with pytest.raises(TrainingStopped):
        ganforge.train(cfg, out=tmp_path / "b")
    monkeypatch.setattr(training.loop, "gan_step", real)
    assert checkpoint.load(tmp_path / "b")["step"] == 3
    ganforge.train(cfg, resume=tmp_path / "b")
    a, b = checkpoint.load(straight), checkpoint.load(tmp_path / "b")
    for key in ("G", "D", "G_ema"):
        for name in a[key]:
            assert torch.equal(a[key][name], b[key][name]), (key, name)
    for opt, lr in (("opt_g", cfg.optim.lr_g), ("opt_d", cfg.optim.lr_d)):  # the last of 6 steps ran at 1/6 of the rate
        assert b[opt]["param_groups"][0]["lr"] == pytest.approx(lr / 6)


def test_snapshot_files_stay_bounded(tmp_path):
    samples = tmp_path / "samples"
    samples.mkdir()
    for step in range(1, 500):
        (samples / f"step-{step:06d}.png").write_bytes(b"")
        viz.thin_frames(samples)
    frames = sorted(p.name for p in samples.iterdir())
    assert len(frames) <= viz.MAX_FRAMES
    assert frames[0] == "step-000001.png" and frames[-1] == "step-000499.png"
