"""A run's state: what a checkpoint holds, saving and adopting it, finite checks, rolling
back after a divergence, and the signals that stop a run cleanly.

Functions here take the Trainer (``t``): they are its state's jobs, kept out of the loop so
that Trainer reads as the loop. Rank 0 writes; every process calls (buffers and decisions
are shared), so a checkpoint is written once and every process acts alike.
"""
from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .. import checkpoint, config, dist, runs
from ..errors import CheckpointError, TrainingDiverged, TrainingStopped


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


def start(t, init=None) -> None:
    """A new run's first files: its config, the fixed latents, the step-0 checkpoint (of the
    weights ``init`` names, with ``--init``)."""
    if init:
        init_from(t, init)
    t.run_dir.write_text(t.run_dir.config, config.to_yaml(t.cfg))
    z, y = t.fixed
    arrays = {"z": z.cpu().numpy(), **({} if y is None else {"y": y.cpu().numpy()})}
    t.run_dir.write(t.run_dir.latents, lambda f: np.savez(f, **arrays))
    save(t)  # step 0: a divergence always has a checkpoint to roll back to


def state_of(t) -> dict:
    """Everything a checkpoint holds: enough to continue the run exactly."""
    g = t.game
    state = {
        "config": t.cfg.to_dict(),
        "data_info": t.source.info.to_dict(),
        "step": t.step,
        "rollbacks": t.rollbacks,
        "best": t.best,
        "world": dist.world(),
        "G": g.G.state_dict(),
        "D": g.D.state_dict(),
        "opt_g": g.opt_g.state_dict(),
        "opt_d": g.opt_d.state_dict(),
        "amp_scalers": g.amp.state_dict(g.opt_g, g.opt_d),  # fp16: the loss scales (config has amp, compile, tf32)
        "rng": checkpoint.rng_state(),
        "data_state": t.source.state_dict(),
        "augment": g.aug.state_dict(),  # adaptive augmentation's p and its running r_t, restored exactly
    }
    if t.G_ema is not None:
        state["G_ema"] = t.G_ema.state_dict()
    if t.watch.monitor is not None:
        state["health"] = t.watch.monitor.state_dict()
    return state


def save(t, path: Path | None = None) -> Path:
    """A checkpoint (rank 0 writes it; every process calls this: buffers are synced first)."""
    dist.sync_buffers(t.game.G, t.game.D, t.G_ema)
    path = path or t.run_dir.checkpoint(t.step)
    if not t.run_dir.writes:
        return path
    checkpoint.save(path, state_of(t))
    if path.parent == t.run_dir.checkpoints and path.name != runs.BEST:
        checkpoint.prune(t.run_dir.checkpoints, t.cfg.train.keep_ckpts)
    return path


def adopt(t, state: dict, path: Path | str = "state") -> None:
    """Take over a state: a checkpoint's, or one built elsewhere (the playground's networks).
    The networks and optimizers are required; what else a checkpoint holds (the data position,
    RNGs, EMA, health history, loss scales) is taken when present."""
    g = t.game
    checkpoint.load_weights(g.G, state["G"], "generator", path)
    checkpoint.load_weights(g.D, state["D"], "discriminator", path)
    if t.G_ema is not None:
        checkpoint.load_weights(t.G_ema, state.get("G_ema", state["G"]), "generator (EMA)", path)
    g.opt_g.load_state_dict(state["opt_g"])
    g.opt_d.load_state_dict(state["opt_d"])
    g.amp.load_state_dict(state.get("amp_scalers", []), g.opt_g, g.opt_d)
    if "data_state" in state:
        t.source.load_state_dict(state["data_state"])
    if "augment" in state:
        g.aug.load_state_dict(state["augment"])
    if t.watch.monitor is not None and "health" in state:
        t.watch.monitor.load_state_dict(state["health"])
    if "rng" in state:
        checkpoint.set_rng_state(state["rng"])
    t.step, t.rollbacks, t.best = int(state["step"]), int(state.get("rollbacks", 0)), state.get("best")


def init_from(t, path: Path | str) -> None:
    """``--init``: a new run starts from trained weights (a run directory, a checkpoint or an
    export): G, and D and G's EMA where the source has them (an export has G alone, its EMA
    weights when the run kept them). Optimizers, step and data position start afresh. Every
    tensor must fit the network this config builds; the first that does not is named."""
    from .. import export

    if export.is_export(path):
        from safetensors.torch import load_file

        weights = {"G": load_file(str(Path(path) / export.WEIGHTS))}
    else:
        state = checkpoint.load(path)
        if "stages" in state:
            raise CheckpointError(f"--init {path}: a stacked GAN's checkpoint; --init takes a single run's")
        weights = {k: state[k] for k in ("G", "D", "G_ema") if k in state}
    fit(t.game.G, weights["G"], "generator", path)
    if "D" in weights:
        fit(t.game.D, weights["D"], "discriminator", path)
    if t.G_ema is not None:
        fit(t.G_ema, weights.get("G_ema", weights["G"]), "generator (EMA)", path)
    say(f"ganforge: --init: {', '.join(k for k in ('G', 'D', 'G_ema') if k in weights)} from {path}")


