"""The one way in to training: ``train(cfg)`` runs a single GAN through the Trainer
(training.py), or a stack, stage by stage, through stacked.py, which drives the same Trainer.
The dispatch lives here so that the imports run one way: entry -> stacked -> training."""
from __future__ import annotations

from pathlib import Path

from . import assemble, dist
from .config import Config
from .errors import GanforgeError
from .stacked import train_stack
from .training import Trainer


def train(cfg: Config, out: str | Path | None = None, resume: str | Path | None = None) -> Path:
    """Train a GAN; returns the run directory. ``resume`` continues a run directory.
    Under torchrun, every process calls this; they train one run together."""
    assemble.validate(cfg)
    try:
        if cfg.model.stage1:  # a stack: each stage is an ordinary run of the Trainer
            return train_stack(cfg, out, resume)
        return Trainer(cfg, out, resume).run()
    except dist.PeerLost as e:
        raise GanforgeError(f"{e}; the last checkpoint in {out or resume or 'the run directory'} is intact: "
                            "resume with ganforge train --resume RUN_DIR") from None
    finally:
        dist.shutdown()
