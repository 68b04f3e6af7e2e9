import sys
from pathlib import Path

import pytest
import torch

from ganforge import config as C
from ganforge import models, objectives
from ganforge.data.base import DataInfo
from ganforge.errors import ConfigError
from ganforge.models import MODELS, param_count
from ganforge.models.dcgan import RESOLUTIONS
from ganforge.training import make_optimizers

from conftest import tiny

CASES = ([("mlp", "points", 0), ("mlp", "image", 28), ("mlp", "image", 32)] + [("dcgan", "image", r) for r in RESOLUTIONS]
         + [("resnet", "image", 32), ("resnet", "image", 48), ("unpool", "image", 32), ("unpool", "image", 128),
            ("fc", "image", 16), ("upsample", "image", 32), ("fastgan", "image", 64)])
EXTRA = {("resnet", 48): {"resnet_style": "pyramid"}, ("upsample", 32): {"low_res": 8}, ("fc", 16): {"d_hidden": [32, 8]}}


def _info(kind, res, nc=3, classes=10):
    return DataInfo("points", (2,), classes) if kind == "points" else DataInfo("image", (nc, res, res), classes)


def _step(cfg, info, n=4):
    """One real gan_step on random data; returns (G, D, params before) for checks."""
    from ganforge.augment import DInput
    from ganforge.training import Game, gan_step

    G, D = models.build(cfg.model, info)
    opt_g, opt_d = make_optimizers(cfg, G, D)
    o = cfg.objective
    game = Game(G, D, objectives.build(o), opt_g, opt_d, DInput(o.diffaugment, o.instance_noise, 10),
                cfg.model.nz, cfg.train.d_steps, 10 if cfg.model.conditional != "none" else 0)
    x = torch.rand(n, *info.shape) * 2 - 1
    y = torch.randint(10, (n,)) if cfg.model.conditional != "none" else None
    batches = models.bind(G, D, iter(lambda: (x, y), None))
    before = [p.detach().clone() for p in list(G.parameters()) + list(D.parameters())]
    gan_step(game, batches)
    after = list(G.parameters()) + list(D.parameters())
    return G, D, before, after


@pytest.mark.parametrize("conditional", ["none", "concat", "acgan", "projection"])
@pytest.mark.parametrize("family, kind, res", CASES)
def test_every_model_does_a_train_step(family, kind, res, conditional):
    """Every registered family, tiny, at each supported resolution, with and without labels."""
    assert {f for f, _, _ in CASES} == set(MODELS.names())
    # Seeded: at widths of 2, some draws of the weights (2 of 60 for the 32x32 resnet) leave every
    # ReLU of D dead on the fake batch, and G's gradient is exactly 0. The order the suite's
    # workers run tests in must not decide which draw this test gets.
    torch.manual_seed(0)
    cfg = C.from_dict(tiny(model={"family": family, "conditional": conditional, "ngf": 2, "ndf": 2, **EXTRA.get((family, res), {})}))
    info = _info(kind, res, nc=1 if res == 28 else 3)
    G, D, before, after = _step(cfg, info)
    z = torch.randn(3, cfg.model.nz)
    y = torch.randint(10, (3,)) if conditional != "none" else None
    fake = G(z, y)
    assert fake.shape == (3, *info.shape)
    if kind == "image" and family != "upsample":  # upsample adds detail to its condition: see test_stacked.py
        assert fake.min() >= -1 and fake.max() <= 1  # tanh output, the data's range
    changed = [not torch.equal(a, b) for a, b in zip(before, after)]
    assert any(changed[: len(list(G.parameters()))]) and any(changed[len(list(G.parameters())):])


def test_classic_dcgan_64_parameter_counts():
    cfg = C.from_dict({"data": {"resolution": 64}})
    G, D = models.build(cfg.model, DataInfo("image", (3, 64, 64), 0))
    assert param_count(G) == 3_576_704
    assert param_count(D) == 2_765_568
    # D: BatchNorm everywhere but on the first layer; LeakyReLU(0.2); logits out (no sigmoid)
    assert not isinstance(D.body[1], torch.nn.BatchNorm2d)
    assert not any(isinstance(m, torch.nn.Sigmoid) for m in D.modules())


