"""GAN objectives by name. The objective knows the game; the training loop knows the schedule.

An objective turns D's outputs into losses. D sees real and fake batches separately
(BatchNorm statistics never mix them), so the D loss comes in two parts whose gradients
the loop accumulates before one optimizer step:

    d_real(D(x), y) + d_fake(D(G(z).detach()), y') [+ d_penalty]      g(D(G(z)), y') [+ g_penalty]

Subclasses define the adversarial terms on D's score (d_loss_real, d_loss_fake, g_loss);
the base class adds what combines with any of them: AC-GAN's auxiliary classifier, the
gradient penalty, R1 and mode seeking. Classifier losses are computed from logits
(softplus), never from sigmoid outputs, so they stay finite when D is confident.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import dist
from .config import Config, ObjectiveConfig
from .errors import ConfigError
from .models.layers import DOut, score_of
from .registry import Registry

OBJECTIVES: Registry[type["Objective"]] = Registry("objective")


class Objective:
    """Each objective declares what it is in the class attributes below, so checks and reports
    read capabilities rather than names, and a new objective is one class."""

    critic = False  # True: D's score is an unbounded critic value, not a logit
    saturating = False  # True: G's loss gradient is scaled by D(G(z)), vanishing as D wins
    default_gp = 0.0  # the gradient penalty weight when objective.gp_weight is not given
    clips_weights = False  # True: D's weights are clipped after each step, which a gradient penalty would contradict
    smooths_labels = True  # True: D learns real/fake targets, so one-sided label smoothing has a target to soften
    lower_is_real = False  # True: D's output is an energy, lower on real data than on generated
    takes_autoencoder = False  # True: D's output may be an autoencoder D's reconstruction error (an energy)

    def __init__(self, cfg: ObjectiveConfig):
        self.cfg = cfg
        self.gp_weight = self.default_gp if cfg.gp_weight is None else cfg.gp_weight

    # -- the adversarial terms, on D's score (N,) -------------------------------------
    def d_loss_real(self, s: torch.Tensor) -> torch.Tensor:
        # One-sided label smoothing (Salimans et al. 2016): real targets 1 - s, fake stay 0.
        return F.binary_cross_entropy_with_logits(s, torch.full_like(s, 1.0 - self.cfg.label_smoothing))

    def d_loss_fake(self, s: torch.Tensor) -> torch.Tensor:
        return F.softplus(s).mean()  # -log(1 - D(G(z)))

    def g_loss(self, s: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def readout(self, out) -> torch.Tensor:
        """What to report as D(x): a probability for classifiers, the raw score for critics."""
        s = score_of(out)
        return s if self.critic else torch.sigmoid(s)

    def accuracy(self, out_real, out_fake) -> tuple[torch.Tensor, torch.Tensor]:
        """D's accuracy on real and on fake: a logit's sign for classifiers; for critics,
        whether a sample scores on the right side of the other batch's mean."""
        r, f = score_of(out_real), score_of(out_fake)
        if self.critic:
            r, f = (f.mean() - r, f - r.mean()) if self.lower_is_real else (r - f.mean(), r.mean() - f)
            return (r > 0).float().mean(), (f > 0).float().mean()
        return (r > 0).float().mean(), (f < 0).float().mean()

    # -- what the loop calls ------------------------------------------------------------
    def d_real(self, out, y) -> torch.Tensor:
        return self.d_loss_real(score_of(out)) + self._aux(out, y)

    def d_fake(self, out, y) -> torch.Tensor:
        return self.d_loss_fake(score_of(out)) + self._aux(out, y, self.cfg.aux_fake)

    def g(self, out, y) -> torch.Tensor:
        return self.g_loss(score_of(out)) + self._aux(out, y)

    def _aux(self, out, y, on: bool = True):
        # AC-GAN (Odena et al. 2017): D classifies real and fake images (fakes only with
        # objective.aux_fake); G wants its fakes classified as the class it was asked for.
        if on and isinstance(out, DOut) and out.class_logits is not None:
            return self.cfg.aux_weight * F.cross_entropy(out.class_logits, y)
        return 0.0

    def d_penalty(self, D, real, fake, y, y_fake) -> torch.Tensor | None:
        terms = []
        if self.gp_weight:
            terms.append(self.gp_weight * gradient_penalty(D, real, fake, y))
        if self.cfg.r1_weight:
            terms.append(0.5 * self.cfg.r1_weight * r1_penalty(D, real, y))
        return sum(terms) if terms else None

    def g_penalty(self, fake, z) -> torch.Tensor | None:
        return self.cfg.mode_seeking * mode_seeking(fake, z) if self.cfg.mode_seeking else None

    def after_d_step(self, D) -> None:
        pass