def fit(module: torch.nn.Module, weights: dict, what: str, path) -> None:
    """Load ``weights`` into ``module`` only if every tensor is there with the same shape."""
    own = module.state_dict()
    for key, mine in own.items():
        theirs = weights.get(key)
        if theirs is not None and tuple(theirs.shape) != tuple(mine.shape):
            raise CheckpointError(f"--init {path}: the {what}'s tensor {key} has shape {tuple(theirs.shape)} there but "
                                  f"{tuple(mine.shape)} in the network this config builds: keep the options that size it "
                                  "(model.family, model.nz, ngf, ndf, max_mult, conditional, data.resolution, data.channels)")
    missing, extra = sorted(own.keys() - weights.keys()), sorted(weights.keys() - own.keys())
    if missing or extra:
        raise CheckpointError(f"--init {path}: the {what} there is another architecture: "
                              + "; ".join(f"{n} tensors {w}: {', '.join(ks[:3])}{' ...' if len(ks) > 3 else ''}"
                                          for n, w, ks in ((len(missing), "missing there", missing),
                                                           (len(extra), "not in this config's network", extra)) if ks))
    module.load_state_dict(weights)


def restore(t, path: Path | None) -> None:
    """Rank 0 reads the checkpoint and sends it to every process (they need no copy of the run)."""
    state = dist.broadcast_object(checkpoint.load(path) if dist.is_main() else None)
    adopt(t, state, dist.broadcast_object(path))


def finite(t) -> bool:
    nets = [t.game.G, t.game.D] + ([] if t.G_ema is None else [t.G_ema])
    return not dist.any_true(not all(bool(torch.isfinite(p).all()) for net in nets for p in net.parameters()))


def rollback(t, reason: str, lr_d_only: bool = False) -> None:
    """Back to the last checkpoint (only finite ones are ever written) with lower learning
    rates and fresh noise; give up after train.max_rollbacks attempts. A divergence lowers
    both rates by train.rollback_lr_factor, a health rollback D's alone by health.rollback_lr_d."""
    T = t.cfg.train
    last = dist.broadcast_object(checkpoint.latest(t.run_dir.checkpoints) if dist.is_main() else None)
    attempt = t.rollbacks + 1
    if attempt > T.max_rollbacks or last is None:
        raise TrainingDiverged(f"training diverged ({reason}) and {T.max_rollbacks} rollbacks did not cure it; "
                               f"the last finite checkpoint is {last}. Try lower learning rates (--optim.lr_d, "
                               "--optim.lr_g), the nonsaturating or wgan-gp objective, or --model.spectral_norm true")
    restore(t, last)
    t.rollbacks = attempt  # restore() read the count saved with that checkpoint
    factor = (t.cfg.health.rollback_lr_d if lr_d_only else T.rollback_lr_factor) ** attempt
    for opt in (t.game.opt_d,) if lr_d_only else (t.game.opt_g, t.game.opt_d):
        for group in opt.param_groups:
            for key in ("lr", "initial_lr"):  # initial_lr: what optim.lr_decay decays from
                if key in group:
                    group[key] *= factor
    torch.manual_seed(T.seed + 7919 * attempt)  # a different path from the same state
    t.batches = t.new_batches()
    which = "D's learning rate" if lr_d_only else "learning rates"
    say(f"ganforge: warning: {reason}: rolled back to step {t.step}, {which} x{factor:g} (attempt {attempt} of {T.max_rollbacks})")
    t.run_dir.append(t.run_dir.health, {"step": t.step, "event": "rollback", "reason": reason, "lr_factor": factor})


def stopped(t, signum: int) -> TrainingStopped:
    """A signal stopped the run at this step (its checkpoint written): the line the dashboard
    reads (stopped, not running), then every process waits for rank 0's checkpoint to be on disk."""
    name = signal.Signals(signum).name
    t.run_dir.append(t.run_dir.health, {"step": t.step, "event": "stopped", "signal": name})
    dist.barrier()
    return TrainingStopped(f"stopped by {name} at step {t.step}; checkpoint {t.run_dir.checkpoint(t.step)}. "
                           f"Resume with: ganforge train --resume {t.dir}", signum)


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
