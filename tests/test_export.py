"""ganforge export: safetensors weights + config.json + model card, loadable without ganforge's code."""
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ganforge
from ganforge import checkpoint, models
from ganforge import config as C
from ganforge.cli import main
from ganforge.data.base import DataInfo
from ganforge.errors import CheckpointError, ConfigError

from conftest import stack_cfg, tiny

DIGITS = {"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan"}}
SETUPS = {
    "ema": tiny(DIGITS, train={"ema": 0.9}),
    "conditional": tiny(DIGITS, model={"conditional": "concat"}),
    "toy-eval": tiny({"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}},
                     train={"eval_every": 4, "eval_n": 64, "eval_metric": "auto"}),
}


@pytest.fixture(scope="module", params=list(SETUPS))
def exported(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    run = ganforge.train(C.from_dict(SETUPS[request.param]), out=tmp / "run")
    assert main(["export", str(run), "--out", str(tmp / "export")]) == 0
    return request.param, run, tmp / "export"


def test_safetensors_alone_reproduces_the_samples_bit_for_bit(exported):
    name, run, out = exported
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    meta = json.loads((out / "config.json").read_text())
    weights = load_file(str(out / "model.safetensors"))  # the safetensors library, no ganforge loader
    state = checkpoint.load(run)
    expected = state["G_ema"] if name == "ema" else state["G"]
    assert meta["ema"] == (name == "ema") and weights.keys() == expected.keys()
    assert all(torch.equal(weights[k], expected[k]) for k in weights)
    if name == "ema":  # the averaged weights, not the raw ones
        assert any(not torch.equal(weights[k], state["G"][k]) for k in weights)

    # Rebuild from config.json, load the tensors, and sample as the run's own generator does.
    G, _ = models.build(C.from_dict(meta["config"]).model, DataInfo.from_dict(meta["data_info"]))
    G.load_state_dict(weights)
    G.eval()
    g = ganforge.load(run)
    z = g.latents(16, seed=3)
    y = g.labels_for(16)
    assert (y is not None) == (name == "conditional")
    with torch.no_grad():
        mine = G(z, y)
    assert torch.equal(g.info.point_scale * mine if g.info.kind == "points" else mine, g(z, y))
    assert torch.equal(ganforge.load(out).sample(16, seed=3), g.sample(16, seed=3))


def test_model_card_says_what_the_generator_is(exported):
    name, run, out = exported
    card = (out / "README.md").read_text()
    cfg = C.from_dict(checkpoint.load(run)["config"])
    assert f"`{cfg.objective.name}`" in card and f"`{cfg.data.name}`" in card
    assert f"{cfg.train.steps} steps" in card and "](samples.png)" in card
    if name == "toy-eval":
        last = [r for r in map(json.loads, (run / "metrics.jsonl").read_text().splitlines()) if "eval" in r][-1]
        assert [r["metric"] for r in last["eval"]] == ["modes", "high_quality", "reverse_kl"]
        for r in last["eval"]:  # each result with its protocol
            assert f"| {r['metric']} |" in card and f"dataset_hash {r['protocol']['dataset_hash']}" in card
    else:
        assert "recorded no evaluation" in card
    assert ("EMA of G" in card) == (name == "ema")


def test_commands_take_an_export(exported, tmp_path, capsys):
    name, run, out = exported
    assert main(["sample", str(out), "-n", "4", "--out", str(tmp_path / "s.npz")]) == 0
    assert main(["info", str(out)]) == 0
    assert "step 4" in capsys.readouterr().out
    if name != "toy-eval":  # results are appended inside the export, never beside it
        assert main(["evaluate", str(out), "--metrics", "fid", "-n", "40", "--features", "pixels"]) == 0
        assert (out / "metrics.jsonl").exists() and not (out.parent / "metrics.jsonl").exists()
    with pytest.raises(CheckpointError, match="is an export"):
        checkpoint.resolve(out)


def test_export_refuses_a_non_empty_out_and_leaves_nothing_on_failure(exported, tmp_path):
    name, run, out = exported
    with pytest.raises(ConfigError, match="not empty"):
        ganforge_export(run, out)
    with pytest.raises(CheckpointError):
        ganforge_export(tmp_path / "missing", tmp_path / "x")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_damaged_export_names_the_file(exported, tmp_path):
    name, run, out = exported
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.json").write_text((out / "config.json").read_text())
    (bad / "model.safetensors").write_bytes((out / "model.safetensors").read_bytes()[:100])
    with pytest.raises(CheckpointError, match="model.safetensors"):
        ganforge.load(bad)


def test_a_stack_exports_both_stages_and_samples_as_its_checkpoint(tmp_path, photos, capsys):
    """Stage 1 keeps EMA weights, stage 2 does not: the export holds each stage's generator
    (EMA where kept) and config, and every command samples it as it samples the checkpoint."""
    run = ganforge.train(stack_cfg(tmp_path, photos, stage1={"train": {"ema": 0.9}}), out=tmp_path / "run")
    out = tmp_path / "export"
    assert main(["export", str(run), "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors", "samples.png"]
    state, raw1 = checkpoint.load(run), checkpoint.load(run / "stage1")
    weights, meta = load_file(str(out / "model.safetensors")), json.loads((out / "config.json").read_text())
    assert meta["ema"] == [True, False] and [s["config"]["model"]["family"] for s in meta["stages"]] == ["mlp", "upsample"]
    for i, stage in enumerate(state["stages"], 1):
        mine = {k[3:]: v for k, v in weights.items() if k.startswith(f"g{i}.")}
        assert mine.keys() == stage["G"].keys() and all(torch.equal(mine[k], stage["G"][k]) for k in mine)
    assert all(torch.equal(weights["g1." + k], v) for k, v in raw1["G_ema"].items())  # stage 1's averaged weights ...
    assert any(not torch.equal(weights["g1." + k], v) for k, v in raw1["G"].items())  # ... not its raw ones
    assert len(weights) == sum(len(s["G"]) for s in state["stages"])

    g, ref = ganforge.load(out), ganforge.load(run)
    assert g.nz == ref.nz == 8 and g.step == ref.step == 3
    assert torch.equal(g.sample(16, seed=3), ref.sample(16, seed=3))  # bit for bit
    z = g.latents(4, seed=5)
    assert all(torch.equal(a, b) for a, b in zip(g.stages(z), ref.stages(z)))
    card = (out / "README.md").read_text()
    assert "a stack on folder: `mlp` 8x8 → `upsample` 32x32" in card and "stage 1 makes 8x8 images, stage 2 turns them into 32x32" in card
    assert "| stage 1 weights | EMA of G (decay 0.9)" in card and "| stage 2 weights | G, " in card and "`g2.*`" in card

    for src in (run, out):  # every command that takes a checkpoint takes the export, and agrees with it
        name = "export" if src == out else "ckpt"
        assert main(["sample", str(src), "-n", "6", "--seed", "2", "--out", str(tmp_path / f"{name}.npz")]) == 0
        assert main(["interpolate", str(src), "--out", str(tmp_path / f"{name}-lerp.png")]) == 0
        assert main(["evaluate", str(src), "--metrics", "fid", "-n", "24", "--features", "pixels", "--no-append"]) == 0
        assert main(["audit", str(src), "-n", "12", "--features", "pixels", "--out", str(tmp_path / f"{name}-audit")]) == 0
    a, b = (np.load(tmp_path / f"{name}.npz")["images"] for name in ("export", "ckpt"))
    assert a.shape == (6, 32, 32, 3) and np.array_equal(a, b)
    audits = [json.loads((tmp_path / f"{name}-audit" / "audit.json").read_text()) for name in ("export", "ckpt")]
    assert audits[0]["memorization_score"] == audits[1]["memorization_score"]
    fids = [line for line in capsys.readouterr().out.splitlines() if line.startswith("fid ")]
    assert len(fids) == 2 and fids[0] == fids[1]


def ganforge_export(path, out):
    from ganforge.export import export

    return export(path, out)
