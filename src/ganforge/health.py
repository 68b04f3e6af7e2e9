"""Training health: detect, explain and act on the known GAN failure modes while training.

Two kinds of signal feed the monitor:

- every ``train.log_every`` steps, the flushed means of what ``gan_step`` reports: losses,
  D(x), D(G(z)) before and after D's update, D's accuracy on real and fake, the gradient
  norms of G and D, the critic's Wasserstein estimate;
- every ``health.every`` steps, a probe (one G forward of a fixed batch): the diversity of
  generated samples in a feature space against the data's; for 2-D toys the modes the
  samples cover (and those they capture, by the PacGAN protocol); for labelled images,
  when a domain classifier of the dataset is at hand (``health.classes``), the classes the
  samples cover. This is the only extra compute: about one training step per probe, so
  about 1% of training time at the defaults.

Each condition has a plain-language explanation and concrete remedies. When one starts, a
warning goes to the progress display and an event to ``health.jsonl``; when it ends, a note.
"""
from __future__ import annotations

import functools
import math
import re
from collections import deque
from dataclasses import dataclass
from pathlib import Path

import torch

from . import runs
from .metrics.spectrum import texture
from .metrics.toy import toy_scores


@dataclass(frozen=True)
class Condition:
    name: str
    title: str
    explanation: str
    remedies: tuple[str, ...]


CONDITIONS = {c.name: c for c in [
    Condition("d_wins", "the discriminator wins outright",
              "D tells real from generated almost perfectly (loss near 0, accuracy near 100%), so its verdict "
              "carries no useful direction for G: training stops converging (the classic 'D loss -> 0, G loss -> 100').",
              ("lower D's learning rate (--optim.lr_d) or use separate rates (TTUR)",
               "add one-sided label smoothing (--objective.label_smoothing 0.1) or instance noise (--objective.instance_noise 0.1)",
               "use spectral norm in D (--model.spectral_norm true) or a WGAN-GP / hinge objective",
               "on small datasets add DiffAugment (--objective.diffaugment color,translation,cutout)")),
    Condition("vanishing_g_grad", "the generator's gradient vanishes",
              "G's gradient has fallen to a tiny fraction of its early size while D rejects its samples: with the "
              "saturating minimax loss log(1 - D(G(z))), a confident D gives G almost no gradient to learn from.",
              ("switch to the non-saturating loss (--objective.name nonsaturating)",
               "or use a Wasserstein objective with a gradient penalty (--objective.name wgan-gp --model.d_norm layer)",
               "weaken D: lower --optim.lr_d, add label smoothing or instance noise")),
    Condition("mode_collapse", "mode collapse",
              "G covers only part of the data: its samples are much less diverse than real data (or, on a toy, "
              "land on few of the modes). Different latents map to nearly the same output.",
              ("add a minibatch standard-deviation feature to D (--model.mbstd true)",
               "add the mode-seeking regularizer (--objective.mode_seeking 1.0)",
               "use WGAN-GP or spectral norm, which give G gradients toward every part of the data",
               "average G's weights (--train.ema 0.999); lower learning rates")),
    Condition("oscillation", "oscillation or forgetting",
              "sample quality or diversity swings up and down, or the losses spike: G and D chase each other "
              "around the equilibrium instead of settling, and what G learned is forgotten and relearned.",
              ("lower both learning rates (--optim.lr_g, --optim.lr_d)",
               "use Adam beta1 0.5 or 0 with beta2 0.9-0.999",
               "average G's weights (--train.ema 0.999) and sample from the average",
               "use spectral norm or a gradient penalty (R1: --objective.r1_weight 10)")),
    Condition("lattice", "lattice or repeated texture",
              "the samples carry a pattern the real images do not: a grid of dots or a checkerboard at fixed "
              "spacings (sharp peaks in their frequency spectrum, often the stride-2 transposed convolutions' "
              "footprint), or one texture repeated across the samples and over each of them, where real images "
              "vary. G has found one pattern that D accepts.",
              ("use resize-convolution upsampling instead of transposed convolutions (--model.family fastgan)",
               "lower the learning rates (--optim.lr_g, --optim.lr_d); average G's weights (--train.ema 0.999)",
               "augment what D sees (--objective.ada true, --data.mirror true) so it cannot settle on one texture",
               "restart from an earlier checkpoint, before the pattern set in")),
    Condition("d_overfit", "the discriminator overfits the training images",
              "D calls almost every training image real with confidence (r_t = E[sign D(x)] near 1): on a small set it "
              "memorizes the images instead of learning what makes them real, its feedback to G turns to noise, and "
              "samples degrade or collapse (Karras et al. 2020).",
              ("turn on adaptive augmentation (--objective.ada true), which holds r_t at its target",
               "or DiffAugment (--objective.diffaugment translation,color,cutout) and mirroring (--data.mirror true)",
               "lower D's learning rate (--optim.lr_d) or fine-tune from a model trained on more images "
               "(--init RUN --model.freeze_d N)")),
    Condition("divergence", "divergence (NaN or Inf)",
              "a loss or a weight became NaN or infinite; nothing after this point is meaningful.",
              ("training rolls back to the last finite checkpoint with lower learning rates (train.max_rollbacks)",
               "lower the learning rates; check the data range ([-1, 1])",
               "use spectral norm, a gradient penalty or a bounded objective (hinge)")),
]}