@pytest.mark.parametrize("res", [28, 32])
def test_mnist_sized_dcgan_has_the_classic_32x32_layers(res):
    """MNIST presets must not be weaker than the classic 32x32 loop users would copy
    (benchmarks/classic.py): the same weight shapes, layer by layer; at 28 on a 4 → 7 → 14 → 28 path."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import classic

    cfg = C.from_dict({"data": {"resolution": res}})
    G, D = models.build(cfg.model, DataInfo("image", (1, res, res), 0))
    shapes = lambda net: [tuple(p.shape) for p in net.parameters()]
    assert shapes(G) == shapes(classic.generator(100, 64, 1, 32)) and param_count(G) == 1_066_880
    assert shapes(D) == shapes(classic.discriminator(64, 1, 32)) and param_count(D) == 661_248
    x = G(torch.randn(2, 100))
    assert x.shape == (2, 1, res, res) and D(x).shape == (2,)


@pytest.mark.parametrize("preset", ["dcgan-mnist", "dcgan-fashion-mnist", "dcgan-cifar10"])
def test_28_and_32_presets_hand_over_the_classic_generator(preset):
    """The G a preset trains is the classic 32x32 G, layer for layer, whatever D it trains against:
    dcgan-fashion-mnist's D is the classic D at half the width (four times less arithmetic, more
    steps per CPU-minute and better samples at every mark: README, quality per CPU-minute)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import classic

    cfg = C.load(preset=preset)
    nc, res = (3 if cfg.data.name == "cifar10" else 1), cfg.data.resolution
    G, D = models.build(cfg.model, DataInfo("image", (nc, res, res), 0))
    shapes = lambda net: [tuple(p.shape) for p in net.parameters()]
    assert shapes(G) == shapes(classic.generator(100, 64, nc, 32))
    assert shapes(D) == shapes(classic.discriminator(cfg.model.ndf, nc, 32)) and cfg.model.ndf in (32, 64)


def test_classic_mlp_shapes():
    cfg = C.load(preset="mlp-mnist")
    G, D = models.build(cfg.model, DataInfo("image", (1, 28, 28), 10))
    assert [m.out_features for m in G.modules() if isinstance(m, torch.nn.Linear)] == [256, 512, 1024, 784]
    lin = [m for m in D.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in lin] == [(784, 1000), (1000, 400), (400, 200), (200, 1)]
    assert sum(isinstance(m, torch.nn.Dropout) and m.p == 0.1 for m in D.modules()) == 3


def test_dcgan_init_is_normal_0_02():
    cfg = C.from_dict({"data": {"resolution": 64}})
    torch.manual_seed(0)
    G, D = models.build(cfg.model, DataInfo("image", (3, 64, 64), 0))
    w = torch.cat([m.weight.detach().flatten() for m in G.modules() if isinstance(m, torch.nn.ConvTranspose2d)])
    assert abs(float(w.mean())) < 1e-3 and abs(float(w.std()) - 0.02) < 1e-3
    bn = torch.cat([m.weight.detach() for m in D.modules() if isinstance(m, torch.nn.BatchNorm2d)])
    assert abs(float(bn.mean()) - 1.0) < 0.01 and abs(float(bn.std()) - 0.02) < 0.01


def test_conditional_model_needs_labels_and_unsupported_resolution_is_refused():
    cfg = C.from_dict(tiny(model={"conditional": "concat"}))
    G, _ = models.build(cfg.model, DataInfo("image", (1, 16, 16), 10))
    with pytest.raises(ValueError, match="conditional"):
        G(torch.randn(2, cfg.model.nz))
    with pytest.raises(ConfigError, match="data.resolution = 24"):
        models.check(cfg.model, DataInfo("image", (1, 24, 24), 10))
    with pytest.raises(ConfigError, match="needs images"):
        models.check(C.ModelConfig(family="dcgan"), DataInfo("points", (2,), 0))
