"""The fastgan family: skip-layer excitation in G, a self-supervised decoder in D, 64 to 1024 pixels."""
from __future__ import annotations

import pytest
import torch
from conftest import tiny

from ganforge import config as C
from ganforge import models, objectives
from ganforge.augment import DInput
from ganforge.cli.main import main
from ganforge.data.base import DataInfo
from ganforge.errors import ConfigError
from ganforge.models.layers import DOut, aux_loss
from ganforge.training import Game, gan_step, make_optimizers


def build(res: int, conditional: str = "none", **model):
    cfg = C.from_dict(tiny(model={"family": "fastgan", "ngf": 8, "ndf": 8, "conditional": conditional, **model},
                           data={"resolution": res}))
    return cfg, models.build(cfg.model, DataInfo("image", (3, res, res), 5))


def one_step(cfg, G, D, res: int, n: int = 2):
    opt_g, opt_d = make_optimizers(cfg, G, D)
    o = cfg.objective
    k = 5 if cfg.model.conditional != "none" else 0
    game = Game(G, D, objectives.build(o), opt_g, opt_d, DInput(o.diffaugment, 0.0, 10), cfg.model.nz, 1, k)
    x, y = torch.rand(n, 3, res, res) * 2 - 1, torch.randint(5, (n,)) if k else None
    before = {name: p.detach().clone() for name, p in D.named_parameters()}
    gan_step(game, iter(lambda: (x, y), None))
    return {name for name, p in D.named_parameters() if not torch.equal(before[name], p)}


@pytest.mark.parametrize("res", [64, 128, 256])
def test_builds_and_trains_one_step_at_each_resolution(res):
    cfg, (G, D) = build(res)
    fake = G(torch.randn(2, cfg.model.nz))
    assert fake.shape == (2, 3, res, res) and fake.abs().max() <= 1
    # skip-layer excitation: side s is gated by side s/8 from 64 up
    assert sorted(int(s) for s in G.sle) == [s for s in (64, 128, 256) if s <= res]
    changed = one_step(cfg, G, D, res)
    # the reconstruction loss reached D's decoders: they learn on real images
    assert any(n.startswith("decode_all.") for n in changed) and any(n.startswith("decode_part.") for n in changed)


@pytest.mark.parametrize("conditional", ["concat", "acgan", "projection"])
def test_conditional(conditional):
    cfg, (G, D) = build(64, conditional)
    y = torch.arange(2)
    assert G(torch.randn(2, cfg.model.nz), y).shape == (2, 3, 64, 64)
    assert one_step(cfg, G, D, 64)


def test_1024_shapes_with_tiny_widths():
    cfg, (G, D) = build(1024, ngf=1, ndf=1)
    with torch.no_grad():
        fake = G(torch.randn(1, cfg.model.nz))
        assert fake.shape == (1, 3, 1024, 1024)
        D.eval()
        assert D(fake).shape == (1,)


def test_the_self_supervised_loss_is_asked_for_only_while_d_trains():
    cfg, (G, D) = build(64)
    x = torch.rand(2, 3, 64, 64) * 2 - 1
    out = D(x)
    assert isinstance(out, DOut) and out.aux is not None
    loss = aux_loss(out)
    assert loss.dim() == 0 and loss > 0
    loss.backward()
    assert D.decode_all[0][1].weight.grad is not None  # through the decoder
    D.eval()
    assert aux_loss(D(x)) == 0.0  # sampling, evaluation: the decoders do not run
    D.train()
    with torch.no_grad():
        assert aux_loss(D(x)) == 0.0


def test_unsupported_resolution_is_named():
    with pytest.raises(ConfigError, match="fastgan supports 64, 128"):
        build(32)


def test_info_shows_the_family(capsys):
    assert main(["info", "--model.family", "fastgan", "--data.name", "digits", "--data.resolution", "64",
                 "--model.ngf", "8", "--model.ndf", "8"]) == 0
    out = capsys.readouterr().out
    assert "model fastgan" in out and "sle.64" in out and "GLU" in out