# Mode collapse in its extreme form, judged at a single probe: it needs no history.
ONE_OUTPUT = Condition(
    "mode_collapse", "mode collapse to one output",
    "every latent gives nearly the same image, often a flat one (the grey of an untrained G: small weights "
    "leave tanh's input near 0). G is not using its input, and D separates real from fake without "
    "teaching it how to vary: more steps of the same rarely undo it.",
    ("look at the samples (samples/step-N.png): a flat grey square is G still at its initialization; then "
     "raise G's learning rate or lower D's (--optim.lr_g, --optim.lr_d), with Adam beta1 0.5",
     "use a generator that can make images from the start: convolutions with BatchNorm (dcgan, resnet) "
     "rather than a wide fully connected net",
     "add a minibatch standard-deviation feature to D (--model.mbstd true): it lets D reject a batch of identical samples",
     "restart from an earlier checkpoint with these changes"))

# Thresholds, each over a window of ``health.window`` flushed rows.
D_WINS_LOSS = 0.05  # mean D loss below this (cross-entropy objectives) ...
D_WINS_ACC = 0.98  # ... with D's accuracy above this on real and on fake
VANISH_RATIO = 0.05  # G's gradient norm below 5% of the largest seen (1% for critics) ...
VANISH_D_FAKE = 0.05  # ... while D(G(z)) is below this (cross-entropy objectives)
SATURATED = 0.01  # minimax: ∂L_G/∂logit = -D(G(z)), so D(G(z)) < 1% scales G's gradient below 1%
COLLAPSE_DIVERSITY = 0.4  # generated diversity below 40% of the data's
COLLAPSE_MODES = 0.75  # fewer than 75% of the toy's modes, or of the classes, covered ...
COVER_SHARE = 0.25  # ... a mode (class) being covered when at least 25% of its uniform share of the probe is nearest to it (classified as it)
COLLAPSE_PROBES = 3  # ... in each of the last 3 probes, with no progress across them
IMPROVE_MIN = 0.02  # images: progress is diversity up by 10% *and* 2 points of the data's (a flat G's 1% -> 2%
                    # is noise; on 2-D toys a G spreading out from a point goes 4% -> 6% -> 7%: progress)
ONE_OUTPUT_DIVERSITY = 0.03  # images: diversity below 3% of the data's at one probe is one output (the wide
                             # FC GAN on flowers: 0.6-2.4% at every probe; an early healthy DCGAN on MNIST: 7%) ...
ONE_OUTPUT_PIXEL_STD = 0.03  # ... and so is pixel spread within images below 3% of real images': flat images
SPIKE_Z = 8.0  # a loss more than 8 robust standard deviations above its recent median ...
SPIKE_RISE = 1.0  # ... that also more than doubled and, for cross-entropy losses, rose by over 1 nat
                  # (D loss 0.2 -> 0.9 is a healthy DCGAN's jitter, not a spike)
