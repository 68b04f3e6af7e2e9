"""The training loop: (1) update D k times, (2) update G, then report, snapshot, checkpoint.

Read ``train`` and ``gan_step`` top to bottom; everything around them is set-up and bookkeeping. The loop
is the same for every objective and model family: those differ only in objectives.py
and models/.
"""
from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from . import checkpoint, config, data, models, objectives, viz
from .augment import DInput
from .config import Config
from .errors import ConfigError
from .log import Reporter, read_metrics, report


def train(cfg: Config, out: str | Path | None = None, resume: str | Path | None = None) -> Path:
    """Train a GAN; returns the run directory. ``resume`` continues a run directory."""
    run = Path(resume) if resume else new_run_dir(out or Path("runs") / "run")
    device = pick_device(cfg.train.device)
    seed_everything(cfg.train.seed)
    source = data.build(cfg.data, cfg.train.seed)
    G, D = (m.to(device) for m in models.build(cfg.model, source.info))
    opt_g, opt_d = make_optimizers(cfg, G, D)
    G_ema = copy.deepcopy(G).eval().requires_grad_(False) if cfg.train.ema else None
    fixed_z, fixed_y = fixed_noise(cfg, source.info, device)
    step = 0
    if resume:
        step = restore(run, G, D, opt_g, opt_d, source, G_ema)
    else:
        (run / "config.yaml").write_text(config.to_yaml(cfg))
        np.savez(run / "samples" / "latents.npz", z=fixed_z.cpu().numpy(), **({} if fixed_y is None else {"y": fixed_y.cpu().numpy()}))
    batches = source.batches(cfg.train.batch_size, device)
    T, o = cfg.train, cfg.objective
    game = Game(G, D, objectives.build(o), opt_g, opt_d, DInput(o.diffaugment, o.instance_noise, T.steps),
                cfg.model.nz, T.d_steps, source.info.num_classes if cfg.model.conditional != "none" else 0)

    bar = tqdm(total=T.steps, initial=step, disable=not T.progress, dynamic_ncols=True, desc=run.name)
    clock = (time.perf_counter(), step)
    with Reporter(run, T.tensorboard) as reporter:
        while step < T.steps:
            step += 1
            game.aug.step = step
            gan_step(game, batches)
            if G_ema is not None:
                ema_update(G_ema, G, T.ema)
            bar.update(1)
            if step % T.log_every == 0 or step == T.steps:
                now = time.perf_counter()
                row = reporter.flush(step, img_per_s=T.batch_size * (step - clock[1]) / max(now - clock[0], 1e-9))
                clock = (now, step)
                bar.set_postfix_str(progress_text(row), refresh=False)
            if step % T.sample_every == 0 or step == T.steps:
                snapshot(G if G_ema is None else G_ema, fixed_z, fixed_y, source, run / "samples" / f"step-{step:06d}.png", f"step {step}")
            if step % T.ckpt_every == 0 or step == T.steps:
                save_checkpoint(run, cfg, step, G, D, opt_g, opt_d, source, G_ema)
    bar.close()
    finish(run)
    return run


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


def gan_step(game: Game, batches) -> None:
    """One generator step and the k discriminator steps before it."""
    G, D, obj, aug = game.G, game.D, game.obj, game.aug
    # (1) Update D k times. Real and fake batches go through D separately (BatchNorm never
    # mixes them), their gradients accumulate, then one optimizer step. Only the last
    # fake keeps its graph: G's step reuses it, as in the classic DCGAN loop.
    for i in range(game.k):
        x, y = next(batches)
        z = torch.randn(len(x), game.nz, device=x.device)
        y_fake = torch.randint(game.num_classes, (len(x),), device=x.device) if game.num_classes else None
        with torch.set_grad_enabled(i == game.k - 1):
            fake = G(z, y_fake)
        game.opt_d.zero_grad(set_to_none=True)
        out_real = D(aug(x), y)
        loss_real = obj.d_real(out_real, y)
        loss_real.backward()
        out_fake = D(aug(fake.detach()), y_fake)
        loss_fake = obj.d_fake(out_fake, y_fake)
        loss_fake.backward()
        penalty = obj.d_penalty(D, x, fake, y, y_fake)  # gradient penalty, R1
        if penalty is not None:
            penalty.backward()
            report("penalty_d", penalty.detach())
        game.opt_d.step()
        obj.after_d_step(D)  # weight clipping

    # (2) Update G through D, with D frozen: no weight gradients are computed for D.
    D.requires_grad_(False)
    out_g = D(aug(fake), y_fake)
    loss_g = obj.g(out_g, y_fake)
    penalty = obj.g_penalty(fake, z)  # mode seeking
    game.opt_g.zero_grad(set_to_none=True)
    (loss_g if penalty is None else loss_g + penalty).backward()
    game.opt_g.step()
    D.requires_grad_(True)

    with torch.no_grad():
        report("loss_d", loss_real + loss_fake)
        report("loss_g", loss_g)
        report("d_real", obj.readout(out_real).mean())
        report("d_fake", obj.readout(out_fake).mean())  # D(G(z)) before D's update
        report("d_fake_after", obj.readout(out_g).mean())  # and after it, as G sees D


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


