"""runs.py: the run directory's layout, writes and reads; dist.py outside torchrun."""
from pathlib import Path

import pytest
import torch

import ganforge
from ganforge import config as C
from ganforge import dist, runs
from ganforge.errors import ConfigError

from conftest import tiny


def test_a_training_run_is_read_back_through_runs(tmp_path):
    run = ganforge.train(C.from_dict(tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}})),
                         out=tmp_path / "runs" / "toy")
    r = runs.Run(run)
    assert runs.list_runs(tmp_path / "runs") == [run]
    assert runs.read_config(run)["data"]["name"] == "ring8"
    assert [row["step"] for row in runs.read_metrics(run)] == [2, 4]
    assert [runs.frame_step(p) for p in runs.frames(run)] == [2, 4]
    for path in (r.config, r.metrics, r.final, r.latents, r.losses, r.timelapse, r.checkpoint(4)):
        assert path.exists(), path
    assert runs.run_of(r.checkpoint(4)) == run and runs.run_of(r.checkpoints) == run


def test_a_run_that_does_not_write_writes_nothing(tmp_path):
    r = runs.Run(tmp_path / "x", writes=False)
    r.create()
    r.append(r.metrics, {"step": 1})
    r.write_text(r.config, "a: 1\n")
    assert not (tmp_path / "x").exists()


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path):
    p = tmp_path / "f.txt"
    runs.write_text(p, "old")

    def broken(f):
        f.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        runs.atomic_write(p, broken)
    assert p.read_text() == "old" and [q.name for q in tmp_path.iterdir()] == ["f.txt"]


def test_a_torn_last_line_is_skipped(tmp_path):
    p = tmp_path / runs.METRICS
    runs.append_jsonl(p, {"step": 1})
    with open(p, "a") as f:
        f.write('{"step": 2, "los')  # a crash in the middle of an append
    assert runs.read_jsonl(p) == [{"step": 1}]
    assert runs.read_jsonl(tmp_path / "missing.jsonl") == []


def test_a_new_run_refuses_an_explicit_out_that_holds_one_and_suffixes_the_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    a = runs.new(None)
    runs.create(a, lambda: runs.write_text(a.config, "{}"))
    assert a.path == Path("runs") / "run" and runs.is_run(a.path)
    assert runs.new(None).path.name == "run-2"
    with pytest.raises(ConfigError, match="already holds a run"):
        runs.new(a.path)


def test_a_run_that_cannot_start_leaves_nothing(tmp_path):
    r = runs.new(tmp_path / "r")

    def fails():
        runs.write_text(r.config, "{}")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        runs.create(r, fails)
    assert not r.path.exists()


def test_without_torchrun_dist_is_the_single_process_identity(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert (dist.rank(), dist.world(), dist.is_main(), dist.active()) == (0, 1, True, False)
    assert dist.init(torch.device("cpu")) == torch.device("cpu") and not dist.active()
    torch.manual_seed(0)
    a = dist.randn(4, 3)
    torch.manual_seed(0)
    assert torch.equal(a, torch.randn(4, 3))
    t = torch.ones(3, requires_grad=True)
    assert dist.whole_batch(t) is t
    assert dist.any_true(True) and not dist.any_true(False) and dist.mean_values({"a": 1.5}) == {"a": 1.5}
    assert dist.broadcast_object("x") == "x"