SWING_HQ = 0.2  # toys: std of % high quality over the last probes
SWING_DIVERSITY = 0.35  # std of the diversity ratio over the last probes
SWING_PROBES = 4  # probes a swing is judged over
LATTICE_PEAK = 2.0  # a spike in the samples' spectrum over the real images', e^2 = 7x its neighbourhood's level ...
TEXTURE_SPREAD = 0.35  # ... or samples' spectra spread below 35% of real images' (one texture for all) ...
LATTICE_PROBES = 3  # ... in each of the last 3 probes, and not fading: early in training, upsampling layers draw a
LATTICE_FADE = 0.3  # lattice that then recedes (a healthy MNIST DCGAN's peak: 53x, 53x, 35x, 11x ...); one
                    # whose peak fell by more than this (log units: 26%) or whose spread rose by 0.05 is passing
OVERFIT_RT, OVERFIT_ROWS = 0.95, 10  # D's r_t this high in 10 logged rows in a row, no adaptive augmentation (a memorizing
              # D stays sure of every image: 0.95-1.0 on 100 flowers; a healthy DCGAN's dips: 0.4-1.0 on the digits) ...
OVERFIT_SET = 10_000  # ... on a set this small or smaller (a large set is not memorized) ...
OVERFIT_EPOCHS, OVERFIT_END = 20, 0.9  # ... seen this many times (memorizing takes repetition); reported until r_t's mean is below 0.9