def make_optimizers(cfg: Config, G: torch.nn.Module, D: torch.nn.Module):
    o = cfg.optim
    if o.name == "adam":
        make = lambda params, lr: torch.optim.Adam(params, lr=lr, betas=(o.beta1, o.beta2))
    else:
        make = lambda params, lr: torch.optim.RMSprop(params, lr=lr)
    return make(G.parameters(), o.lr_g), make(D.parameters(), o.lr_d)


def fixed_noise(cfg: Config, info: data.DataInfo, device: torch.device):
    """The latent batch every snapshot uses, from its own seed: drawing it moves no other RNG."""
    gen = torch.Generator().manual_seed(cfg.train.seed + 1)
    n = cfg.train.n_samples
    z = torch.randn(n, cfg.model.nz, generator=gen)
    y = torch.arange(n) % info.num_classes if cfg.model.conditional != "none" else None
    return z.to(device), None if y is None else y.to(device)


def new_run_dir(out: str | Path) -> Path:
    """A fresh run directory: ``out``, or ``out-2``, ``out-3``... if it already holds a run."""
    base = Path(out)
    run, i = base, 1
    while (run / "config.yaml").exists() or (run / "checkpoints").exists():
        i += 1
        run = base.with_name(f"{base.name}-{i}")
    try:
        (run / "samples").mkdir(parents=True, exist_ok=True)
        (run / "checkpoints").mkdir(exist_ok=True)
    except OSError as e:
        raise ConfigError(f"cannot create run directory {run}: {e.strerror or e}") from None
    return run


# ---------------------------------------------------------------------------- state

def save_checkpoint(run: Path, cfg: Config, step: int, G, D, opt_g, opt_d, source, G_ema=None) -> Path:
    state = {
        "config": cfg.to_dict(),
        "data_info": source.info.to_dict(),
        "step": step,
        "G": G.state_dict(),
        "D": D.state_dict(),
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "rng": checkpoint.rng_state(),
        "data_state": source.state_dict(),
    }
    if G_ema is not None:
        state["G_ema"] = G_ema.state_dict()
    path = checkpoint.save(run / "checkpoints" / f"step-{step:06d}.pt", state)
    checkpoint.prune(run / "checkpoints", cfg.train.keep_ckpts)
    return path


def restore(run: Path, G, D, opt_g, opt_d, source, G_ema=None) -> int:
    path = checkpoint.resolve(run)
    state = checkpoint.load(path)
    checkpoint.load_weights(G, state["G"], "generator", path)
    if G_ema is not None:
        checkpoint.load_weights(G_ema, state["G_ema"], "generator (EMA)", path)
    checkpoint.load_weights(D, state["D"], "discriminator", path)
    opt_g.load_state_dict(state["opt_g"])
    opt_d.load_state_dict(state["opt_d"])
    source.load_state_dict(state["data_state"])
    checkpoint.set_rng_state(state["rng"])
    return int(state["step"])


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


def finish(run: Path) -> None:
    frames = sorted((run / "samples").glob("step-*.png"))
    if frames:
        (run / "samples" / "final.png").write_bytes(frames[-1].read_bytes())
        viz.save_gif(frames, run / "timelapse.gif")
    viz.plot_losses(read_metrics(run / "metrics.jsonl"), run / "losses.png")
