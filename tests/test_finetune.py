"""Fine-tuning: ``train --init`` from a run, a checkpoint or an export, and model.freeze_d."""
from __future__ import annotations

import pytest
import torch
from conftest import tiny

import ganforge
from ganforge import checkpoint, export, models, training
from ganforge import config as C
from ganforge.cli.main import main
from ganforge.errors import CheckpointError, ConfigError

DIGITS = {"data": {"name": "digits", "channels": 3}, "train": {"ema": 0.9}}


@pytest.fixture
def source_run(tmp_path):
    return ganforge.train(C.from_dict(tiny(DIGITS)), out=tmp_path / "digits")


def folder(photos, **over):
    return C.from_dict(tiny({"data": {"name": "folder", "root": str(photos)}, "train": {"ema": 0.9}}, **over))


def test_init_from_a_run_on_another_dataset_starts_from_its_weights(tmp_path, source_run, photos):
    src = checkpoint.load(source_run)
    run = ganforge.training.train(folder(photos), out=tmp_path / "photos", init=source_run)
    first = checkpoint.load(run / "checkpoints" / "step-000000.pt")
    for key in ("G", "D", "G_ema"):
        assert all(torch.equal(src[key][n], first[key][n]) for n in src[key]), key
    assert first["step"] == 0 and checkpoint.load(run)["step"] == 4  # a new run: its own steps, data, optimizers


def test_init_from_an_export_loads_g_and_leaves_d_fresh(tmp_path, source_run, photos):
    exported = export.export(source_run, tmp_path / "export")
    run = ganforge.training.train(folder(photos), out=tmp_path / "photos", init=exported)
    first = checkpoint.load(run / "checkpoints" / "step-000000.pt")
    src = checkpoint.load(source_run)
    assert all(torch.equal(src["G_ema"][n], first["G"][n]) for n in src["G"])  # the export holds the EMA weights
    assert not all(torch.equal(src["D"][n], first["D"][n]) for n in src["D"])


def test_a_shape_that_does_not_fit_is_refused_naming_the_tensor_and_both_shapes(tmp_path, source_run, photos):
    with pytest.raises(CheckpointError, match=r"generator.s tensor net\.0\.weight has shape \(8, 8, 4, 4\) there but \(8, 16, 4, 4\)"):
        ganforge.training.train(folder(photos, model={"ngf": 8}), out=tmp_path / "wider", init=source_run)
    assert not (tmp_path / "wider").exists()  # a run that could not start leaves nothing behind


def test_the_command_line_fine_tunes_and_refuses_with_resume(tmp_path, source_run, photos, capsys):
    args = ["train", "--init", str(source_run), "--out", str(tmp_path / "cli"), "--data.name", "folder", "--data.root", str(photos),
            "--data.resolution", "16", "--model.ngf", "4", "--model.ndf", "4", "--model.nz", "8", "--train.steps", "2",
            "--train.batch_size", "8", "--train.progress", "false", "--train.tensorboard", "false", "--train.ema", "0.9"]
    assert main(args) == 0
    assert "--init: G, D, G_ema from" in capsys.readouterr().out
    with pytest.raises(ConfigError, match="not with --resume"):
        ganforge.training.train(folder(photos), resume=tmp_path / "cli", init=source_run)


def test_freeze_d_keeps_the_first_blocks_weights_and_out_of_the_optimizer(tmp_path):
    cfg = C.from_dict(tiny({"data": {"name": "digits", "resolution": 32}, "model": {"freeze_d": 2}}))
    t = training.Trainer(cfg, tmp_path / "frozen")
    blocks = models.d_blocks(t.game.D)
    assert len(blocks) == 3  # 32x32: conv; conv, norm; conv, norm (then the head)
    frozen = [p for b in blocks[:2] for p in b.parameters()]
    before = [p.detach().clone() for p in t.game.D.parameters()]
    held = {id(p) for g in t.game.opt_d.param_groups for p in g["params"]}
    assert not any(id(p) in held for p in frozen) and all(not p.requires_grad for p in frozen)
    t.run()
    after = list(t.game.D.parameters())
    ids = {id(p) for p in frozen}
    for b, a in zip(before, after):
        assert torch.equal(b, a) == (id(a) in ids)  # frozen: unchanged; the rest: trained
    assert all(not p.requires_grad for p in frozen)  # G's steps turn D's weights off and on: frozen stay off


def test_freeze_d_beyond_the_blocks_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="model.freeze_d = 9: this discriminator has 2 blocks"):
        training.Trainer(C.from_dict(tiny({"data": {"name": "digits"}, "model": {"freeze_d": 9}})), tmp_path / "x")
