import math

import pytest
import torch
import torch.nn as nn

from ganforge import assemble
from ganforge import objectives
from ganforge.augment import DInput, cutout, translation
from ganforge.config import ObjectiveConfig
from ganforge.errors import ConfigError
from ganforge.models.layers import DOut, apply_spectral_norm
from ganforge.objectives import OBJECTIVES, gradient_penalty, mode_seeking, pulling_away, r1_penalty

L = torch.tensor([-3.0, -0.5, 0.0, 0.7, 4.0])  # hand-made D outputs
P = torch.sigmoid(L)


def obj(name, **kw):
    return objectives.build(ObjectiveConfig(name=name, **kw))


# Each objective's three losses as the papers write them, on the hand-made outputs.
FORMULAS = {
    "minimax": (-(P.log()).mean(), -((1 - P).log()).mean(), (1 - P).log().mean()),
    "nonsaturating": (-(P.log()).mean(), -((1 - P).log()).mean(), -(P.log()).mean()),
    "wgan": (-L.mean(), L.mean(), -L.mean()),
    "wgan-gp": (-L.mean(), L.mean(), -L.mean()),
    "hinge": (torch.clamp(1 - L, min=0).mean(), torch.clamp(1 + L, min=0).mean(), -L.mean()),
    "lsgan": (0.5 * ((L - 1) ** 2).mean(), 0.5 * (L**2).mean(), 0.5 * ((L - 1) ** 2).mean()),
}


def test_every_objective_has_its_formula_checked():
    assert set(FORMULAS) | {"energy"} == set(OBJECTIVES.names())


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_losses_equal_their_formulas(name):
    o = obj(name)
    real, fake, gen = FORMULAS[name]
    assert torch.allclose(o.d_real(L, None), real, atol=1e-6)
    assert torch.allclose(o.d_fake(L, None), fake, atol=1e-6)
    assert torch.allclose(o.g(L, None), gen, atol=1e-6)


def test_energy_losses_with_the_margin():
    m = 2.0
    o = obj("energy", margin=m)
    E = torch.nn.functional.softplus(L)  # a standard D's score made non-negative
    assert torch.allclose(o.d_real(L, None), E.mean())
    assert torch.allclose(o.d_fake(L, None), torch.clamp(m - E, min=0).mean())
    assert torch.allclose(o.g(L, None), E.mean())
    # an autoencoder D's reconstruction error is the energy itself, plus the pulling-away term
    code = torch.randn(5, 3)
    out = DOut(L.abs(), code=code)
    assert torch.allclose(o.d_real(out, None), L.abs().mean())
    c = code / code.norm(dim=1, keepdim=True)
    pt = sum(float(c[i] @ c[j]) ** 2 for i in range(5) for j in range(5) if i != j) / 20
    assert math.isclose(float(pulling_away(code)), pt, rel_tol=1e-5)
    assert torch.allclose(o.g(out, None), L.abs().mean() + 0.1 * pulling_away(code))


def test_acgan_adds_the_class_cross_entropy():
    y = torch.tensor([0, 1, 2, 1, 0])
    logits = torch.randn(5, 3)
    out = DOut(L, logits)
    o = obj("nonsaturating")
    ce = nn.functional.cross_entropy(logits, y)
    assert torch.allclose(o.d_real(out, y), FORMULAS["nonsaturating"][0] + ce)
    assert torch.allclose(o.d_fake(out, y), FORMULAS["nonsaturating"][1] + ce)
    assert torch.allclose(o.g(out, y), FORMULAS["nonsaturating"][2] + ce)
    # aux_fake false: D learns classes from real images only; G's class term stays
    real_only = obj("nonsaturating", aux_fake=False)
    assert torch.allclose(real_only.d_real(out, y), FORMULAS["nonsaturating"][0] + ce)
    assert torch.allclose(real_only.d_fake(out, y), FORMULAS["nonsaturating"][1])
    assert torch.allclose(real_only.g(out, y), FORMULAS["nonsaturating"][2] + ce)


def test_one_sided_label_smoothing_changes_only_real_targets():
    s = obj("nonsaturating", label_smoothing=0.1)
    expected = -(0.9 * P.log() + 0.1 * (1 - P).log()).mean()
    assert torch.allclose(s.d_real(L, None), expected, atol=1e-6)
    assert torch.equal(s.d_fake(L, None), obj("nonsaturating").d_fake(L, None))


def test_losses_are_finite_for_confident_discriminators():
    for name in OBJECTIVES.names():
        big = torch.tensor([-200.0, 200.0], requires_grad=True)
        o = obj(name)
        for loss in (o.d_real(big, None), o.d_fake(big, None), o.g(big, None)):
            assert math.isfinite(loss.item())
            (g,) = torch.autograd.grad(loss, big)
            assert torch.isfinite(g).all()


