"""ONNX: ``ganforge export --onnx`` writes generator.onnx for every family (and a stack, a
conditional model, a 2-D toy) that onnxruntime runs to within 1e-4 of ganforge's own samples,
at any batch size; the model card describes it."""
import json

import pytest
import torch

import ganforge
from ganforge import config as C
from ganforge import models
from ganforge.cli import main
from ganforge.errors import ConfigError

from conftest import stack_cfg, tiny

ort = pytest.importorskip("onnxruntime", reason="the onnx extra (onnx, onnxscript, onnxruntime) is not installed")
pytest.importorskip("onnxscript", reason="the onnx extra (onnxscript) is not installed")

DIGITS16 = {"data": {"name": "digits", "resolution": 16}}
DIGITS32 = {"data": {"name": "digits", "resolution": 32}}
# One small config per family; a family added later is tried on 32x32 digits by default.
FAMILY = {
    "mlp": tiny(DIGITS16, model={"family": "mlp"}),
    "dcgan": tiny(DIGITS16, model={"family": "dcgan"}),
    "resnet": tiny(DIGITS32, model={"family": "resnet"}),
    "unpool": tiny(DIGITS32, model={"family": "unpool"}),
    "fc": tiny(DIGITS16, model={"family": "fc"}),
    "upsample": tiny(DIGITS32, model={"family": "upsample", "low_res": 8}),
    "fastgan": tiny({"data": {"name": "digits", "resolution": 64}}, model={"family": "fastgan"}),
}
OTHERS = {
    "conditional": tiny(DIGITS16, model={"family": "dcgan", "conditional": "acgan"}),
    "points": tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}}),
}


def run_onnx(path, z, y=None):
    s = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = {"z": z.numpy()} | ({"y": y.numpy()} if y is not None else {})
    return torch.from_numpy(s.run(None, feed)[0])


def check_export(run, out):
    assert main(["export", str(run), "--out", str(out), "--onnx"]) == 0
    g = ganforge.load(out)
    for n, seed in ((1, 0), (5, 1), (17, 2)):  # a dynamic batch
        z = g.latents(n, seed)
        y = g.labels_for(n)
        got = run_onnx(out / "generator.onnx", z, y)
        want = g(z, y)
        assert got.shape == want.shape
        assert float((got - want).abs().max()) <= 1e-4
    return g


@pytest.mark.parametrize("family", models.MODELS.names())
def test_every_family_exports_and_matches_in_onnxruntime(family, tmp_path):
    cfg = FAMILY.get(family, tiny(DIGITS32, model={"family": family}))
    run = ganforge.train(C.from_dict(cfg), out=tmp_path / "run")
    check_export(run, tmp_path / "export")


@pytest.mark.parametrize("case", sorted(OTHERS))
def test_conditional_and_points_export(case, tmp_path):
    run = ganforge.train(C.from_dict(OTHERS[case]), out=tmp_path / "run")
    check_export(run, tmp_path / "export")
    card = (tmp_path / "export" / "README.md").read_text()
    assert "## ONNX" in card and "generator.onnx" in card
    assert ("y int64 (batch,)" in card) == (case == "conditional")


def test_a_stack_exports(tmp_path, photos):
    run = ganforge.train(stack_cfg(tmp_path, photos), out=tmp_path / "run")
    check_export(run, tmp_path / "export")


def test_an_export_that_fails_names_the_family_and_leaves_nothing(tmp_path, monkeypatch):
    run = ganforge.train(C.from_dict(FAMILY["dcgan"]), out=tmp_path / "run")

    def unsupported(*a, **k):
        raise RuntimeError("Failed to export: no decomposition for aten.max_unpool2d.default")

    monkeypatch.setattr(torch.onnx, "export", unsupported)
    with pytest.raises(ConfigError, match=r"model.family dcgan cannot be exported to ONNX: .*aten.max_unpool2d"):
        ganforge.export.export(run, tmp_path / "export", onnx=True)
    assert not (tmp_path / "export").exists()


def test_without_onnx_no_onnx_file(tmp_path):
    run = ganforge.train(C.from_dict(FAMILY["dcgan"]), out=tmp_path / "run")
    assert main(["export", str(run), "--out", str(tmp_path / "e")]) == 0
    assert not (tmp_path / "e" / "generator.onnx").exists()
    assert "ONNX" not in (tmp_path / "e" / "README.md").read_text()
    assert json.loads((tmp_path / "e" / "config.json").read_text())["format"] == "ganforge-export"
