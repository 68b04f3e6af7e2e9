"""Stacked GANs: stage 1 then stage 2 in one run directory, sampled from one checkpoint file."""
import shutil

import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import ganforge
from ganforge import config as C
from ganforge import models
from ganforge.cli import main
from ganforge.data.base import DataInfo
from ganforge.errors import GanforgeError

from conftest import stack_cfg, tiny


def test_stack_trains_stage_by_stage_and_samples_from_one_file(tmp_path, photos, capsys):
    run = ganforge.train(stack_cfg(tmp_path, photos), out=tmp_path / "run")
    for stage in ("stage1", "stage2"):  # each stage is a whole run of its own
        assert (run / stage / "config.yaml").is_file() and (run / stage / "metrics.jsonl").is_file()
        assert (run / stage / "samples" / "final.png").is_file() and (run / stage / "losses.png").is_file()
    assert C.from_dict(__import__("yaml").safe_load((run / "stage1" / "config.yaml").read_text())).data.resolution == 8
    (ckpt,) = (run / "checkpoints").glob("step-*.pt")
    assert (run / "samples" / "final.png").is_file()

    alone = tmp_path / "elsewhere" / "stack.pt"  # nothing but the file: no run directory, no stage-1 YAML
    alone.parent.mkdir()
    shutil.copy(ckpt, alone)
    shutil.rmtree(run)
    (tmp_path / "stage1.yaml").unlink()
    g = ganforge.load(alone)
    assert g.nz == 8 and g.sample(5, seed=1).shape == (5, 3, 32, 32)
    low, high = g.stages(g.latents(5, seed=1))
    assert low.shape == (5, 3, 8, 8)
    assert torch.allclose(F.avg_pool2d(high, 4), low, atol=1e-5)  # stage 2 keeps stage 1's picture, adds detail
    assert main(["sample", str(alone), "-n", "4", "--out", str(tmp_path / "grid.png")]) == 0
    assert Image.open(tmp_path / "grid.png").size[0] > 32


def test_a_finished_stage1_run_is_reused_not_retrained(tmp_path, photos):
    first = ganforge.train(stack_cfg(tmp_path, photos), out=tmp_path / "first")
    before = sorted(p.name for p in (first / "stage1" / "checkpoints").glob("*.pt"))
    cfg = stack_cfg(tmp_path, photos)
    cfg = C.from_dict(C.merge(cfg.to_dict(), {"model": {"stage1": str(first / "stage1")}}))
    second = ganforge.train(cfg, out=tmp_path / "second")
    assert sorted(p.name for p in (second / "stage1" / "checkpoints").glob("*.pt")) == before
    s1 = torch.load(next((first / "stage1" / "checkpoints").glob("step-000003.pt")), weights_only=True)["G"]
    stack = torch.load(next((second / "checkpoints").glob("step-*.pt")), weights_only=True)["stages"][0]["G"]
    assert all(torch.equal(s1[k], stack[k]) for k in s1)
    # resuming a finished stack trains nothing more
    assert ganforge.train(C.from_dict(C.merge(cfg.to_dict(), {})), resume=second) == second


def test_stack_config_errors_name_the_option(tmp_path, photos):
    with pytest.raises(C.ConfigError, match="model.family must be upsample"):
        ganforge.train(C.from_dict(C.merge(stack_cfg(tmp_path, photos).to_dict(), {"model": {"family": "dcgan"}})), out=tmp_path / "x")
    with pytest.raises(C.ConfigError, match="model.stage1 = 'no-such-preset'"):
        ganforge.train(C.from_dict(C.merge(stack_cfg(tmp_path, photos).to_dict(), {"model": {"stage1": "no-such-preset"}})), out=tmp_path / "y")
    assert not (tmp_path / "x").exists() and not (tmp_path / "y").exists()  # refused before any directory


def test_assemble_validate_refuses_a_bad_stack_before_anything_is_built(tmp_path, photos):
    from ganforge import assemble

    good = stack_cfg(tmp_path, photos).to_dict()
    for change, message in (({"family": "dcgan"}, "model.family must be upsample"),
                            ({"stage1": "no-such-preset"}, "model.stage1 = 'no-such-preset'")):
        with pytest.raises(C.ConfigError, match=message):
            assemble.validate(C.from_dict(C.merge(good, {"model": change})))
    assert assemble.validate(C.from_dict(good)) is not None


def test_upsample_generator_without_a_condition_says_so():
    cfg = C.from_dict(tiny(model={"family": "upsample", "low_res": 8}, data={"resolution": 32}))
    G, _ = models.build(cfg.model, DataInfo("image", (3, 32, 32), 0))
    with pytest.raises(GanforgeError, match="no low-resolution images given"):
        G.eval()(torch.randn(2, cfg.model.nz))
    out = G(torch.randn(2, cfg.model.nz), low=torch.zeros(2, 3, 8, 8))
    assert out.shape == (2, 3, 32, 32) and torch.allclose(F.avg_pool2d(out, 4), torch.zeros(2, 3, 8, 8), atol=1e-6)
