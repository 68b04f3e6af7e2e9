"""The fast training step computes what the plain one and the classic DCGAN loop compute.

Fused Adam, channels-last memory and the sub-pixel output layer change how the step runs,
never what it computes: in float64, weights after a few steps agree to rounding.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path

import pytest
import torch

from ganforge import config, training
from ganforge.data.base import DataInfo
from ganforge.models.layers import OutputConvTranspose2d

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import classic  # noqa: E402  (the reference loop the throughput benchmark times)


@pytest.fixture
def float64():
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


def game(fast: bool, res: int = 16, nc: int = 3, seed: int = 0, **over):
    cfg = config.from_dict(config.merge({
        "data": {"resolution": res, "channels": nc},
        "model": {"family": "dcgan", "nz": 8, "ngf": 8, "ndf": 8},
        "optim": {"fused": fast}, "train": {"channels_last": fast, "batch_size": 8}}, over))
    torch.manual_seed(seed)
    return training.make_game(cfg, DataInfo("image", (nc, res, res), 0), torch.device("cpu"))


def run(g: training.Game, x: torch.Tensor, steps: int, seed: int = 1) -> None:
    if g.D.body[0].weight.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)
    torch.manual_seed(seed)
    batches = itertools.repeat((x, None))
    for _ in range(steps):
        training.gan_step(g, batches)


def max_diff(a: torch.nn.Module, b: torch.nn.Module) -> float:
    pa, pb = list(a.parameters()), list(b.parameters())
    assert [p.shape for p in pa] == [p.shape for p in pb]
    return max(float((p - q).detach().abs().max()) for p, q in zip(pa, pb))


def test_output_layer_is_the_transposed_convolution(float64):
    torch.manual_seed(0)
    for bias in (False, True):
        fast = OutputConvTranspose2d(6, 3, bias=bias)
        plain = torch.nn.ConvTranspose2d(6, 3, 4, 2, 1, bias=bias)
        plain.load_state_dict(fast.state_dict())
        assert list(fast.state_dict()) == list(plain.state_dict())  # checkpoints load either way
        x = torch.randn(2, 6, 5, 7, requires_grad=True)
        y = fast(x)
        g = torch.randn_like(y)
        got = torch.autograd.grad(y, [x, *fast.parameters()], g)
        want = torch.autograd.grad(plain(x), [x, *plain.parameters()], g)
        assert y.shape == (2, 3, 10, 14)
        assert max(float((a - b).abs().max()) for a, b in zip(got, want)) < 1e-12


@pytest.mark.parametrize("over", [{}, {"objective": {"name": "wgan-gp"}, "model": {"d_norm": "layer"}},
                                  {"optim": {"name": "rmsprop"}}], ids=["nonsaturating", "wgan-gp", "rmsprop"])
def test_fast_step_equals_plain_step(float64, over):
    fast, plain = game(True, **over), game(False, **over)
    assert fast.G.net[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert max_diff(fast.G, plain.G) == 0 and max_diff(fast.D, plain.D) == 0
    x = torch.rand(8, 3, 16, 16) * 2 - 1
    run(fast, x, 4)
    run(plain, x, 4)
    assert max_diff(fast.G, plain.G) < 1e-9
    assert max_diff(fast.D, plain.D) < 1e-9
    assert max_diff(fast.G, game(False, **over).G) > 1e-4  # and they did train


def test_ganforge_step_equals_the_classic_loop(float64):
    """The classic loop (Sigmoid + BCELoss, D's weight gradients in G's step) and ganforge's
    (logits, D frozen during G's step) are the same updates: the throughput benchmark compares
    equal work."""
    x = torch.rand(8, 1, 32, 32) * 2 - 1
    ours = game(True, res=32, nc=1)
    torch.manual_seed(3)
    (step, _), netG, netD = classic.dcgan_stepper(x, nz=8, ngf=8, ndf=8)
    with torch.no_grad():
        for net, theirs in ((ours.G, netG), (ours.D, netD)):
            for p, q in zip(net.parameters(), theirs.parameters(), strict=True):
                q.copy_(p)
    run(ours, x, 3)
    torch.manual_seed(1)
    for _ in range(3):
        step()
    assert max_diff(ours.G, netG) < 1e-9
    assert max_diff(ours.D, netD) < 1e-9