@OBJECTIVES.register("minimax")
class Minimax(Objective):
    """Goodfellow et al. 2014, eq. 1: G minimizes log(1 - D(G(z))). Saturates when D wins:
    its gradient vanishes exactly when G is worst, which is why nonsaturating is the default."""

    saturating = True

    def g_loss(self, s):
        return -F.softplus(s).mean()  # log(1 - sigmoid(s)) = -softplus(s)


@OBJECTIVES.register("nonsaturating")
class NonSaturating(Objective):
    """Goodfellow et al. 2014, sec. 3: G maximizes log D(G(z)) instead; same fixed point,
    strong gradients early in training."""

    def g_loss(self, s):
        return F.softplus(-s).mean()  # -log sigmoid(s)


@OBJECTIVES.register("wgan")
class WGAN(Objective):
    """Arjovsky et al. 2017: the critic estimates the Wasserstein-1 distance, E D(x) - E D(G(z)),
    kept (roughly) 1-Lipschitz by clipping its weights to [-c, c] after every step."""

    critic = True
    clips_weights = True
    smooths_labels = False

    def d_loss_real(self, s):
        return -s.mean()

    def d_loss_fake(self, s):
        return s.mean()

    def g_loss(self, s):
        return -s.mean()

    @torch.no_grad()
    def after_d_step(self, D):
        for p in D.parameters():
            p.clamp_(-self.cfg.clip, self.cfg.clip)


@OBJECTIVES.register("wgan-gp")
class WGANGP(WGAN):
    """Gulrajani et al. 2017: the Lipschitz constraint as a penalty λ(‖∇D(x̂)‖₂ - 1)² on
    random interpolates x̂ of real and fake, instead of clipping."""

    default_gp = 10.0
    clips_weights = False

    def after_d_step(self, D):
        pass


@OBJECTIVES.register("hinge")
class Hinge(Objective):
    """Lim & Ye 2017; Miyato et al. 2018: D minimizes [1 - D(x)]+ + [1 + D(G(z))]+; G minimizes -D(G(z))."""

    critic = True
    smooths_labels = False

    def d_loss_real(self, s):
        return F.relu(1.0 - s).mean()

    def d_loss_fake(self, s):
        return F.relu(1.0 + s).mean()

    def g_loss(self, s):
        return -s.mean()


@OBJECTIVES.register("lsgan")
class LSGAN(Objective):
    """Mao et al. 2017 (a=0, b=1, c=1): least squares instead of cross-entropy."""

    critic = True

    def d_loss_real(self, s):
        return 0.5 * (s - (1.0 - self.cfg.label_smoothing)).pow(2).mean()

    def d_loss_fake(self, s):
        return 0.5 * s.pow(2).mean()

    def g_loss(self, s):
        return 0.5 * (s - 1.0).pow(2).mean()


@OBJECTIVES.register("energy")
class Energy(Objective):
    """The energy-based game (LeCun et al. 2006; Zhao et al. 2017, EBGAN): D assigns a
    non-negative energy E, low on data; L_D = E(x) + [m - E(G(z))]+, L_G = E(G(z)).
    A standard D's score goes through softplus to be non-negative; an autoencoder D's
    reconstruction error is an energy already, and its code feeds the pulling-away term."""

    critic = True
    smooths_labels = False
    lower_is_real = True
    takes_autoencoder = True

    def energy(self, out) -> torch.Tensor:
        return out.score if isinstance(out, DOut) and out.code is not None else F.softplus(score_of(out))

    def readout(self, out):
        return self.energy(out)

    def d_real(self, out, y):
        return self.energy(out).mean() + self._aux(out, y)

    def d_fake(self, out, y):
        return F.relu(self.cfg.margin - self.energy(out)).mean() + self._aux(out, y, self.cfg.aux_fake)

    def g(self, out, y):
        loss = self.energy(out).mean() + self._aux(out, y)
        if isinstance(out, DOut) and out.code is not None and self.cfg.pt_weight:
            loss = loss + self.cfg.pt_weight * pulling_away(out.code)
        return loss


# ------------------------------------------------------------------------------ penalties

def _grad_wrt_input(D, x: torch.Tensor, y) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(score_of(D(x, y)).sum(), x, create_graph=True)
    return grad.flatten(1)  # the norm is over all non-batch dimensions


