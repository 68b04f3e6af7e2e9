"""ganforge: a GAN workbench. Train, sample and inspect generative adversarial networks.

    import ganforge
    run_dir = ganforge.train("dcgan-digits", out="runs/digits")   # a preset, a YAML path or a Config
    g = ganforge.load(run_dir)                                      # rebuilt from the checkpoint alone
    images = g.sample(16)                                           # (16, C, H, W) in [-1, 1]
"""
from __future__ import annotations

from pathlib import Path

from .config import Config
from .assemble import load as load_config
from .errors import CheckpointError, ConfigError, DataError, GanforgeError
from .generator import Generator
from .loader import load
from .version import __version__

__all__ = ["__version__", "train", "load", "load_config", "evaluate", "audit", "Config", "Generator",
           "GanforgeError", "ConfigError", "DataError", "CheckpointError"]


def train(config: "Config | dict | str | Path", out: str | Path | None = None, resume: str | Path | None = None, **overrides) -> Path:
    """Train a GAN and return its run directory.

    ``config`` is a Config, a nested dict, a preset name or a YAML path; ``overrides`` are
    dotted keys with underscores for dots' sections, e.g. ``train(..., train={"steps": 100})``.
    """
    from . import assemble
    from . import config as C
    from .training import train as _train

    if isinstance(config, Config):
        cfg = C.from_dict(C.merge(config.to_dict(), overrides)) if overrides else config
    elif isinstance(config, dict):
        cfg = C.from_dict(C.merge(config, overrides))
    elif str(config).endswith((".yaml", ".yml")):
        cfg = C.load(config=config, overrides=overrides)
    else:
        cfg = C.load(preset=str(config), overrides=overrides)
    assemble.validate(cfg)
    return _train(cfg, out=out, resume=resume)


def evaluate(generator, dataset=None, metrics=None, **kwargs) -> list[dict]:
    """Score a generator (or a checkpoint / run directory); every result carries its protocol.
    See ganforge.metrics.evaluate.evaluate for the options."""
    from .metrics.evaluate import evaluate as _evaluate

    return _evaluate(_generator(generator), dataset, metrics, **kwargs)


def audit(generator, dataset=None, **kwargs) -> dict:
    """The memorization audit of a generator (or a checkpoint / run directory): see ganforge.metrics.audit.audit."""
    from .metrics.audit import audit as _audit

    return _audit(_generator(generator), dataset, **kwargs)


def _generator(g) -> Generator:
    """A Generator as it is; a checkpoint, run directory or export path loaded."""
    return g if isinstance(g, Generator) else load(g)