def test_minimax_saturates_where_nonsaturating_does_not():
    """The reason for the non-saturating loss: when D rejects fakes confidently, the minimax
    gradient w.r.t. the logit vanishes while the non-saturating one stays near -1."""
    logit = torch.tensor([-10.0], requires_grad=True)
    (g_mm,) = torch.autograd.grad(obj("minimax").g(logit, None), logit)
    (g_ns,) = torch.autograd.grad(obj("nonsaturating").g(logit, None), logit)
    assert abs(float(g_mm)) < 1e-4 and abs(float(g_ns)) > 0.99


class SmallD(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1))

    def forward(self, x, y=None):
        return self.net(x).view(len(x))


def test_gradient_penalty_equals_an_independent_autograd_computation():
    torch.manual_seed(0)
    D = SmallD()
    real, fake = torch.randn(6, 3, 2, 2), torch.randn(6, 3, 2, 2)
    torch.manual_seed(1)
    gp = gradient_penalty(D, real, fake)
    torch.manual_seed(1)
    eps = torch.rand(6, 1, 1, 1)  # the same per-sample ε
    expected = 0.0
    for i in range(6):  # one sample at a time, with torch.autograd.functional
        x_hat = eps[i] * real[i : i + 1] + (1 - eps[i]) * fake[i : i + 1]
        g = torch.autograd.functional.jacobian(lambda t: D(t).sum(), x_hat)
        expected += (g.flatten().norm() - 1) ** 2 / 6
    assert torch.allclose(gp, expected, rtol=1e-5)
    gp.backward()  # differentiable with respect to D's weights (create_graph)
    assert D.net[1].weight.grad is not None and D.net[1].weight.grad.abs().sum() > 0


def test_r1_penalty_is_the_squared_gradient_norm_on_reals():
    D = SmallD()
    real = torch.randn(4, 3, 2, 2)
    g = torch.autograd.functional.jacobian(lambda t: D(t).sum(), real)
    assert torch.allclose(r1_penalty(D, real), g.flatten(1).pow(2).sum(1).mean(), rtol=1e-5)


def test_wgan_clips_every_weight_after_the_critic_step():
    D = SmallD()
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(100)
    obj("wgan", clip=0.01).after_d_step(D)
    assert all(p.abs().max() <= 0.01 for p in D.parameters())


def test_spectral_norm_brings_each_largest_singular_value_to_one():
    torch.manual_seed(0)
    D = apply_spectral_norm(nn.Sequential(nn.Linear(20, 30), nn.Conv2d(3, 8, 3)))
    for _ in range(30):  # power iterations run in training-mode forwards
        D[0](torch.randn(2, 20))
        D[1](torch.randn(2, 3, 5, 5))
    D.eval()
    for m in D:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert abs(float(sigma) - 1) < 0.02, float(sigma)


def test_mode_seeking_rewards_different_outputs_for_different_latents():
    z = torch.randn(8, 4)
    same = torch.zeros(8, 3)
    varied = torch.randn(8, 3)
    assert mode_seeking(same, z) > 1e4 > mode_seeking(varied, z)


def test_diffaugment_keeps_shapes_is_differentiable_and_noise_anneals():
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    aug = DInput("color,translation,cutout", 0.5, total_steps=100)
    out = aug(x)
    assert out.shape == x.shape
    out.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert aug.sigma() == 0.5
    aug.step = 50
    assert aug.sigma() == 0.25
    ones = torch.ones(2, 1, 8, 8)
    assert (cutout(ones) == 0).sum(dim=(1, 2, 3)).min() > 0  # a square was cut from each
    assert translation(ones).sum() <= ones.sum()  # shifted content, zero fill


@pytest.mark.parametrize("overrides, fragment", [
    ({"objective": {"name": "wgan", "gp_weight": 10}}, "weight clipping together with a gradient penalty"),
    ({"objective": {"name": "wgan-gp"}, "model": {"d_norm": "batch"}}, "BatchNorm"),
    ({"objective": {"name": "hinge", "label_smoothing": 0.1}}, "label_smoothing"),
    ({"model": {"d_arch": "autoencoder"}}, "use objective.name energy"),
    ({"data": {"name": "ring8"}, "model": {"family": "mlp"}, "objective": {"diffaugment": "color"}}, "not 2-D points"),
    ({"model": {"conditional": "acgan", "family": "mlp"}, "data": {"name": "ring8"}}, "the dataset has no labels"),
])
def test_combinations_that_make_no_sense_are_rejected_with_a_reason(overrides, fragment):
    with pytest.raises(ConfigError, match=fragment):
        assemble.from_dict(overrides)


def test_checks_read_what_each_objective_declares_not_its_name():
    """A new objective is one class: the checks find it by its capabilities."""
    from ganforge.objectives import OBJECTIVES, having

    assert having("clips_weights") == ["wgan"] and having("default_gp") == ["wgan-gp"]
    assert having("smooths_labels") == ["lsgan", "minimax", "nonsaturating"]
    assert having("takes_autoencoder") == ["energy"] and having("lower_is_real") == ["energy"]
    assert {n for n in OBJECTIVES.names() if OBJECTIVES.get(n).critic} == {"wgan", "wgan-gp", "hinge", "lsgan", "energy"}
