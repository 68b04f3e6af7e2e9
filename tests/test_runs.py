"""runs.py: the run directory's layout, writes and reads, what a run is and listing runs (for
the CLI and the dashboard alike); dist.py outside torchrun."""
import os
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


# ---------------------------------------------------------------------------- what a run is, and listing runs
# One definition (runs.is_run, runs.list_runs) serves the CLI and the dashboard alike.

def _fake_run(path: Path, config: bool = True, checkpoints: bool = True) -> Path:
    path.mkdir(parents=True)
    if config:
        (path / runs.CONFIG).write_text("data: {name: ring8}\n")
    if checkpoints:
        (path / runs.CHECKPOINTS).mkdir()
    return path


def _listed(root: Path) -> tuple[set, set]:
    """(names runs.list_runs gives, names the dashboard lists), relative to root."""
    from ganforge.web import runs_view

    return ({p.relative_to(root).as_posix() for p in runs.list_runs(root)},
            {r["name"] for r in runs_view.list_runs(root)})


def test_a_run_is_a_config_or_a_checkpoints_folder_for_the_cli_and_the_dashboard(tmp_path):
    from ganforge.web import runs_view

    root = tmp_path / "runs"
    _fake_run(root / "both")
    _fake_run(root / "config-only", checkpoints=False)
    _fake_run(root / "weights-only", config=False)
    (root / "not-a-run" / "samples").mkdir(parents=True)
    (root / "not-a-run" / "config.yaml").mkdir()  # a folder of that name is no config
    assert [runs.is_run(root / n) for n in ("both", "config-only", "weights-only", "not-a-run")] == [True, True, True, False]
    cli, web = _listed(root)
    assert cli == web == {"both", "config-only", "weights-only"}
    d = runs_view.detail(root, "weights-only")  # no config.yaml to show: empty, not an error
    assert d["config_text"] == "" and d["checkpoint"] is None and d["summary"]["status"] == "stopped"
    with pytest.raises(ConfigError, match="already holds a run"):
        runs.choose(root / "weights-only")  # ganforge train --out never writes over its checkpoints
    with pytest.raises(runs_view.NotFound, match="config.yaml or a checkpoints/ folder"):
        runs_view.run_path(root, "not-a-run")


def test_runs_are_listed_at_any_depth_but_not_inside_a_runs_own_folders(tmp_path):
    root = tmp_path / "runs"
    _fake_run(root / "sweep" / "lr" / "3e-4")  # three levels deep
    stack = _fake_run(root / "stack")
    _fake_run(stack / "stage1")
    _fake_run(stack / "stage2")
    (stack / "samples" / "config.yaml").mkdir(parents=True)  # a run's own folders hold no runs
    _fake_run(stack / "checkpoints" / "old")
    _fake_run(root / ".hidden" / "x")
    cli, web = _listed(root)
    assert cli == web == {"sweep/lr/3e-4", "stack", "stack/stage1", "stack/stage2"}
    assert set(runs.list_runs(stack)) == {stack / "stage1", stack / "stage2"}  # the root itself is not listed


def test_runs_are_listed_newest_first(tmp_path):
    root = tmp_path / "runs"
    old, new = _fake_run(root / "old"), _fake_run(root / "new")
    os.utime(old / runs.CONFIG, (1_000_000, 1_000_000))
    os.utime(old, (1_000_000, 1_000_000))
    os.utime(old / runs.CHECKPOINTS, (1_000_000, 1_000_000))
    assert runs.list_runs(root) == [new, old]
    assert runs.list_runs(tmp_path / "missing") == []


def test_a_symlinked_run_leading_outside_is_listed_by_neither(tmp_path):
    from ganforge.web import runs_view

    root = tmp_path / "runs"
    inner = _fake_run(root / "group" / "inner")
    outside = _fake_run(tmp_path / "elsewhere" / "secret")
    (root / "out").symlink_to(outside, target_is_directory=True)
    (root / "outdir").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "alias").symlink_to(inner, target_is_directory=True)  # inside: followed, listed once by its own name
    (root / "group" / "loop").symlink_to(root, target_is_directory=True)
    cli, web = _listed(root)
    assert cli == web == {"group/inner"}
    for name in ("out", "outdir/secret"):
        with pytest.raises(runs_view.Forbidden, match="outside the runs directory"):
            runs_view.run_path(root, name)
    assert runs_view.run_path(root, "alias") == inner.resolve()  # a link inside still opens the run
