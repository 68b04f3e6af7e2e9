"""Training: the loop and everything a run needs around it, and the API to drive it.

    train(cfg, out=None, resume=None)   the one way in: a single GAN, or a stack stage by stage;
                                        resume="auto" continues ``out`` if it holds a run
    Trainer(cfg, out).run()             a run directory trained to train.steps (loop.py)
    Session(cfg)                        step a GAN in memory from other code (session.py)
    gan_step(game, batches)             one step of the textbook loop, on a Game (build.py)

The files show the jobs: loop.py (Trainer.run, gan_step, EMA), build.py (the Game: networks,
optimizers, objective), state.py (checkpoints, adopting state, rollback, signals), watch.py
(health probes and decisions, periodic evaluation), stack.py (stacked GANs), resume.py (continue
or start: resume="auto"), device.py (device choice, threads and process tuning). ``import
ganforge`` does not import this package: only training does.
"""
from __future__ import annotations

from pathlib import Path

from .. import assemble, dist
from ..config import Config
from ..errors import ConfigError, GanforgeError, HealthStop, TrainingDiverged, TrainingStopped
from .build import Game, fixed_noise, make_game, make_optimizers
from .device import pick_device, seed_everything, tune_process
from .loop import Trainer, decay_lr, ema_decay, ema_update, gan_step
from .session import Session
from .stack import train_stack
from .resume import continue_or_start, started

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
