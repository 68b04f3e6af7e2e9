"""The training loop: (1) update D k times, (2) update G, then report, snapshot, checkpoint.

Read ``Trainer.run`` and ``gan_step`` top to bottom; everything around them is set-up and
bookkeeping, in this package's other files: build.py makes the Game, state.py saves and
restores it (and rolls back), watch.py looks at the samples and decides. The loop is the same
for every objective and model family: those differ only in objectives.py and models/.

Under torchrun the same loop runs in every process (dist.py): each takes its slice of the
global batch, gradients are averaged before each optimizer step, so weights stay identical;
decisions (stop, roll back, a new best) are shared, and only rank 0 writes the run directory.
"""
from __future__ import annotations

import copy
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .. import checkpoint, data, dist, models, runs, viz
from ..config import Config
from ..errors import ConfigError, GanforgeError, HealthStop
from ..health import Decision, event_text
from ..log import Reporter, report, report_image
from ..models.layers import aux_loss, score_of
from ..precision import compile_nets
from . import state
from .build import Game, fixed_noise, make_game
from .device import pick_device, seed_everything, tune_process
from .state import SignalGuard, keep_rng, say
from .watch import Watch


class Trainer:
    """A run's state (networks, optimizers, data position, step) and the loop over it:
    ``Trainer(cfg, out)`` starts a run directory (``resume=RUN`` continues one), ``run()``
    trains it; ``step_once()``, ``save()``, ``state()`` and ``adopt(state)`` serve other code."""

    def __init__(self, cfg: Config, out=None, resume=None, init=None):
        self.cfg, T = cfg, cfg.train
        self.device = dist.init(pick_device(T.device), T.dist_timeout)
        if T.batch_size % dist.world():
            raise ConfigError(f"train.batch_size = {T.batch_size}: the global batch must split evenly over "
                              f"{dist.world()} processes")
        self.run_dir = runs.Run(resume) if resume else runs.new(out)  # nothing is written before training can start
        self.dir = self.run_dir.path
        tune_process(self.device, T.tf32)
        seed_everything(T.seed)
        with dist.local_main_first():  # one download per machine
            self.source = data.build(cfg.data, T.seed)
        self.game = make_game(cfg, self.source.info, self.device)
        self.G_ema = copy.deepcopy(self.game.G).eval().requires_grad_(False) if T.ema else None
        if T.compile:  # after the EMA copy: G_ema stays eager
            compile_nets(self.game.G, self.game.D, double_backward=bool(self.game.obj.gp_weight or cfg.objective.r1_weight))
        self.fixed = fixed_noise(cfg, self.source.info, self.device)
        self.watch = Watch(cfg, self.run_dir, self.source, self.game, self.device)
        self.step, self.rollbacks, self.best = 0, 0, None
        self.batches = self.new_batches()  # checks the batch size fits the data
        if resume:
            state.restore(self, checkpoint.resolve(self.dir) if dist.is_main() else None)
        else:  # init: --init's trained weights, loaded before the step-0 checkpoint
            runs.create(self.run_dir, lambda: state.start(self, init))

    def new_batches(self):
        """This process's slice of the data stream from the source's current position, in the
        networks' memory format (shown to a G that watches the real batches: models.bind)."""
        batches = self.source.batches(self.cfg.train.batch_size, self.device, shard=(dist.rank(), dist.world()))
        it = models.bind(self.game.G, self.game.D, batches)
        if not self.cfg.train.channels_last:
            return it
        return ((x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x, y) for x, y in it)

    def run(self, stop_when=None) -> Path:
        """Train to train.steps; ``stop_when(trainer)``, asked before each step, may make that
        step the last (logged, snapshotted and checkpointed as the last step is)."""
        T, last = self.cfg.train, self.cfg.train.steps
        bar = tqdm(total=T.steps, initial=self.step, disable=not (T.progress and dist.is_main()), dynamic_ncols=True, desc=self.dir.name)
        due = lambda every: self.step % every == 0 or self.step == last
        clock = (time.perf_counter(), self.step)
        try:
            with Reporter(self.run_dir, T.tensorboard) as reporter, SignalGuard() as stop:
                while self.step < last:
                    if stop_when is not None and stop_when(self):
                        last = self.step + 1
                    self.step_once()
                    bar.update(1)
                    signum = dist.max_int(stop.signum or 0)  # a signal to any process stops all at this step
                    if self.cfg.health.enabled and self.step % self.cfg.health.every == 0:
                        for k, v in self.watch.probe(self.sampler, self.step).items():
                            reporter.report(k, v)
                    decision = Decision()
                    if due(T.log_every):
                        now = time.perf_counter()
                        row = reporter.flush(self.step, img_per_s=T.batch_size * (self.step - clock[1]) / max(now - clock[0], 1e-9))
                        clock = (now, self.step)
                        bar.set_postfix_str(progress_text(row), refresh=False)
                        decision = self.watch.decide(self.step, row)
                    if decision.action in ("none", "warn"):
                        decision = self.keep(due, signum) or decision
                    if self.carry_out(decision):
                        bar.n = self.step
                    elif signum:
                        raise state.stopped(self, signum)
        except OSError as e:  # a full disk or an unwritable directory, outside a checkpoint write
            raise GanforgeError(f"could not write {e.filename or self.dir}: {e.strerror or e}; the last checkpoint "
                                f"({checkpoint.latest(self.run_dir.checkpoints)}) is intact: free space, then "
                                f"ganforge train --resume {self.dir}") from None
        finally:
            bar.close()
        if self.run_dir.writes:
            viz.finish(self.run_dir)
        dist.barrier()  # every process leaves together: none tears down the group under another
        return self.dir

    def step_once(self) -> None:
        """One training step: the learning-rate schedule, gan_step, the EMA of G."""
        T = self.cfg.train
        self.step += 1
        self.game.aug.step = self.step
        decay_lr(self.game, self.cfg.optim.lr_decay, self.step, T.steps)
        gan_step(self.game, self.batches)
        self.game.aug.adapt(self.step)  # adaptive augmentation: r_t reported, p moved toward its target
        if self.G_ema is not None:
            ema_update(self.G_ema, self.game.G, ema_decay(T.ema, T.ema_rampup, self.step))

    def keep(self, due, signum: int) -> Decision | None:
        """What a healthy step leaves: snapshots, evaluations, checkpoints (finite ones only:
        non-finite weights are a divergence to roll back from)."""
        T = self.cfg.train
        if due(T.sample_every):
            self.snapshot()
        if T.eval_every and due(T.eval_every):
            self.watch.evaluate(self)
        if due(T.ckpt_every) or signum:
            if not state.finite(self):
                return Decision("rollback", f"non-finite weights at step {self.step}")
            self.save()
        return None

    def carry_out(self, decision: Decision) -> bool:
        """The one place a decision is acted on: print the events, roll back or stop. True
        when training rolled back."""
        for e in decision.events:
            say(("ganforge: warning: " if e["status"] == "start" else "ganforge: note: ") + event_text(e))
        if decision.action == "stop":
            path, e = self.save(), decision.trigger
            dist.barrier()
            raise HealthStop(f"stopped at step {self.step} on {e['title']} ({e['detail']}); checkpoint {path}. "
                             f"Try: {'; '.join(e['remedies'])}")
        if decision.action == "rollback":
            state.rollback(self, decision.reason, decision.lr_d_only)
            return True
        return False

    # -- the public API for code that drives training itself -----------------------------
    @property
    def sampler(self) -> torch.nn.Module:
        """The generator to sample and judge: the EMA copy when the run keeps one."""
        return self.game.G if self.G_ema is None else self.G_ema

    def save(self, path: Path | None = None) -> Path:
        return state.save(self, path)

    def state(self) -> dict:
        return state.state_of(self)

    def adopt(self, other: dict) -> None:
        """Continue from ``other``: a checkpoint's state, or one with at least G, D, opt_g,
        opt_d and step (see state.adopt)."""
        state.adopt(self, other)

    def snapshot(self) -> None:
        G = self.sampler
        dist.sync_buffers(G)
        if self.run_dir.writes:
            path = self.run_dir.frame(self.step)
            with keep_rng():
                viz.snapshot(G, *self.fixed, self.source, path, f"step {self.step}")
            report_image("samples/fixed_noise", path, self.step)
            viz.thin_frames(self.run_dir.samples)