class HealthMonitor:
    def __init__(self, run_dir: Path | None, window: int, objective, warmup_step: int, kind: str = "image",
                 settings: dict | None = None, overfit_from: int | None = 0):
        self.run = None if run_dir is None else run_dir if isinstance(run_dir, runs.Run) else runs.Run(run_dir)
        self.settings = settings or {}  # the run's options, dotted keys: remedies it already applies are not offered
        self.overfit_from = overfit_from  # the step from which d_overfit is judged; None: never (a large set)
        self.window = window
        self.cross_entropy = not objective.critic  # D loss near 0 means "D wins" only for classifier losses
        self.saturating = objective.saturating
        self.warmup_step = warmup_step
        self.kind = kind  # images: one output is judged at one probe (2-D toys have their modes instead)
        self.rows: deque = deque(maxlen=max(4 * window, OVERFIT_ROWS))
        self.probes: deque = deque(maxlen=max(window, COLLAPSE_PROBES, SWING_PROBES))
        self.grad_g_max = 0.0
        self.active: dict[str, str] = {}  # condition -> detail
        self._real: tuple = (None, None)  # (the real batch's fingerprint, its diversity and pixel spread)

    # -- state (part of every checkpoint, so a resumed run judges the same history) -----
    def state_dict(self) -> dict:
        return {"rows": list(self.rows), "probes": list(self.probes), "grad_g_max": self.grad_g_max,
                "active": dict(self.active)}

    def load_state_dict(self, state: dict) -> None:
        self.rows = deque(state["rows"], maxlen=self.rows.maxlen)
        self.probes = deque(state["probes"], maxlen=self.probes.maxlen)
        self.grad_g_max = float(state["grad_g_max"])
        self.active = dict(state["active"])

    # -- signals -------------------------------------------------------------------------
    def observe(self, step: int, row: dict) -> list[dict]:
        """Judge the flushed metrics; returns the events (conditions started or ended)."""
        self.rows.append({k: v for k, v in row.items() if isinstance(v, (int, float))})
        if math.isfinite(row.get("grad_g", math.nan)):
            self.grad_g_max = max(self.grad_g_max, float(row["grad_g"]))
        found: dict[str, str] = {}
        if not all(math.isfinite(v) for v in self.rows[-1].values()):
            found["divergence"] = "non-finite values: " + ", ".join(k for k, v in self.rows[-1].items() if not math.isfinite(v))
        if len(self.rows) >= self.window and step >= self.warmup_step:
            recent = list(self.rows)[-self.window:]
            mean = lambda k: sum(r.get(k, math.nan) for r in recent) / len(recent)
            if self.cross_entropy and mean("loss_d") < D_WINS_LOSS and min(mean("acc_real"), mean("acc_fake")) > D_WINS_ACC:
                found["d_wins"] = f"D loss {mean('loss_d'):.4f}, accuracy {100 * mean('acc_real'):.1f}% real / {100 * mean('acc_fake'):.1f}% fake"
            if self.grad_g_max and "grad_g" in recent[-1]:
                d_fake, ratio = mean("d_fake_after"), mean("grad_g") / self.grad_g_max
                shrunk = ratio < (VANISH_RATIO if self.cross_entropy else VANISH_RATIO / 5)
                if (self.saturating and d_fake < SATURATED) or (shrunk and (not self.cross_entropy or d_fake < VANISH_D_FAKE)):
                    found["vanishing_g_grad"] = (f"D(G(z)) {d_fake:.4f}: the saturating loss scales G's gradient by it; " if self.saturating else "") + \
                        f"|grad G| {mean('grad_g'):.2e}, {100 * ratio:.1f}% of its largest {self.grad_g_max:.2e}"
            spikes = self._spikes()
            if spikes:
                found["oscillation"] = spikes
        for name, detail in self._probe_conditions().items():
            found.setdefault(name, detail)
        if self.overfit_from is not None and len(self.rows) >= OVERFIT_ROWS and step >= max(self.warmup_step, self.overfit_from) \
                and not found.keys() & {"d_wins", "mode_collapse"}:
            # D sure of the training images while G is not simply broken: on a small set, memorizing
            recent = list(self.rows)[-OVERFIT_ROWS:]
            rt = [r.get("ada_rt", math.nan) for r in recent]
            held = "d_overfit" in self.active and sum(rt[-self.window:]) / len(rt[-self.window:]) >= OVERFIT_END
            if "ada_p" not in recent[-1] and (held or all(v >= OVERFIT_RT for v in rt)):
                found["d_overfit"] = f"r_t = E[sign D(x_real)] {sum(rt) / len(rt):.2f} with no adaptive augmentation"
        return self._transitions(step, found)

    def _spikes(self) -> str:
        hist = list(self.rows)
        if len(hist) < 2 * self.window:
            return ""
        hits = []
        for key in ("loss_d", "loss_g"):
            past = sorted(r[key] for r in hist[: -self.window] if key in r)
            if not past:
                continue
            med = past[len(past) // 2]
            # a spike is a jump up; the spread is floored so a flat history does not make
            # every small move a spike
            mad = max(sorted(abs(v - med) for v in past)[len(past) // 2], 0.05 * abs(med), 1e-3)
            rise = max(abs(med), SPIKE_RISE if self.cross_entropy else 0.0)
            n = sum((r[key] - med) / (1.4826 * mad) > SPIKE_Z and r[key] - med > rise for r in hist[-self.window:] if key in r)
            if n >= 2:
                hits.append(f"{n} spikes in {key}")
        return ", ".join(hits)

    def probe(self, step: int, fake: torch.Tensor, real: torch.Tensor, info, classifier=None) -> dict:
        """Diversity (toy modes; classes, given a domain classifier) of a fixed generated batch;
        returns the values to report."""
        real_div, real_std = self._real_levels(real)
        result = {"diversity": diversity(fake) / max(real_div, 1e-12)}
        if info.kind == "image":
            result["pixel_std"] = pixel_std(fake) / max(real_std, 1e-12)
            if fake.shape[-1] >= 16:
                result.update(texture(fake, real))
        if info.kind == "points" and info.centers is not None:
            # Coverage counts every sample by its nearest centre: a generator still spread out
            # between the modes covers them all (it is imprecise, not collapsed); one piled on a
            # few covers few, wherever they are. The PacGAN count is reported beside it.
            s = toy_scores(fake * info.point_scale, info.centers, info.std)
            result.update(modes=float(covered(torch.tensor(s.visits))), total_modes=float(s.total_modes),
                          modes_captured=float(s.modes), high_quality=s.high_quality)
        elif classifier is not None:
            counts = class_counts(classifier, fake)
            result.update(modes=float(covered(counts)), total_modes=float(len(counts)))
            result["class_coverage"] = result["modes"] / len(counts)
        self.probes.append({"step": step, **result})
        return result

    def _real_levels(self, real: torch.Tensor) -> tuple[float, float]:
        """The real batch's diversity and pixel spread, computed once: the probes draw the same batch."""
        key = (tuple(real.shape), float(real.double().sum()))
        if self._real[0] != key:
            self._real = (key, (diversity(real), pixel_std(real)))
        return self._real[1]

    def _probe_conditions(self) -> dict[str, str | tuple[str, Condition]]:
        if not self.probes or self.probes[-1]["step"] < self.warmup_step:
            return {}
        last, found = self.probes[-1], {}
        recent = [p for p in self.probes if p["step"] >= self.warmup_step]
        # Collapse is a deficit that persists: a generator still spreading out (diversity
        # rising) or still finding modes has not converged yet; it has not collapsed. But
        # one image for every latent is collapse at once, whatever comes next.
        window = recent[-COLLAPSE_PROBES:]
        stuck = len(window) == COLLAPSE_PROBES and not improving(window, IMPROVE_MIN if self.kind == "image" else 0.0)
        flat = last.get("pixel_std", math.inf) < ONE_OUTPUT_PIXEL_STD
        if self.kind == "image" and (last["diversity"] < ONE_OUTPUT_DIVERSITY or flat):
            found["mode_collapse"] = (f"every sample is nearly the same{' flat' if flat else ''} image: diversity "
                                      f"{100 * last['diversity']:.1f}% of the data's" + (
                                          f", pixels within an image vary {100 * last['pixel_std']:.1f}% as much as "
                                          "in real ones" if "pixel_std" in last else ""), ONE_OUTPUT)
        elif stuck and "modes" in last and all(p["modes"] < COLLAPSE_MODES * p["total_modes"] for p in window):
            n, k = int(last["modes"]), int(last["total_modes"])
            found["mode_collapse"] = (f"{n} of {k} classes covered (domain classifier)" if "class_coverage" in last else
                                      f"samples near {n} of {k} modes ({int(last['modes_captured'])} captured within 3 std)")
        elif stuck and all(p["diversity"] < COLLAPSE_DIVERSITY for p in window):
            found["mode_collapse"] = f"sample diversity {100 * last['diversity']:.0f}% of the data's"
        latest = recent[-LATTICE_PROBES:]
        if "mode_collapse" not in found and len(latest) == LATTICE_PROBES and all("lattice" in p for p in latest) and \
                all(p["lattice"] > LATTICE_PEAK or p["texture_spread"] < TEXTURE_SPREAD for p in latest) and \
                ("lattice" in self.active or not (latest[-1]["lattice"] < latest[0]["lattice"] - LATTICE_FADE  # fading:
                                                  or latest[-1]["texture_spread"] > latest[0]["texture_spread"] + LATTICE_FADE / 6)):
            found["lattice"] = (f"spectral peak {math.exp(last['lattice']):.0f}x the real images' level" if last["lattice"] > LATTICE_PEAK
                                else f"the samples' textures vary {100 * last['texture_spread']:.0f}% as much as real images'")
        if len(recent) >= SWING_PROBES:
            key, limit = ("high_quality", SWING_HQ) if "high_quality" in last else ("diversity", SWING_DIVERSITY)
            vals = [p[key] for p in recent]
            mu = sum(vals) / len(vals)
            sd = math.sqrt(sum((v - mu) ** 2 for v in vals) / len(vals))
            if sd > limit:
                found["oscillation"] = f"{key.replace('_', ' ')} swinging (std {sd:.2f} over {len(vals)} probes)"
        return found

    def _transitions(self, step: int, found: dict[str, str | tuple[str, Condition]]) -> list[dict]:
        """Events for the conditions that started or ended; a detail may come with the form of
        its condition that explains it (``ONE_OUTPUT``)."""
        found = {k: v if isinstance(v, tuple) else (v, CONDITIONS[k]) for k, v in found.items()}
        events = []
        for name in found.keys() - self.active.keys():
            detail, c = found[name]
            events.append({"step": step, "condition": name, "status": "start", "title": c.title, "detail": detail,
                           "explanation": c.explanation, "remedies": open_remedies(c, self.settings)})
        for name in self.active.keys() - found.keys():
            events.append({"step": step, "condition": name, "status": "end", "title": CONDITIONS[name].title})
        self.active = {k: detail for k, (detail, _) in found.items()}
        if self.run is not None:
            for e in events:
                self.run.append(self.run.health, e)
        return events


def improving(probes: list[dict], floor: float = 0.0) -> bool:
    """Progress across probes: diversity up by over 10% (and over ``floor``) on the window's
    earlier low, or more modes."""
    *before, last = probes
    low = min(p["diversity"] for p in before)
    if last["diversity"] > max(1.1 * low, low + floor):
        return True
    return "modes" in last and last["modes"] > max(p["modes"] for p in before)


def covered(counts: torch.Tensor) -> int:
    """Modes (classes) holding at least COVER_SHARE of the share a uniform spread would give
    them: a few stray samples of a collapsed generator do not count as coverage."""
    return int((counts >= COVER_SHARE * counts.sum() / len(counts)).sum())


@torch.no_grad()
def class_counts(classifier, fake: torch.Tensor) -> torch.Tensor:
    """Samples per class, as the domain classifier reads them."""
    was_training = classifier.training
    classifier.eval()
    pred = classifier(fake.float()).argmax(1)
    classifier.train(was_training)
    return torch.bincount(pred, minlength=classifier.num_classes)


def diversity(x: torch.Tensor, max_dim: int = 1024) -> float:
    """Mean pairwise L2 distance of samples, in a fixed random projection of their values
    (the raw values when they have few dimensions): cheap, and blind to nothing in particular."""
    flat = x.detach().flatten(1).float().cpu()
    if flat.shape[1] > max_dim:
        flat = flat @ _projection(flat.shape[1], max_dim)
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / max(n * (n - 1), 1))


@functools.lru_cache(maxsize=2)
def _projection(dim: int, max_dim: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    return torch.randn(dim, max_dim, generator=gen) / math.sqrt(max_dim)


def pixel_std(x: torch.Tensor) -> float:
    """The mean over images of the standard deviation of each image's values: 0 for flat images."""
    return float(x.detach().flatten(1).float().std(1).mean()) if len(x) else 0.0


OPTION = re.compile(r"--([a-z0-9_]+\.[a-z0-9_]+)(?: ([^\s,;)]+))?")


def open_remedies(c: Condition, settings: dict) -> list[str]:
    """``c``'s remedies less those the run already applies, where every option a remedy names
    comes with a value and the run has it (a fastgan run is not told to use fastgan); all of
    them if that would leave none. ``settings``: the run's options by dotted key."""
    def applied(remedy: str) -> bool:
        named = OPTION.findall(remedy)
        return bool(named) and all(v and str(settings.get(k, "")).lower() == v.lower() for k, v in named)

    return [r for r in c.remedies if not applied(r)] or list(c.remedies)


def event_text(e: dict) -> str:
    if e["status"] == "start":
        return f"step {e['step']}: {e['title']}: {e['detail']}. Try: {e['remedies'][0]}"
    return f"step {e['step']}: {e['title']}: ended"


# ---------------------------------------------------------------------------- deciding

@dataclass(frozen=True)
class Decision:
    """What the training loop does after a logged row, decided here and carried out in one
    place by the loop: nothing, warn (the events are printed), roll back, or stop."""

    action: str = "none"  # none | warn | rollback | stop
    reason: str = ""
    events: tuple = ()  # the row's health events (started and ended conditions), to print
    trigger: dict | None = None  # the event behind a health rollback or stop
    lr_d_only: bool = False  # a health rollback lowers D's learning rate alone; a divergence, both


def decide(step: int, row: dict, events: list[dict], action: str, conditions) -> Decision:
    """One decision per row. A non-finite row is a divergence: roll back, whatever else the
    row started (rolling back once cures both). Otherwise the first condition that started and
    is among ``conditions`` triggers ``action`` (health.action: warn, stop or rollback)."""
    events = tuple(events)
    if not all(math.isfinite(v) for v in row.values() if isinstance(v, (int, float))):
        return Decision("rollback", f"a non-finite loss at step {step}", events)
    for e in events:
        if e["status"] == "start" and e["condition"] in conditions and e["condition"] != "divergence" \
                and action in ("stop", "rollback"):
            return Decision(action, e["title"], events, e, lr_d_only=True)
    return Decision("warn" if events else "none", "", events)
