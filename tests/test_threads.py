"""The CPU thread choice (training/device.py): never more threads than CPUs to run them on."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
import torch

from ganforge import runs, train
from ganforge.training import device
from ganforge.training.device import SMALL_NETS, Threads, choose_threads, use_threads

from conftest import tiny

BIG = 10 * SMALL_NETS


def test_omp_num_threads_is_honoured_whatever_the_model_and_the_cpus():
    for params in (None, 1_000, BIG):
        t = choose_threads(params, env={"OMP_NUM_THREADS": "3"}, cpus=16)
        assert t.n == 3 and "OMP_NUM_THREADS=3" in t.why


@pytest.mark.parametrize("bad", ["", "0", "two", "-1"])
def test_an_unusable_omp_num_threads_is_ignored(bad):
    assert choose_threads(BIG, env={"OMP_NUM_THREADS": bad}, cpus=4, busy=0).n == 4


def test_no_more_threads_than_the_cpus_of_the_affinity_mask():
    assert choose_threads(BIG, env={}, cpus=6, busy=0).n == 6
    assert choose_threads(BIG, env={}, cpus=1, busy=0).n == 1
    # by default, the CPUs this process may run on: the affinity mask, not the machine's count
    assert device.available_cpus() <= len(os.sched_getaffinity(0))
    assert choose_threads(BIG, env={}, busy=0).n == device.available_cpus()


def test_torchrun_divides_the_cpus_among_the_processes_of_this_machine():
    env = {"WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4"}  # two machines of four processes
    assert choose_threads(BIG, env=env, cpus=16, busy=3).n == 4  # its 3 siblings are not other work
    assert "shared by 4 processes" in choose_threads(BIG, env=env, cpus=16, busy=0).why
    assert choose_threads(BIG, env=env, cpus=16, busy=7).n == 3  # 4 others besides the siblings: 12 CPUs for 4
    assert choose_threads(BIG, env=env, cpus=2, busy=0).n == 1  # never 0
    assert choose_threads(BIG, env={**env, "OMP_NUM_THREADS": "2"}, cpus=16).n == 2


def test_small_networks_get_one_thread_large_ones_all_they_may():
    assert choose_threads(SMALL_NETS - 1, env={}, cpus=8) == Threads(1, choose_threads(SMALL_NETS - 1, env={}, cpus=8).why)
    assert "parameters" in choose_threads(1000, env={}, cpus=8).why
    assert choose_threads(SMALL_NETS, env={}, cpus=8, busy=0).n == 8


def test_cpus_other_work_keeps_busy_are_left_to_it():
    t = choose_threads(BIG, env={}, cpus=2, busy=1)
    assert t.n == 1 and "1 of them busy with other work" in t.why
    assert choose_threads(BIG, env={}, cpus=8, busy=3).n == 5
    assert choose_threads(BIG, env={}, cpus=2, busy=5).n == 1  # never 0
    assert choose_threads(BIG, env={"OMP_NUM_THREADS": "2"}, cpus=2, busy=1).n == 2  # the user's choice stands


def test_a_busy_process_beside_this_one_is_seen():
    """A real process spinning on a CPU: others_running counts it (and never this process)."""
    if not os.path.exists("/proc/stat"):
        pytest.skip("needs Linux's /proc/stat")
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.5)
        assert device.others_running() >= 1
    finally:
        spinner.kill()
        spinner.wait()


@pytest.fixture
def threads():
    old, ours = torch.get_num_threads(), device._ours
    yield
    torch.set_num_threads(old)
    device._ours = ours


def test_use_threads_lowers_a_count_and_raises_only_its_own(threads):
    if len(os.sched_getaffinity(0)) < 2:
        pytest.skip("needs 2 CPUs")
    torch.set_num_threads(1)  # the caller's choice (the test suite's): kept when lower
    device._ours = None
    assert use_threads(Threads(2, "x")).n == 1 and torch.get_num_threads() == 1
    torch.set_num_threads(2)
    assert use_threads(Threads(1, "small")).n == 1 and torch.get_num_threads() == 1  # lowered
    assert use_threads(Threads(2, "larger")).n == 2 and torch.get_num_threads() == 2  # its own 1: raised again
    torch.set_num_threads(1)
    assert use_threads(Threads(2, "OMP_NUM_THREADS=2")).n == 2  # what the user asked for


def test_a_run_says_its_threads_in_its_log_and_in_starts_jsonl(tmp_path, capsys, threads, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    torch.set_num_threads(2)
    device._ours = 2  # as if ganforge had chosen it: a small run may lower it
    run = train(ganforge_cfg(), out=tmp_path / "run")
    row = runs.read_jsonl(run / runs.STARTS)[0]
    assert row["event"] == "start" and row["step"] == 0 and row["processes"] == 1
    assert row["threads"] == 1 and "parameters" in row["threads_why"]  # an MLP on 2-D points
    assert torch.get_num_threads() == 1
    assert f"1 CPU thread per process: {row['threads_why']}" in capsys.readouterr().out


def ganforge_cfg():
    from ganforge import config

    return config.from_dict(tiny({"data": {"name": "ring8"}, "model": {"family": "mlp"}, "health": {"enabled": False}}))