def gan_step(game: Game, batches) -> None:
    """One generator step and the k discriminator steps before it."""
    G, D, obj, aug, amp = game.G, game.D, game.obj, game.aug, game.amp
    # (1) Update D k times. Real and fake batches go through D separately (BatchNorm never
    # mixes them), their gradients accumulate, then one optimizer step. Only the last
    # fake keeps its graph: G's step reuses it, as in the classic DCGAN loop.
    for i in range(game.k):
        x, y = next(batches)  # this process's slice of the global batch; noise likewise (dist)
        z = dist.randn(len(x), game.nz, device=x.device)
        y_fake = dist.randint(0, game.num_classes, len(x), device=x.device) if game.num_classes else None
        with torch.set_grad_enabled(i == game.k - 1), amp.autocast():
            fake = G(z, y_fake)
        game.opt_d.zero_grad(set_to_none=True)
        with amp.autocast():
            out_real = D(aug(x), y)
            loss_real = obj.d_real(out_real, y) + aux_loss(out_real)  # + D's self-supervised loss, if it has one
        aug.observe(out_real)  # D's verdicts on real images: adaptive augmentation's r_t
        amp.backward(loss_real, game.opt_d)
        with amp.autocast():
            out_fake = D(aug(fake.detach()), y_fake)
            loss_fake = obj.d_fake(out_fake, y_fake)
        amp.backward(loss_fake, game.opt_d)
        penalty = obj.d_penalty(D, x, fake, y, y_fake)  # gradient penalty, R1 (full precision)
        if penalty is not None:
            amp.backward(penalty, game.opt_d)
            report("penalty_d", penalty.detach())
        if amp.gradients_ready(game.opt_d, D.parameters()):  # averaged over processes (one flat all-reduce)
            report("grad_d", grad_norm(D))
        amp.step(game.opt_d)
        obj.after_d_step(D)  # weight clipping

    # (2) Update G through D, with D frozen: no weight gradients are computed for D.
    game.train_d(False)
    with amp.autocast():
        out_g = D(aug(fake), y_fake)
        loss_g = obj.g(out_g, y_fake)
        penalty = obj.g_penalty(fake, z)  # mode seeking
    game.opt_g.zero_grad(set_to_none=True)
    amp.backward(loss_g if penalty is None else loss_g + penalty, game.opt_g)
    if amp.gradients_ready(game.opt_g, G.parameters()):
        report("grad_g", grad_norm(G))
    amp.step(game.opt_g)
    game.train_d(True)

    with torch.no_grad():
        report("loss_d", loss_real + loss_fake)
        report("loss_g", loss_g)
        report("d_real", obj.readout(out_real).mean())
        report("d_fake", obj.readout(out_fake).mean())  # D(G(z)) before D's update
        report("d_fake_after", obj.readout(out_g).mean())  # and after it, as G sees D
        acc_real, acc_fake = obj.accuracy(out_real, out_fake)
        report("acc_real", acc_real)
        report("acc_fake", acc_fake)
        if obj.critic:  # E D(x) - E D(G(z)): the critic's Wasserstein estimate
            report("w_estimate", score_of(out_real).mean() - score_of(out_fake).mean())


