"""The training loop: (1) update D k times, (2) update G, then report, snapshot, checkpoint.

Read ``Trainer.run`` and ``gan_step`` top to bottom; everything around them is set-up and
bookkeeping. The loop is the same for every objective and model family: those differ only
in objectives.py and models/. Around it: signals stop it cleanly, and a divergence (NaN or
Inf) rolls it back to the last checkpoint, a bounded number of times.

Under torchrun the same loop runs in every process (dist.py): each takes its slice of the
global batch, gradients are averaged before each optimizer step, so weights stay identical;
decisions (stop, roll back, a new best) are shared, and only rank 0 writes the run directory.
"""
from __future__ import annotations

import copy
import ctypes
import math
import random
import signal
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import checkpoint, config, data, dist, models, objectives, runs, viz
from .augment import DInput
from .config import Config
from .errors import ConfigError, GanforgeError
from .health import HealthMonitor, event_text
from .log import Reporter, report, report_image
from .models.layers import score_of
from .precision import Precision, compile_nets, set_tf32


class TrainingStopped(GanforgeError):
    """SIGINT or SIGTERM: the step was finished and a checkpoint written."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class TrainingDiverged(GanforgeError):
    """Non-finite losses or weights that rolling back did not cure."""


class HealthStop(GanforgeError):
    """health.action stop: a failure mode was detected; a checkpoint was written."""


class Trainer:
    """A run's state (networks, optimizers, data position, step) and the loop over it."""

    def __init__(self, cfg: Config, out=None, resume=None):
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
        self.health = HealthMonitor(self.run_dir, cfg.health.window, self.game.obj, int(cfg.health.warmup * T.steps),
                                    self.source.info.kind) if cfg.health.enabled and dist.is_main() else None
        with keep_rng():
            self.judge_classes = self.health_classifier() if self.health is not None else None
        self.step, self.rollbacks, self.best = 0, 0, None
        self.batches = self.new_batches()  # checks the batch size fits the data
        if resume:
            self.restore(checkpoint.resolve(self.dir) if dist.is_main() else None)
        else:
            runs.create(self.run_dir, self.start)

    def start(self) -> None:
        """A new run's first files: its config, the fixed latents, the step-0 checkpoint."""
        self.run_dir.write_text(self.run_dir.config, config.to_yaml(self.cfg))
        z, y = self.fixed
        arrays = {"z": z.cpu().numpy(), **({} if y is None else {"y": y.cpu().numpy()})}
        self.run_dir.write(self.run_dir.latents, lambda f: np.savez(f, **arrays))
        self.save()  # step 0: a divergence always has a checkpoint to roll back to

    def new_batches(self):
        """This process's slice of the data stream from the source's current position, in the
        networks' memory format (shown to a G that watches the real batches: models.bind)."""
        batches = self.source.batches(self.cfg.train.batch_size, self.device, shard=(dist.rank(), dist.world()))
        it = models.bind(self.game.G, self.game.D, batches)
        if not self.cfg.train.channels_last:
            return it
        return ((x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x, y) for x, y in it)

    def run(self) -> Path:
        T = self.cfg.train
        bar = tqdm(total=T.steps, initial=self.step, disable=not (T.progress and dist.is_main()), dynamic_ncols=True, desc=self.dir.name)
        clock = (time.perf_counter(), self.step)
        try:
            with Reporter(self.run_dir, T.tensorboard) as reporter, SignalGuard() as stop:
                while self.step < T.steps:
                    self.step += 1
                    self.game.aug.step = self.step
                    decay_lr(self.game, self.cfg.optim.lr_decay, self.step, T.steps)
                    gan_step(self.game, self.batches)
                    if self.G_ema is not None:
                        ema_update(self.G_ema, self.game.G, ema_decay(T.ema, T.ema_rampup, self.step))
                    bar.update(1)
                    signum = dist.max_int(stop.signum or 0)  # a signal to any process stops all at this step
                    due = lambda every: self.step % every == 0 or self.step == T.steps
                    if self.cfg.health.enabled and self.step % self.cfg.health.every == 0:
                        for k, v in self.probe().items():
                            reporter.report(k, v)
                    if due(T.log_every):
                        now = time.perf_counter()
                        row = reporter.flush(self.step, img_per_s=T.batch_size * (self.step - clock[1]) / max(now - clock[0], 1e-9))
                        clock = (now, self.step)
                        bar.set_postfix_str(progress_text(row), refresh=False)
                        if not all(math.isfinite(v) for v in row.values()):
                            self.judge(row)
                            self.recover(f"a non-finite loss at step {self.step}", bar)
                            continue
                        if self.judge(row):
                            continue
                    if due(T.sample_every):
                        self.snapshot()
                    if T.eval_every and due(T.eval_every):
                        self.evaluate()
                    if due(T.ckpt_every) or signum:
                        if not self.finite():
                            self.recover(f"non-finite weights at step {self.step}", bar)
                            continue
                        path = self.save()
                    if signum:
                        dist.barrier()  # rank 0's checkpoint is on disk before any process exits
                        raise TrainingStopped(f"stopped by {signal.Signals(signum).name} at step {self.step}; checkpoint "
                                              f"{path}. Resume with: ganforge train --resume {self.dir}", signum)
        except OSError as e:  # a full disk or an unwritable directory, outside a checkpoint write
            raise GanforgeError(f"could not write {e.filename or self.dir}: {e.strerror or e}; the last checkpoint "
                                f"({checkpoint.latest(self.run_dir.checkpoints)}) is intact: free space, then "
                                f"ganforge train --resume {self.dir}") from None
        finally:
            bar.close()
        if self.run_dir.writes:
            finish(self.run_dir)
        dist.barrier()  # every process leaves together: none tears down the group under another
        return self.dir

    # -- state ---------------------------------------------------------------------------
    def save(self, path: Path | None = None) -> Path:
        """A checkpoint (rank 0 writes it; every process calls this: buffers are synced first)."""
        g = self.game
        dist.sync_buffers(g.G, g.D, self.G_ema)
        path = path or self.run_dir.checkpoint(self.step)
        if not self.run_dir.writes:
            return path
        state = {
            "config": self.cfg.to_dict(),
            "data_info": self.source.info.to_dict(),
            "step": self.step,
            "rollbacks": self.rollbacks,
            "best": self.best,
            "world": dist.world(),
            "G": g.G.state_dict(),
            "D": g.D.state_dict(),
            "opt_g": g.opt_g.state_dict(),
            "opt_d": g.opt_d.state_dict(),
            "amp_scalers": g.amp.state_dict(g.opt_g, g.opt_d),  # fp16: the loss scales (config has amp, compile, tf32)
            "rng": checkpoint.rng_state(),
            "data_state": self.source.state_dict(),
        }
        if self.G_ema is not None:
            state["G_ema"] = self.G_ema.state_dict()
        if self.health is not None:
            state["health"] = self.health.state_dict()
        checkpoint.save(path, state)
        if path.parent == self.run_dir.checkpoints and path.name != runs.BEST:
            checkpoint.prune(self.run_dir.checkpoints, self.cfg.train.keep_ckpts)
        return path

    def restore(self, path: Path | None) -> None:
        """Rank 0 reads the checkpoint and sends it to every process (they need no copy of the run)."""
        g = self.game
        state = dist.broadcast_object(checkpoint.load(path) if dist.is_main() else None)
        path = dist.broadcast_object(path)
        checkpoint.load_weights(g.G, state["G"], "generator", path)
        checkpoint.load_weights(g.D, state["D"], "discriminator", path)
        if self.G_ema is not None:
            checkpoint.load_weights(self.G_ema, state.get("G_ema", state["G"]), "generator (EMA)", path)
        g.opt_g.load_state_dict(state["opt_g"])
        g.opt_d.load_state_dict(state["opt_d"])
        g.amp.load_state_dict(state.get("amp_scalers", []), g.opt_g, g.opt_d)
        self.source.load_state_dict(state["data_state"])
        if self.health is not None and "health" in state:
            self.health.load_state_dict(state["health"])
        checkpoint.set_rng_state(state["rng"])
        self.step, self.rollbacks, self.best = int(state["step"]), int(state.get("rollbacks", 0)), state.get("best")

    def finite(self) -> bool:
        nets = [self.game.G, self.game.D] + ([] if self.G_ema is None else [self.G_ema])
        return not dist.any_true(not all(bool(torch.isfinite(p).all()) for net in nets for p in net.parameters()))

    def evaluate(self) -> None:
        """Periodic evaluation: results (with their protocol) go to metrics.jsonl, and
        checkpoints/best.pt keeps the best step by train.eval_metric: FID often peaks early
        and then degrades. A non-finite value or non-finite weights never become "best".
        Rank 0 evaluates; the value, and so the decision, is shared."""
        from .generator import Generator
        from .metrics.evaluate import LOWER_IS_BETTER, append_results, best_value, evaluate

        T = self.cfg.train
        name = T.eval_metric if T.eval_metric != "auto" else ("high_quality" if self.source.info.kind == "points" else "fid")
        G = self.game.G if self.G_ema is None else self.G_ema
        dist.sync_buffers(G)
        value = None
        if dist.is_main():
            was_training = G.training
            try:
                with keep_rng():
                    results = evaluate(Generator(G, self.cfg, self.source.info), self.source, metrics=[name], n=T.eval_n, seed=T.seed)
            finally:
                G.train(was_training)  # Generator() puts the net in eval mode
            append_results(self.dir, results, self.step)
            value = best_value(results, name)
        value = dist.broadcast_object(value)
        better = self.best is None or (value < self.best if name in LOWER_IS_BETTER else value > self.best)
        if value is not None and math.isfinite(value) and better and self.finite():
            self.best = value
            self.save(self.run_dir.best)
            say(f"ganforge: step {self.step}: {name} {value:.4g}, the best so far (checkpoints/{runs.BEST})")

    def health_classifier(self):
        """health.classes: the domain classifier that counts the classes G covers, when the data
        is labelled images and one is cached (auto) or may be trained (train)."""
        mode, src = self.cfg.health.classes, self.source
        if mode == "off" or src.info.kind != "image" or getattr(src, "labels", None) is None:
            return None
        if mode == "auto" and not isinstance(src.images, torch.Tensor):
            return None  # memory-mapped: hashing it to find a cached classifier could take minutes
        from .metrics.features import domain_classifier

        if mode == "train":
            say("ganforge: training the domain classifier for health.classes (cached for later runs)")
        model, _ = domain_classifier(src, train=mode == "train")
        return model

    def probe(self) -> dict:
        """Health's periodic look at the samples: a fixed batch through G (EMA if on), on rank 0;
        every process reports the same values."""
        G = self.game.G if self.G_ema is None else self.G_ema
        dist.sync_buffers(G)
        values = None
        if self.health is not None:
            gen = torch.Generator().manual_seed(self.cfg.train.seed + 2)
            z = torch.randn(256, self.cfg.model.nz, generator=gen).to(self.device)
            y = torch.arange(256, device=self.device) % self.game.num_classes if self.game.num_classes else None
            was_training = G.training
            G.eval()
            with torch.no_grad(), keep_rng():
                fake = G(z, y).float().cpu()
                real, _ = self.source.real_samples(256, seed=0)
                values = self.health.probe(self.step, fake, real, self.source.info, self.judge_classes)
            G.train(was_training)
        return dist.broadcast_object(values)

    def judge(self, row: dict) -> bool:
        """Health events for this row: rank 0 prints them and decides; every process acts.
        True when training rolled back."""
        if not self.cfg.health.enabled:
            return False
        h = self.cfg.health
        action = None
        for e in self.health.observe(self.step, row) if self.health is not None else []:
            tqdm.write(("ganforge: warning: " if e["status"] == "start" else "ganforge: note: ") + event_text(e))
            if action is None and e["status"] == "start" and e["condition"] in h.conditions and e["condition"] != "divergence":
                action = e  # divergence has its own rollback
        action = dist.broadcast_object(action)
        if action is not None and h.action == "stop":
            path = self.save()
            dist.barrier()
            raise HealthStop(f"stopped at step {self.step} on {action['title']} ({action['detail']}); checkpoint {path}. "
                             f"Try: {'; '.join(action['remedies'])}")
        if action is not None and h.action == "rollback":
            self.recover(action["title"], None, lr_d_factor=h.rollback_lr_d)
            return True
        return False

    def recover(self, reason: str, bar, lr_d_factor: float | None = None) -> None:
        """Divergence: back to the last checkpoint (only finite ones are ever written), with
        lower learning rates and fresh noise; give up after train.max_rollbacks attempts.
        A health rollback changes only D's learning rate (``lr_d_factor``)."""
        T = self.cfg.train
        last = dist.broadcast_object(checkpoint.latest(self.run_dir.checkpoints) if dist.is_main() else None)
        attempt = self.rollbacks + 1
        if attempt > T.max_rollbacks or last is None:
            raise TrainingDiverged(f"training diverged ({reason}) and {T.max_rollbacks} rollbacks did not cure it; "
                                   f"the last finite checkpoint is {last}. Try lower learning rates (--optim.lr_d, "
                                   "--optim.lr_g), the nonsaturating or wgan-gp objective, or --model.spectral_norm true")
        self.restore(last)
        self.rollbacks = attempt  # restore() read the count saved with that checkpoint
        factor = (lr_d_factor or T.rollback_lr_factor) ** attempt
        for opt in (self.game.opt_d,) if lr_d_factor else (self.game.opt_g, self.game.opt_d):
            for group in opt.param_groups:
                for key in ("lr", "initial_lr"):  # initial_lr: what optim.lr_decay decays from
                    if key in group:
                        group[key] *= factor
        torch.manual_seed(T.seed + 7919 * attempt)  # a different path from the same state
        self.batches = self.new_batches()
        if bar is not None:
            bar.n = self.step
        which = "D's learning rate" if lr_d_factor else "learning rates"
        say(f"ganforge: warning: {reason}: rolled back to step {self.step}, {which} x{factor:g} (attempt {attempt} of {T.max_rollbacks})")
        self.run_dir.append(self.run_dir.health, {"step": self.step, "event": "rollback", "reason": reason, "lr_factor": factor})

    def snapshot(self) -> None:
        G = self.game.G if self.G_ema is None else self.G_ema
        dist.sync_buffers(G)
        if self.run_dir.writes:
            path = self.run_dir.frame(self.step)
            with keep_rng():
                snapshot(G, *self.fixed, self.source, path, f"step {self.step}")
            report_image("samples/fixed_noise", path, self.step)
            thin_frames(self.run_dir.samples)


