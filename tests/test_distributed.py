"""Distributed training with real torchrun launches (gloo, 2 processes on CPU).

One launch runs many scenarios (tests/dist_worker.py), because a launch costs seconds; the
tests below read what each process wrote and compare it with one-process runs of the same
global batch, in float64.
"""
from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from ganforge import checkpoint, runs

from conftest import stack_cfg

HERE = Path(__file__).resolve().parent
spec = importlib.util.spec_from_file_location("dist_worker", HERE / "dist_worker.py")
worker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(worker)

TORCHRUN = [sys.executable, "-m", "torch.distributed.run"]


def launch(out: Path, *scenarios: str, nodes: int = 1, timeout: int = 240) -> str:
    """One torchrun launch of dist_worker.py with 2 processes (2 agents of 1 process each for nodes=2)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [str(HERE / "dist_worker.py"), str(out), *scenarios]
    if nodes == 1:
        procs = [subprocess.Popen([*TORCHRUN, "--standalone", "--nproc-per-node", "2", *cmd], env=env,
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)]
    else:
        port = free_port()
        procs = [subprocess.Popen([*TORCHRUN, "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d",
                                   "--rdzv-endpoint", f"127.0.0.1:{port}", "--rdzv-id", "ganforge-test", *cmd],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) for _ in range(2)]
    logs = [p.communicate(timeout=timeout)[0] for p in procs]
    for p, log in zip(procs, logs):
        assert p.returncode == 0, log[-4000:]
    return "\n".join(logs)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def launched(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    log = launch(out, "cases", "every_step", "batchnorm", "stop", "nan", "healthstop", "indivisible", "teardown")
    return out, log


@pytest.fixture
def float64():
    old, threads = torch.get_default_dtype(), torch.get_num_threads()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)
    torch.set_num_threads(threads)


def ranks(out: Path, name: str) -> list[dict]:
    return [torch.load(out / name / f"rank{r}.pt", weights_only=True) for r in (0, 1)]


def one_process(cfg_dict: dict, out: Path, resume: bool = False):
    from ganforge import config as C
    from ganforge import training

    t = training.Trainer(C.from_dict(cfg_dict), None if resume else out, out if resume else None)
    t.run()
    return worker.nets(t)


def max_difference(a: dict, b: dict) -> float:
    assert a.keys() == b.keys()
    diffs = [0.0]
    for net in a:
        assert a[net].keys() == b[net].keys(), net
        for k in a[net]:
            diffs.append(float((a[net][k].double() - b[net][k].double()).abs().max()) if a[net][k].numel() else 0.0)
    return max(diffs)


def assert_identical(a: dict, b: dict) -> None:
    for net in a:
        for k in a[net]:
            assert torch.equal(a[net][k], b[net][k]), f"{net}.{k} differs between processes"


@pytest.mark.parametrize("name", list(worker.CASES))
def test_two_processes_equal_one_with_the_same_global_batch(launched, name, tmp_path, float64):
    out, _ = launched
    r0, r1 = ranks(out, name)
    assert r0["step"] == r1["step"] == worker.CASES[name]["train"]["steps"]
    assert_identical(r0["nets"], r1["nets"])
    ref = one_process(worker.CASES[name], tmp_path / "one")
    assert max_difference(r0["nets"], ref) < 1e-10
    # and the run directory is rank 0's alone, with one row per step
    rows = [r for r in runs.read_metrics(out / "runs" / name) if "loss_d" in r]
    assert [r["step"] for r in rows] == list(range(1, r0["step"] + 1))


def test_the_one_process_reference_is_not_trivially_equal(launched, tmp_path, float64):
    """A different global batch gives different weights: the comparison above can fail."""
    out, _ = launched
    cfg = worker.case(worker.CASES["wgan-gp"], train={"batch_size": 4})
    assert max_difference(ranks(out, "wgan-gp")[0]["nets"], one_process(cfg, tmp_path / "one")) > 1e-6


def test_processes_hold_bit_identical_weights_after_every_step(launched):
    out, _ = launched
    a, b = ranks(out, "every-step")
    assert len(a["fingerprints"]) == worker.CASES["acgan-diffaugment-noise"]["train"]["steps"]
    assert a["fingerprints"] == b["fingerprints"]


def test_batchnorm_buffers_are_equal_everywhere_before_a_save(launched):
    out, _ = launched
    r0, r1 = ranks(out, "batchnorm")
    assert_identical(r0["nets"], r1["nets"])  # running statistics included
    saved = checkpoint.load(r0["run"])
    means = [k for k in saved["D"] if k.endswith("running_mean")]
    assert means and all(torch.equal(saved["D"][k], r0["nets"]["D"][k]) for k in means)


def test_sigterm_to_one_process_stops_all_at_the_same_step_and_resume_is_exact(launched, tmp_path, float64):
    out, log = launched
    straight, stopped = ranks(out, "straight"), ranks(out, "stopped")
    assert stopped[0]["stopped"] == stopped[1]["stopped"] == (3, 15)  # both stopped at step 3 by SIGTERM
    assert (Path(stopped[0]["run"]) / "checkpoints" / "step-000003.pt").exists()  # rank 0 wrote it in time
    assert_identical(stopped[0]["nets"], straight[0]["nets"])  # resumed with 2 processes: bit for bit
    assert_identical(stopped[1]["nets"], straight[0]["nets"])
    # resumed into one process: the same global batch, so equal up to float64 rounding
    resumed = one_process(worker.STOP, out / "runs" / "stopped-copy", resume=True)
    assert max_difference(resumed, straight[0]["nets"]) < 1e-10


def test_a_nan_on_one_process_rolls_every_process_back_at_the_same_step(launched):
    out, _ = launched
    r0, r1 = ranks(out, "nan")
    assert r0["rollbacks"] == r1["rollbacks"] == 1
    assert_identical(r0["nets"], r1["nets"])
    assert all(torch.isfinite(v).all() for net in r0["nets"].values() for v in net.values())
    events = [e for e in runs.read_health(r0["run"]) if e.get("event") == "rollback"]
    assert len(events) == 1 and events[0]["step"] == 2  # written once, by rank 0


def test_a_health_stop_is_decided_by_rank_0_and_shared(launched):
    out, _ = launched
    r0, r1 = ranks(out, "healthstop")
    assert r0["stopped"] == r1["stopped"] == (3, "health")
    assert (r0["has_monitor"], r1["has_monitor"]) == (True, False)  # one monitor, one decision
    assert checkpoint.load(r0["run"])["step"] == 3


def test_evaluation_and_best_checkpoint_on_rank_0(launched):
    out, _ = launched
    run = runs.Run(out / "runs" / "health-eval")
    assert run.best.exists() and len([r for r in runs.read_metrics(run.path) if "eval" in r]) == 2
    assert any("diversity" in r or "high_quality" in r for r in runs.read_metrics(run.path))  # probes reported


def test_a_global_batch_that_does_not_split_is_refused_before_anything_is_written(launched):
    out, _ = launched
    for r in ranks(out, "indivisible"):
        assert "train.batch_size = 7: the global batch must split evenly over 2 processes" in r["error"]
        assert not r["exists"]


def test_train_leaves_the_process_group_with_no_thread_left_running(launched):
    """The teardown abort ("terminate called without an active exception" on one rank after a
    finished run, now and then): the group outlived destroy_process_group, held by
    torch.distributed.nn, and its gloo threads were stopped by the interpreter's teardown."""
    out, _ = launched
    for r in ranks(out, "teardown"):
        if r["threads"] is None:
            pytest.skip("reads the threads from Linux's /proc")
        assert not [t for t in r["threads"] if "gloo" in t], r["threads"]


