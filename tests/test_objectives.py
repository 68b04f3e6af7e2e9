import math

import pytest
import torch

from ganforge import objectives
from ganforge.config import ObjectiveConfig
from ganforge.objectives import OBJECTIVES

L = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0])  # hand-made logits
P = torch.sigmoid(L)


def obj(name, **kw):
    return objectives.build(ObjectiveConfig(name=name, **kw))


def test_d_loss_is_the_gan_cross_entropy():
    for name in OBJECTIVES.names():
        o = obj(name)
        assert torch.allclose(o.d_loss_real(L), -(P.log()).mean(), atol=1e-6)  # -log D(x)
        assert torch.allclose(o.d_loss_fake(L), -((1 - P).log()).mean(), atol=1e-6)  # -log(1 - D(G(z)))


def test_minimax_generator_loss_is_log_one_minus_d():
    assert torch.allclose(obj("minimax").g_loss(L), (1 - P).log().mean(), atol=1e-6)


def test_nonsaturating_generator_loss_is_minus_log_d():
    assert torch.allclose(obj("nonsaturating").g_loss(L), -(P.log()).mean(), atol=1e-6)


def test_one_sided_label_smoothing_changes_only_real_targets():
    s = obj("nonsaturating", label_smoothing=0.1)
    expected = -(0.9 * P.log() + 0.1 * (1 - P).log()).mean()
    assert torch.allclose(s.d_loss_real(L), expected, atol=1e-6)
    assert torch.equal(s.d_loss_fake(L), obj("nonsaturating").d_loss_fake(L))


def test_losses_are_finite_for_confident_discriminators():
    big = torch.tensor([-200.0, 200.0], requires_grad=True)
    for name in OBJECTIVES.names():
        o = obj(name)
        for loss in (o.d_loss_real(big), o.d_loss_fake(big), o.g_loss(big)):
            assert math.isfinite(loss.item())
            (g,) = torch.autograd.grad(loss, big)
            assert torch.isfinite(g).all()


def test_minimax_saturates_where_nonsaturating_does_not():
    """The reason for the non-saturating loss: when D rejects fakes confidently, the minimax
    gradient w.r.t. the logit vanishes while the non-saturating one stays near -1."""
    logit = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(obj("minimax").g_loss(logit), logit)
    (g_ns,) = torch.autograd.grad(obj("nonsaturating").g_loss(logit), logit)
    assert abs(float(g_mm)) < 1e-4 and abs(float(g_ns)) > 0.99