def say(message: str) -> None:
    """A line above the progress bar, from rank 0 only."""
    if dist.is_main():
        tqdm.write(message)


@contextmanager
def keep_rng():
    """Work that only some processes do (pictures, probes, evaluation) must not move the RNGs
    that every process draws the training noise from in step."""
    state = checkpoint.rng_state()
    try:
        yield
    finally:
        checkpoint.set_rng_state(state)


class SignalGuard:
    """First SIGINT/SIGTERM: note it, so the loop finishes the step, checkpoints and stops.
    A second one raises KeyboardInterrupt at once; atomic writes mean nothing is corrupted.
    Under torchrun a second signal may be the agent forwarding the first (a terminal's Ctrl-C
    reaches the workers directly too), and the agent kills them itself after its 30 s, so it
    is only noted."""

    def __enter__(self):
        self.signum, self._old = None, {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.signum is not None:
            if dist.requested():
                return
            raise KeyboardInterrupt
        self.signum = signum
        if dist.is_main():
            print(f"\nganforge: {signal.Signals(signum).name}: finishing this step and writing a checkpoint"
                  + ("" if dist.requested() else " (press Ctrl-C again to stop at once)"), file=sys.stderr, flush=True)

    def __exit__(self, *exc):
        for sig, handler in self._old.items():
            signal.signal(sig, handler)


@dataclass
class Game:
    """Everything one training step touches."""

    G: torch.nn.Module
    D: torch.nn.Module
    obj: objectives.Objective
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    aug: DInput  # what D's inputs go through: DiffAugment, instance noise (or nothing)
    nz: int
    k: int = 1  # D steps per G step
    num_classes: int = 0  # > 0: conditional, fakes get random classes
    amp: Precision = field(default_factory=Precision)  # train.amp: autocast, fp16 loss scaling


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
            loss_real = obj.d_real(out_real, y)
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
    D.requires_grad_(False)
    with amp.autocast():
        out_g = D(aug(fake), y_fake)
        loss_g = obj.g(out_g, y_fake)
        penalty = obj.g_penalty(fake, z)  # mode seeking
    game.opt_g.zero_grad(set_to_none=True)
    amp.backward(loss_g if penalty is None else loss_g + penalty, game.opt_g)
    if amp.gradients_ready(game.opt_g, G.parameters()):
        report("grad_g", grad_norm(G))
    amp.step(game.opt_g)
    D.requires_grad_(True)

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


# ---------------------------------------------------------------------------- set-up

def pick_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device = {name!r}: CUDA is not available on this machine (use auto or cpu)")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError("train.device = 'mps': MPS is not available on this machine (use auto or cpu)")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def make_game(cfg: Config, info: data.DataInfo, device: torch.device) -> Game:
    """The networks, optimizers and objective of a run, on ``device``, as every run builds them."""
    T, o = cfg.train, cfg.objective
    fmt = torch.channels_last if T.channels_last else torch.contiguous_format
    G, D = (m.to(device, memory_format=fmt) for m in models.build(cfg.model, info))
    dist.broadcast_module(G, D)  # every process starts from rank 0's weights
    opt_g, opt_d = make_optimizers(cfg, G, D)
    return Game(G, D, objectives.build(o), opt_g, opt_d, DInput(o.diffaugment, o.instance_noise, T.steps), cfg.model.nz,
                T.d_steps, info.num_classes if cfg.model.conditional != "none" else 0, Precision(T.amp, device))


def tune_process(device: torch.device, tf32: bool = True) -> None:
    """Process-wide settings for fast training on ``device``."""
    if device.type == "cpu":
        keep_freed_memory()
    if device.type == "cuda":
        set_tf32(tf32)


def make_optimizers(cfg: Config, G: torch.nn.Module, D: torch.nn.Module):
    """Adam or RMSprop for each network. optim.fused updates every parameter in one kernel
    (or one multi-tensor pass): PyTorch's default on a CPU is a Python loop over parameters."""
    o = cfg.optim
    if o.name == "adam":
        kind, kw = torch.optim.Adam, {"betas": (o.beta1, o.beta2), "fused": o.fused or None}
    else:
        kind, kw = torch.optim.RMSprop, {"foreach": o.fused or None}
    return kind(G.parameters(), lr=o.lr_g, **kw), kind(D.parameters(), lr=o.lr_d, **kw)


def keep_freed_memory() -> None:
    """Keep freed memory in the process instead of handing it back to the OS on every step.

    glibc serves blocks above its mmap threshold (128 KiB, raised dynamically up to 32 MiB)
    with fresh mmap pages and trims the heap top above 128 KiB; a training step frees and
    reallocates activations of several MB each, so by default every step pays page faults
    and zero-filling for memory it just gave back. Raising both thresholds (as
    MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ would) makes the step reuse it. The
    price is a resident size that stays at its peak. A no-op off glibc.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
    if not libc.mallopt(M_MMAP_THRESHOLD, 1 << 30):  # older glibc caps it at 32 MiB on 64-bit
        libc.mallopt(M_MMAP_THRESHOLD, 32 << 20)
    libc.mallopt(M_TRIM_THRESHOLD, 1 << 30)


def fixed_noise(cfg: Config, info: data.DataInfo, device: torch.device):
    """The latent batch every snapshot uses, from its own seed: drawing it moves no other RNG."""
    gen = torch.Generator().manual_seed(cfg.train.seed + 1)
    n = cfg.train.n_samples
    z = torch.randn(n, cfg.model.nz, generator=gen)
    y = torch.arange(n) % info.num_classes if cfg.model.conditional != "none" else None
    return z.to(device), None if y is None else y.to(device)


# ---------------------------------------------------------------------------- state

# ---------------------------------------------------------------------------- pictures

@torch.no_grad()
def snapshot(G, z, y, source, path: Path, title: str) -> None:
    """A fixed-noise picture: an image grid, or generated over real points for 2-D toys.

    G runs in eval mode (BatchNorm running statistics), as ``ganforge sample`` does, so
    snapshots show what the saved generator produces and drawing them changes no state.
    """
    was_training = G.training
    G.eval()
    x = G(z, y).float().cpu()
    G.train(was_training)
    info = source.info
    if info.kind == "points":
        real, _ = source.real_samples(len(x), seed=0)
        s = info.point_scale
        viz.scatter((x * s).numpy(), (real * s).numpy(), path, info.centers, title, lim=1.1 * s)
    else:
        viz.save_grid(x, path)


MAX_FRAMES = 100  # snapshot PNGs kept per run: long runs stay bounded on disk


def thin_frames(samples: Path) -> None:
    """Past MAX_FRAMES snapshots, drop every other one (never the first or the latest): the
    timelapse still spans the whole run, at a coarser pace for its early part."""
    frames = runs.frames(samples.parent)
    if len(frames) > MAX_FRAMES:
        for p in frames[1:-1:2]:
            p.unlink(missing_ok=True)


def finish(run: runs.Run) -> None:
    """The run's summary pictures: the last snapshot as final.png, the timelapse, the losses."""
    frames = run.frames()
    if frames:
        run.write(run.final, lambda f: f.write(frames[-1].read_bytes()))
        viz.save_gif(frames, run.timelapse)
    viz.plot_losses(runs.read_metrics(run.path), run.losses)
