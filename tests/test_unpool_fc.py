"""The teaching experiments' nets: unpool's index sources and errors, the wide FC GANs' sizes."""
import re

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import config as C
from ganforge import models
from ganforge.cli import main
from ganforge.data.base import DataInfo
from ganforge.errors import GanforgeError
from ganforge.models.unpool import BANK, pool_indices

from conftest import tiny


def _unpool(mode, res=32, conditional="none"):
    cfg = C.from_dict(tiny(model={"family": "unpool", "unpool_indices": mode, "conditional": conditional}))
    G, D = models.build(cfg.model, DataInfo("image", (3, res, res), 10 if conditional != "none" else 0))
    return cfg, G, D


def test_unpool_layers_are_the_experiments():
    cfg, G, D = _unpool("real", res=128)
    f = D.body[0]
    assert [(c.in_channels, c.out_channels, c.kernel_size, c.padding) for c in (f.conv1, f.conv2, f.conv3)] == \
        [(3, 16, (3, 3), (1, 1)), (16, 16, (3, 3), (1, 1)), (16, 32, (3, 3), (1, 1))]
    lin = [m for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(2048, 512), (512, 50), (50, 1)]
    assert [m.p for m in D.modules() if isinstance(m, torch.nn.Dropout)] == [0.1, 0.1]
    idx = pool_indices(D, torch.rand(2, 3, 128, 128), None)
    assert [tuple(i.shape[1:]) for i in idx] == [(16, 64, 64), (16, 32, 32), (16, 16, 16), (32, 8, 8)]
    glin = [(m.in_features, m.out_features) for m in G.modules() if isinstance(m, torch.nn.Linear)]
    assert glin == [(cfg.model.nz, 512), (512, 2048)]
    assert G(torch.randn(2, cfg.model.nz), indices=idx).shape == (2, 3, 128, 128)


def test_unpool_without_indices_fails_clearly():
    cfg, G, D = _unpool("real")
    for mode in (G.eval(), G.train()):  # unbound in training too: nothing to take indices from
        with pytest.raises(GanforgeError, match="no pooling indices were given and none are stored"):
            G(torch.randn(2, cfg.model.nz))


@pytest.mark.parametrize("conditional", ["none", "concat"])
def test_unpool_index_sources(conditional):
    cfg, G, D = _unpool("real", conditional=conditional)
    y = torch.arange(4) if conditional != "none" else None
    x1, x2 = torch.rand(4, 3, 32, 32) * 2 - 1, torch.rand(4, 3, 32, 32) * 2 - 1
    G.observe(x1, y, D)
    G(torch.randn(4, cfg.model.nz), y)
    assert int(G.banked) == 4 and torch.equal(G.bank0[:4].long(), pool_indices(D, x1, y)[0])  # the real batch's

    cfg, G, D = _unpool("fixed", conditional=conditional)
    G.observe(x1, y, D)
    G(torch.randn(4, cfg.model.nz), y)
    first = G.bank3[:1].clone()
    G.observe(x2, y, D)
    G(torch.randn(4, cfg.model.nz), y)
    assert int(G.banked) == 1 and torch.equal(G.bank3[:1], first)  # fixed once

    cfg, G, D = _unpool("generated", conditional=conditional)
    G.observe(x1, y, D)
    out = G(torch.randn(4, cfg.model.nz), y)
    G(torch.randn(4, cfg.model.nz), y)
    assert torch.equal(G.bank0[:4].long(), pool_indices(D, out, y)[0])  # G's previous batch, not x1


def test_unpool_samples_from_its_checkpoint_alone(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "imgs").mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    cfg = C.from_dict(tiny({"data": {"name": "folder", "root": str(tmp_path / "imgs"), "resolution": 32},
                            "model": {"family": "unpool"}, "train": {"steps": 2}}))
    run = ganforge.train(cfg, out=tmp_path / "run")
    g = ganforge.load(run)
    assert int(g.net.banked) == min(BANK, cfg.train.batch_size)
    x = g.sample(20, seed=0)
    assert x.shape == (20, 3, 32, 32) and torch.isfinite(x).all()


def _linear_params(widths):
    return sum((a + 1) * b for a, b in zip(widths, widths[1:]))


@pytest.mark.parametrize("preset, first", [("fc-folder", 8192), ("fc-half-folder", 4096)])
def test_info_prints_the_wide_fc_parameter_counts(tmp_path, capsys, preset, first):
    (tmp_path / "imgs").mkdir()
    Image.new("RGB", (64, 64), (10, 200, 30)).save(tmp_path / "imgs" / "a.png")
    assert main(["info", "--preset", preset, "--data.root", str(tmp_path / "imgs")]) == 0
    out = capsys.readouterr().out
    counts = {k: int(v.replace(",", "")) for k, v in re.findall(r"^([GD]): ([\d,]+) parameters", out, re.M)}
    d_widths = [3 * 64 * 64, first, 2048, 512, 1]
    assert counts == {"D": _linear_params(d_widths), "G": _linear_params([100, 512, 2048, first, 3 * 64 * 64])}
    if first == 8192:
        assert counts["D"] > 100e6 and counts["G"] + counts["D"] > 230e6
        assert counts["D"] - 12288 * 8192 < 0.2 * counts["D"]  # almost all in the first layer


def test_sngan_nets_match_the_published_sizes():
    """Mimicry's SNGAN for CIFAR-10: G 4,276,739 and D 1,053,825 parameters."""
    cfg = C.load(preset="sngan-cifar10")
    G, D = models.build(cfg.model, DataInfo("image", (3, 32, 32), 0))
    assert models.param_count(G) == 4_276_739
    assert models.param_count(D) == 1_053_825
    stl = C.load(preset="sngan-stl10")
    G, D = models.build(stl.model, DataInfo("image", (3, 48, 48), 0))
    assert G.base == 6 and G.linear.out_features == 512 * 36
    assert [b.conv2.out_channels for b in D.body if hasattr(b, "conv2")] == [64, 128, 256, 512, 1024]


def test_dcgan_at_128_and_512_follow_from_the_family():
    c = C.load(preset="dcgan-folder-128", overrides=["--data.root", "x"])
    _, D = models.build(c.model, DataInfo("image", (3, 128, 128), 0))
    convs = [m for m in D.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(m.in_channels, m.out_channels) for m in convs[:5]] == [(3, 64), (64, 128), (128, 256), (256, 512), (512, 512)]
    assert all(m.kernel_size == (4, 4) and m.stride == (2, 2) for m in convs[:5])
    c = C.load(preset="dcgan-folder-512", overrides=["--data.root", "x"])
    G, _ = models.build(c.model, DataInfo("image", (3, 512, 512), 0))
    tconv = [m for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert c.model.nz == 1000 and tconv[0].in_channels == 1000 and tconv[0].out_channels == 2048
    assert [m.out_channels for m in tconv] == [2048, 1024, 512, 256, 128, 64, 32, 3]
