"""The fast path's options: train.amp (bf16, fp16 with a scaler), train.compile, train.tf32."""
import pytest
import torch

import ganforge
from ganforge import checkpoint
from ganforge import config as C

from conftest import tiny

TOY = {"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}}
DIGITS = {"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan"}}
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


def finite(state) -> bool:
    return all(bool(torch.isfinite(v).all()) for net in ("G", "D") for v in state[net].values() if v.is_floating_point())


@pytest.mark.parametrize("amp", ["bf16", "fp16"])
def test_mixed_precision_trains_on_cpu_and_is_recorded(tmp_path, amp):
    run = ganforge.train(C.from_dict(tiny(DIGITS, train={"amp": amp, "steps": 6})), out=tmp_path / "r")
    state = checkpoint.load(run)
    assert finite(state) and state["config"]["train"]["amp"] == amp and state["step"] == 6
    assert all(p.dtype == torch.float32 for p in state["G"].values() if p.is_floating_point())  # weights stay float32
    if amp == "fp16":
        assert len(state["amp_scalers"]) == 2 and all(s["scale"] > 0 for s in state["amp_scalers"])


def test_fp16_resume_restores_the_loss_scale_and_is_exact(tmp_path):
    cfg = lambda steps: C.from_dict(tiny(TOY, train={"amp": "fp16", "steps": steps, "ckpt_every": 3}))
    straight = checkpoint.load(ganforge.train(cfg(8), out=tmp_path / "a"))
    part = ganforge.train(cfg(3), out=tmp_path / "b")
    resumed = checkpoint.load(ganforge.train(cfg(8), resume=part))
    assert resumed["amp_scalers"] == straight["amp_scalers"]
    assert straight["amp_scalers"][0]["_growth_tracker"] > 0  # the scaler took steps, not only skipped them
    for net in ("G", "D"):
        for k in straight[net]:
            assert torch.equal(straight[net][k], resumed[net][k]), k


def test_compile_keeps_checkpoints_loadable_by_the_eager_generator(tmp_path):
    run = ganforge.train(C.from_dict(tiny(TOY, train={"compile": True, "steps": 2})), out=tmp_path / "r")
    state = checkpoint.load(run)
    assert finite(state) and not any("_orig_mod" in k for k in state["G"])
    assert ganforge.load(run).sample(5).shape == (5, 2)


@cuda
@pytest.mark.parametrize("amp", ["off", "bf16", "fp16"])
def test_cuda_fast_path(tmp_path, amp):
    run = ganforge.train(C.from_dict(tiny(DIGITS, train={"amp": amp, "device": "cuda", "steps": 6})), out=tmp_path / "r")
    assert finite(checkpoint.load(run)) and torch.backends.cuda.matmul.allow_tf32