def gradient_penalty(D, real: torch.Tensor, fake: torch.Tensor, y=None) -> torch.Tensor:
    """E (‖∇D(x̂)‖₂ - 1)², x̂ = εx + (1 - ε)x̃ with one ε ~ U[0, 1] per sample."""
    eps = dist.rand(len(real), *([1] * (real.dim() - 1)), device=real.device, dtype=real.dtype)  # this slice's of the global draw
    x_hat = eps * real.detach() + (1 - eps) * fake.detach()
    return (_grad_wrt_input(D, x_hat, y).norm(dim=1) - 1).pow(2).mean()


def r1_penalty(D, real: torch.Tensor, y=None) -> torch.Tensor:
    """E ‖∇D(x)‖² on real data (Mescheder et al. 2018)."""
    return _grad_wrt_input(D, real, y).pow(2).sum(1).mean()


def mode_seeking(fake: torch.Tensor, z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Mao et al. 2019: G maximizes d(G(z1), G(z2)) / d(z1, z2) over pairs from the batch,
    so different latents may not map to the same output; as a loss, 1 / (ratio + eps).
    The pairs span the global batch (dist.whole_batch), however many processes share it."""
    fake, z = dist.whole_batch(fake), dist.whole_batch(z)
    h = len(fake) // 2
    ratio = (fake[:h] - fake[h : 2 * h]).abs().mean() / (z[:h] - z[h : 2 * h]).abs().mean()
    return 1.0 / (ratio + eps)


def pulling_away(code: torch.Tensor) -> torch.Tensor:
    """EBGAN's pulling-away term: mean squared cosine similarity between distinct codes
    (of the global batch, with several processes)."""
    c = F.normalize(dist.whole_batch(code).flatten(1), dim=1)
    n = len(c)
    sim = (c @ c.t()).pow(2)
    return (sim.sum() - sim.diagonal().sum()) / (n * (n - 1))


# ------------------------------------------------------------------------------ building

def build(cfg: ObjectiveConfig) -> Objective:
    return OBJECTIVES.get(cfg.name)(cfg)


def having(capability: str) -> list[str]:
    """The names of the objectives that declare ``capability`` (a class attribute)."""
    return [n for n in OBJECTIVES.names() if getattr(OBJECTIVES.get(n), capability)]


def _listed(names: list[str], last: str = "and") -> str:
    return ", ".join(names[:-1]) + f" {last} " + names[-1] if len(names) > 1 else "".join(names)


def check(cfg: Config, info) -> None:
    """Reject combinations the papers do not allow, with the reason. Objectives are told apart
    by what their classes declare (clips_weights, smooths_labels, ...), never by name."""
    o, m = cfg.objective, cfg.model
    obj = OBJECTIVES.get(o.name)
    gp = obj.default_gp if o.gp_weight is None else o.gp_weight
    if obj.clips_weights and gp:
        raise ConfigError(f"objective.gp_weight with objective.name = {o.name!r}: weight clipping together with a "
                          f"gradient penalty; use objective.name {_listed(having('default_gp'), 'or')} (penalty) "
                          "or gp_weight 0 (clipping)")
    if gp and m.d_norm == "batch":
        raise ConfigError("model.d_norm = 'batch' with a gradient penalty: BatchNorm makes each critic output depend "
                          "on the whole batch, so the per-sample gradient the penalty constrains is not defined "
                          "(Gulrajani et al. 2017, sec. 4); use model.d_norm layer or none")
    if o.label_smoothing and not obj.smooths_labels:
        raise ConfigError(f"objective.label_smoothing with objective.name = {o.name!r}: smoothing needs real/fake "
                          f"targets; it applies to {_listed(having('smooths_labels'))}")
    if m.d_arch == "autoencoder" and not obj.takes_autoencoder:
        raise ConfigError("model.d_arch = 'autoencoder' gives an energy, not a score: "
                          f"use objective.name {_listed(having('takes_autoencoder'), 'or')}")
    if m.d_arch == "autoencoder" and m.conditional != "none":
        raise ConfigError("model.d_arch = 'autoencoder' has no class input: use model.conditional none")
    if o.mode_seeking and cfg.train.batch_size < 2:
        raise ConfigError("objective.mode_seeking needs pairs: train.batch_size must be >= 2")
    if o.diffaugment and info.kind != "image":
        raise ConfigError(f"objective.diffaugment = {o.diffaugment!r}: DiffAugment works on images, not 2-D points")