def grad_norm(net: torch.nn.Module) -> torch.Tensor:
    """The global L2 norm of a network's gradients (one fused kernel per device)."""
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    return torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads))) if grads else torch.zeros(())


def decay_lr(game: Game, decay: float, step: int, steps: int) -> None:
    """optim.lr_decay: each learning rate is its initial value times min(1, steps left / (decay·steps)),
    the last step's a step's worth above 0. A function of the step alone, so a resumed run
    continues the schedule; a rollback lowers the initial value it decays from."""
    if decay == 0:
        return
    scale = min(1.0, (steps - step + 1) / (decay * steps))
    for opt in (game.opt_g, game.opt_d):
        for group in opt.param_groups:
            group["lr"] = group.setdefault("initial_lr", group["lr"]) * scale


def ema_decay(ema: float, rampup: float, step: int) -> float:
    """The EMA decay at this step: ``ema``, or with a warm-up a half-life of at most
    ``rampup``·step steps (Karras et al. 2020's ema_rampup, counted in steps, not images)."""
    return ema if rampup == 0 else min(ema, 0.5 ** (1.0 / max(rampup * step, 1e-8)))


@torch.no_grad()
def ema_update(G_ema: torch.nn.Module, G: torch.nn.Module, decay: float) -> None:
    """θ_ema ← decay·θ_ema + (1 − decay)·θ (Yazıcı et al. 2019): averages out the
    oscillation of G's weights around the game's equilibrium. Buffers (BatchNorm
    statistics) are copied, not averaged."""
    torch._foreach_lerp_(list(G_ema.parameters()), list(G.parameters()), 1.0 - decay)
    for b_ema, b in zip(G_ema.buffers(), G.buffers()):
        b_ema.copy_(b)


def progress_text(row: dict) -> str:
    return (f"D {row['loss_d']:.3f} G {row['loss_g']:.3f} D(x) {row['d_real']:.2f} "
            f"D(G(z)) {row['d_fake']:.2f} {row['img_per_s']:.0f} img/s")
