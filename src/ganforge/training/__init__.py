"""Training: the loop and everything a run needs around it, and the API to drive it.

    train(cfg, out=None, resume=None)   the one way in: a single GAN, or a stack stage by stage;
                                        resume="auto" continues ``out`` if it holds a run
    Trainer(cfg, out).run()             a run directory trained to train.steps (loop.py)
    Session(cfg)                        step a GAN in memory from other code (session.py)
    gan_step(game, batches)             one step of the textbook loop, on a Game (build.py)

The files show the jobs: loop.py (Trainer.run, gan_step, EMA), build.py (the Game: networks,
optimizers, objective), state.py (checkpoints, adopting state, rollback, signals), watch.py
(health probes and decisions, periodic evaluation), stack.py (stacked GANs), device.py (device
choice and process tuning). ``import ganforge`` does not import this package: only training does.
"""
from __future__ import annotations

import time
from pathlib import Path

from .. import assemble, checkpoint, config, dist, runs
from ..config import Config
from ..errors import ConfigError, GanforgeError, HealthStop, TrainingDiverged, TrainingStopped
from .build import Game, fixed_noise, make_game, make_optimizers
from .device import choose_threads, pick_device, seed_everything, tune_process, use_threads
from .loop import Trainer, decay_lr, ema_decay, ema_update, gan_step
from .session import Session
from .stack import train_stack
from .state import say

__all__ = ["train", "Trainer", "Session", "Game", "gan_step", "make_game", "make_optimizers", "fixed_noise",
           "decay_lr", "ema_decay", "ema_update", "pick_device", "seed_everything", "tune_process",
           "TrainingStopped", "TrainingDiverged", "HealthStop"]


def train(cfg: Config, out: str | Path | None = None, resume: str | Path | None = None,
          init: str | Path | None = None) -> Path:
    """Train a GAN; returns the run directory. ``resume`` continues a run directory; ``init``
    (a run directory, checkpoint or export) starts a new run from its trained weights.
    ``resume="auto"`` continues ``out`` when it holds a run and starts it there when it does
    not, so a command that torchrun restarts or a batch job that is requeued needs no change.
    Under torchrun, every process calls this; they train one run together."""
    assemble.validate(cfg)
    try:
        if resume == "auto":
            out, resume = continue_or_start(cfg, out)
            init = None if resume else init  # a run that continues has trained weights of its own
        if init and (resume or cfg.model.stage1):
            raise ConfigError("--init starts a new single run from trained weights: not with --resume, nor for a stack (model.stage1)")
        if cfg.model.stage1:  # a stack: each stage is an ordinary run of the Trainer
            return train_stack(cfg, out, resume)
        trainer = Trainer(cfg, out, resume, init)
        started(trainer, resumed=bool(resume))
        return trainer.run()
    except dist.PeerLost as e:
        raise GanforgeError(f"{e}; the last checkpoint in {out or resume or 'the run directory'} is intact: "
                            "resume with ganforge train --resume RUN_DIR") from None
    finally:
        dist.shutdown()


def started(t: Trainer, resumed: bool) -> None:
    """A run's start, in its log: the CPU threads chosen for its networks (printed, and a line
    of starts.jsonl with the step and the number of processes). A resumed run first drops the
    rows an earlier attempt logged past the checkpoint it resumes from: it logs those steps again."""
    params = sum(p.numel() for net in (t.game.G, t.game.D) for p in net.parameters())
    threads = use_threads(choose_threads(params))
    say(f"ganforge: {threads.n} CPU thread{'s' if threads.n > 1 else ''} per process: {threads.why}")
    if resumed:
        runs.trim(t.run_dir, t.step)
    t.run_dir.append(t.run_dir.starts, {"step": t.step, "time": round(time.time(), 3), "event": "resume" if resumed else "start",
                                        "processes": dist.world(), "threads": threads.n, "threads_why": threads.why})


def continue_or_start(cfg: Config, out) -> tuple[Path | None, Path | None]:
    """``resume="auto"``: (None, out) when ``out`` holds a run to continue, else (out, None) to
    start one there. Rank 0 looks and decides; every process gets its decision (or its error).
    A directory that an earlier attempt left before its first checkpoint (its config.yaml, no
    checkpoint) has nothing to continue: the run starts there again."""
    if out is None:
        raise ConfigError("--resume auto needs --out RUN_DIR (out= from Python): the run directory to continue, "
                          "or to start when it holds no run")
    dist.init(pick_device(cfg.train.device), cfg.train.dist_timeout)  # before rank 0's decision is broadcast
    found = problem = None
    if dist.is_main():
        try:
            found = _look(cfg, Path(out))
        except GanforgeError as e:
            problem = str(e)
    found, problem = dist.broadcast_object((found, problem))
    if problem:
        raise ConfigError(problem)
    say(f"ganforge: --resume auto: continuing {out} ({found})" if found else f"ganforge: --resume auto: starting {out}")
    return (None, Path(out)) if found else (Path(out), None)


def _look(cfg: Config, out: Path) -> str | None:
    """What ``out`` holds to continue (its latest checkpoint's name, or "a stack"), or None; a
    run to continue must be of the same options but for train.*. Rank 0 alone calls this."""
    r = runs.Run(out, writes=True)
    last = checkpoint.latest(r.checkpoints) if r.checkpoints.is_dir() else None
    if last is not None or runs.is_stack(out):
        same_run(cfg, config.yaml_dict(r.config) if r.config.is_file() else checkpoint.load(last)["config"], out)
        return last.name if last is not None else "a stack"
    if runs.is_run(out):
        if r.config.is_file():
            same_run(cfg, config.yaml_dict(r.config), out)
        runs.clear_unstarted(r)
        if runs.is_run(out):
            raise ConfigError(f"--resume auto: {r.checkpoints} holds files but no checkpoint (step-N.pt) to continue "
                              f"from; move them away or choose another --out")
    return None


def same_run(cfg: Config, saved: dict, out: Path) -> None:
    """Refuse to continue a run whose config differs from ``cfg`` other than in train.*."""
    try:
        theirs = _flat(config.from_dict(saved).to_dict())
    except ConfigError as e:
        raise ConfigError(f"--resume auto: the config of the run in {out} cannot be read ({e})") from None
    given = _flat(cfg.to_dict())
    diff = [k for k in sorted(given.keys() | theirs.keys()) if not k.startswith("train.") and given.get(k) != theirs.get(k)]
    if diff:
        shown = "; ".join(f"{k}: {theirs.get(k)!r} in the run, {given.get(k)!r} given" for k in diff[:5])
        raise ConfigError(f"--resume auto: {out} holds a run with other options ({shown}{'; ...' if len(diff) > 5 else ''}). "
                          "Only train.* options may change when a run continues: give the run's own options, "
                          "or choose another --out")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        out.update(_flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out