def test_two_torchrun_agents_as_two_nodes(tmp_path, float64):
    launch(tmp_path, "case:wgan-gp", nodes=2)
    r0, r1 = ranks(tmp_path, "wgan-gp")
    assert_identical(r0["nets"], r1["nets"])
    assert max_difference(r0["nets"], one_process(worker.CASES["wgan-gp"], tmp_path / "one")) < 1e-10


@pytest.mark.parametrize("fault", ["die", "hang"])
def test_a_dead_or_hung_process_makes_the_others_stop_with_a_clear_error(tmp_path, fault):
    """No torchrun agent here (it would kill the survivor itself): two plain processes. Rank 1
    dies, or sleeps 15 s, at step 3; rank 0 reports it (a hung peer within dist_timeout = 4 s)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port())}
    procs = [subprocess.Popen([sys.executable, str(HERE / "dist_worker.py"), str(tmp_path), fault],
                              env={**env, "RANK": str(r), "LOCAL_RANK": str(r)}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for r in (0, 1)]
    logs = [p.communicate(timeout=120)[0] for p in procs]
    assert procs[0].returncode == 0, logs[0][-2000:]
    assert procs[1].returncode == (3 if fault == "die" else 0), logs[1][-2000:]
    seconds, message = (tmp_path / "error-rank0.txt").read_text().split("\n", 1)
    assert "process 0 of 2" in message and "another process probably died" in message and "resume" in message
    assert float(seconds) < (4 + 8 if fault == "hang" else 8)


def test_ganforge_train_nproc_starts_torchrun_and_rank_0_alone_writes(tmp_path):
    out = tmp_path / "run"
    r = subprocess.run([sys.executable, "-m", "ganforge", "train", "--preset", "gan-ring8", "--nproc", "2", "--out", str(out),
                        "--train.steps", "6", "--train.batch_size", "8", "--train.log_every", "2", "--train.progress", "false",
                        "--train.tensorboard", "false", "--train.device", "cpu", "--health.enabled", "false",
                        "--model.g_hidden", "16", "--model.d_hidden", "16"],
                       env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("run directory:") == 1  # printed by rank 0 only
    assert [row["step"] for row in runs.read_metrics(out)] == [2, 4, 6]  # one row per flush, not one per process
    assert checkpoint.load(out)["world"] == 2
    assert runs.list_runs(tmp_path) == [out]


def ctrl_c_at_step_5(args: list[str], metrics_dir: Path, cwd=None) -> str:
    """``ganforge train ARGS`` in a session of its own; once ``metrics_dir`` has a row for step 5,
    SIGINT to the whole process group, as a terminal's Ctrl-C. Returns the output."""
    p = subprocess.Popen([sys.executable, "-m", "ganforge", "train", *args], cwd=cwd, env={**os.environ, "OMP_NUM_THREADS": "1"},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.time() + 120
    while not [r for r in runs.read_metrics(metrics_dir) if r["step"] >= 5] and time.time() < deadline and p.poll() is None:
        time.sleep(0.2)
    os.killpg(p.pid, signal.SIGINT)
    return p.communicate(timeout=120)[0]


def test_ctrl_c_to_a_torchrun_launch_checkpoints_and_resumes(tmp_path):
    """SIGINT to the whole process group, as a terminal's Ctrl-C: the workers get it from the
    terminal and again from the agent; rank 0 still writes its checkpoint, and the run resumes."""
    out = tmp_path / "run"
    args = ["--train.batch_size", "8", "--train.log_every", "1", "--train.progress", "false", "--train.tensorboard", "false",
            "--train.device", "cpu", "--health.enabled", "false", "--model.g_hidden", "16", "--model.d_hidden", "16"]
    log = ctrl_c_at_step_5(["--preset", "gan-ring8", "--nproc", "2", "--out", str(out), "--train.steps", "100000", *args], out)
    step = checkpoint.load(out)["step"]
    assert step >= 5, log[-3000:]
    assert "stopped by SIGINT" in log
    r = subprocess.run([sys.executable, "-m", "ganforge", "train", "--resume", str(out), "--nproc", "2",
                        "--train.steps", str(step + 3)], env={**os.environ, "OMP_NUM_THREADS": "1"},
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr[-3000:]
    assert checkpoint.load(out)["step"] == step + 3


def children(pid: int) -> dict[int, dict[str, str]]:
    """The processes whose parent is ``pid``, with their environments (Linux's /proc)."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                raw = (stat.parent / "environ").read_bytes().split(b"\0")
                found[int(stat.parent.name)] = dict(x.decode(errors="replace").split("=", 1) for x in raw if b"=" in x)
        except (OSError, ValueError, IndexError):  # it exited while we looked
            continue
    return found


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="finds torchrun's workers through Linux's /proc")
def test_a_worker_killed_mid_run_is_restarted_by_torchrun_and_resume_auto_continues_exactly(tmp_path):
    """The command a restarted worker runs is the one it ran first: ``--resume auto --out RUN``.
    SIGKILL to rank 1 mid-run (no checkpoint, no goodbye); torchrun (--max-restarts 1) stops rank
    0 and starts both again; they continue RUN from its last checkpoint. The finished run equals,
    bit for bit, an uninterrupted 2-process run of the same command (launched beside it), and its
    metrics hold each step once."""
    steps = 120
    args = ["--preset", "gan-ring8", "--train.steps", str(steps), "--train.batch_size", "8", "--train.ckpt_every", "10",
            "--train.log_every", "1", "--train.sample_every", "100000", "--train.progress", "false",
            "--train.tensorboard", "false", "--train.device", "cpu", "--health.enabled", "false",
            "--model.g_hidden", "16", "--model.d_hidden", "16"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    run = lambda out, *extra: subprocess.Popen([*TORCHRUN, "--standalone", "--nproc-per-node", "2", *extra, "-m", "ganforge",
                                                "train", "--resume", "auto", "--out", str(out), *args], env=env,
                                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out, ref = tmp_path / "run", tmp_path / "ref"
    straight, p = run(ref), run(out, "--max-restarts", "1")
    deadline = time.time() + 180
    while not [r for r in runs.read_metrics(out) if r["step"] >= 25] and time.time() < deadline and p.poll() is None:
        time.sleep(0.05)
    victim = [pid for pid, e in children(p.pid).items() if e.get("LOCAL_RANK") == "1"]
    assert len(victim) == 1, p.communicate(timeout=60)[0][-3000:]
    os.kill(victim[0], signal.SIGKILL)
    log, ref_log = p.communicate(timeout=240)[0], straight.communicate(timeout=240)[0]
    assert p.returncode == 0 and straight.returncode == 0, log[-3000:] + ref_log[-3000:]
    starts = runs.read_jsonl(out / runs.STARTS)
    assert [s["event"] for s in starts] == ["start", "resume"], log[-3000:]
    assert 10 <= starts[1]["step"] < steps and starts[1]["step"] % 10 == 0  # from a checkpoint before the end
    assert f"continuing {out}" in log and "--resume auto: starting" in log
    assert [r["step"] for r in runs.read_metrics(out)] == list(range(1, steps + 1))  # none twice after the resume
    a, b = checkpoint.load(out), checkpoint.load(ref)
    assert a["step"] == b["step"] == steps
    for part in ("G", "D", "G_ema"):
        for k in b[part]:
            assert torch.equal(a[part][k], b[part][k]), f"{part}.{k} differs from the uninterrupted run"
    assert a["opt_g"]["state"][0]["exp_avg"].equal(b["opt_g"]["state"][0]["exp_avg"])


def test_resume_auto_restarts_an_attempt_that_left_no_checkpoint_and_refuses_other_options(tmp_path):
    """What a restarted command finds, in one process: a directory an attempt left before its
    first checkpoint (config.yaml, a temporary file) starts cleanly; a run continues, train.*
    may change; other options are refused, naming them, and a config.yaml of other options is
    left alone."""
    from ganforge import config as C
    from ganforge import train
    from ganforge.errors import ConfigError

    cfg = lambda **train_: C.from_dict(worker.case(worker.TOY, train={"steps": 2, **train_}))
    other = C.from_dict(worker.case(worker.TOY, train={"steps": 2}, model={"nz": 3}))
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    (out / "config.yaml").write_text(C.to_yaml(cfg()))
    (out / "checkpoints" / ".step-000000.pt.x1y2.tmp").write_bytes(b"cut short")
    train(cfg(), out=out, resume="auto")
    train(cfg(steps=4), out=out, resume="auto")
    assert checkpoint.load(out)["step"] == 4
    assert [(s["event"], s["step"]) for s in runs.read_jsonl(out / runs.STARTS)] == [("start", 0), ("resume", 2)]
    with pytest.raises(ConfigError, match="model.nz: 4 in the run, 3 given"):
        train(other, out=out, resume="auto")
    with pytest.raises(ConfigError, match="needs --out"):
        train(cfg(), resume="auto")
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "config.yaml").write_text(C.to_yaml(other))
    with pytest.raises(ConfigError, match="holds a run with other options"):
        train(cfg(), out=tmp_path / "mine", resume="auto")
    assert (tmp_path / "mine" / "config.yaml").is_file()


def test_a_stack_trains_with_two_processes_stage_by_stage_and_resumes(tmp_path, photos):
    """``ganforge train --nproc 2`` on a stacked config: each stage trains distributed, rank 0
    alone writes, stage 2 follows stage 1 on both processes, and ``--resume`` continues stage 2
    (stage 1 is not trained again). Stage 1 (an MLP GAN without BatchNorm or dropout) equals a
    one-process run of the same global batch; stage 2's generator has BatchNorm, whose batch
    statistics are per process, so it is checked for completeness, not equality."""
    from ganforge import config as C
    from ganforge import load, train

    cfg = stack_cfg(tmp_path, photos, stage1={"model": {"d_norm": "none", "dropout": 0.0}}, d_norm="none")
    cfg = C.from_dict(C.merge(cfg.to_dict(), {"train": {"steps": 2, "log_every": 1, "keep_ckpts": 10}, "health": {"enabled": False}}))
    (tmp_path / "stack.yaml").write_text(C.to_yaml(cfg))
    out, env = tmp_path / "runs" / "stack", {**os.environ, "OMP_NUM_THREADS": "1"}
    for args in (["stack.yaml", "--out", str(out)], ["--resume", str(out), "--train.steps", "4"]):
        r = subprocess.run([sys.executable, "-m", "ganforge", "train", "--nproc", "2", *args], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=240)
        assert r.returncode == 0, r.stderr[-3000:]
        assert r.stdout.count("run directory:") == 1  # rank 0 only
    # every stage's files, each written once: one metrics row per step, across the resume too
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["stack"]
    assert [row["step"] for row in runs.read_metrics(out / "stage1")] == [1, 2, 3]
    assert [row["step"] for row in runs.read_metrics(out / "stage2")] == [1, 2, 3, 4]
    for stage in ("stage1", "stage2"):
        assert checkpoint.load(out / stage)["world"] == 2 and (out / stage / "samples" / "final.png").is_file()
    assert [p.name for p in checkpoint.step_files(out / "checkpoints")] == ["step-000002.pt", "step-000004.pt"]
    assert (out / "samples" / "final.png").is_file() and load(out).sample(3, seed=0).shape == (3, 3, 32, 32)

    one = train(C.from_dict(C.merge(cfg.to_dict(), {"train": {"steps": 4}})), out=tmp_path / "one")
    two, ref = checkpoint.load(out / "stage1"), checkpoint.load(one / "stage1")
    for net in ("G", "D"):
        assert max(float((two[net][k] - ref[net][k]).abs().max()) for k in ref[net]) < 1e-5, net
    start = checkpoint.load(out / "stage1" / "checkpoints" / "step-000000.pt")["G"]
    assert max(float((two["G"][k] - start[k]).abs().max()) for k in start) > 1e-4  # it trained: the check can fail
    stack = checkpoint.load(out)["stages"][1]["G"]  # the stack holds stage 2's final generator
    assert all(torch.equal(stack[k], v) for k, v in checkpoint.load(out / "stage2")["G"].items())


def test_a_stack_stopped_by_ctrl_c_in_stage_1_resumes_that_stage_then_trains_stage_2(tmp_path, photos):
    """Ctrl-C to a ``--nproc 2`` stack while stage 1 trains: rank 0 checkpoints stage 1 and the
    stack says how to resume; ``--resume`` continues stage 1 from that step (no row repeated or
    skipped), then trains stage 2 and writes the stack's checkpoint."""
    from ganforge import config as C
    from ganforge import load

    cfg = stack_cfg(tmp_path, photos, stage1={"train": {"steps": 3000}})
    cfg = C.from_dict(C.merge(cfg.to_dict(), {"train": {"log_every": 1, "sample_every": 1000, "ckpt_every": 1000},
                                              "health": {"enabled": False}}))
    (tmp_path / "stack.yaml").write_text(C.to_yaml(cfg))
    out, env = tmp_path / "runs" / "stack", {**os.environ, "OMP_NUM_THREADS": "1"}
    log = ctrl_c_at_step_5(["--nproc", "2", "stack.yaml", "--out", str(out)], out / "stage1", cwd=tmp_path)
    step = checkpoint.load(out / "stage1")["step"]
    assert 5 <= step < 3000 and "stopped by SIGINT" in log, log[-3000:]
    assert not (out / "stage2").exists()
    r = subprocess.run([sys.executable, "-m", "ganforge", "train", "--resume", str(out), "--nproc", "2"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stderr[-3000:]
    assert [row["step"] for row in runs.read_metrics(out / "stage1")] == list(range(1, 3001))
    assert [row["step"] for row in runs.read_metrics(out / "stage2")] == [1, 2, 3]
    assert load(out).sample(2, seed=0).shape == (2, 3, 32, 32)
