"""Where the parts meet: a config checked against the registries (training.make_game builds them).

config.py is plain data (defaults, YAML, overrides, per-field checks) and imports nothing
above it; the registries (data, models, objectives, metrics) import config for their
sections. Checks that need a registry (a dataset's shape for a model family, an objective
that forbids BatchNorm, a metric that fits the data) live here, one floor up.
"""
from __future__ import annotations

from pathlib import Path

from . import config, data, models, objectives
from .config import Config
from .errors import ConfigError, GanforgeError


def validate(cfg: Config) -> Config:
    """Checks across fields and against the registries, so a bad run stops before training."""
    data.check(cfg.data)
    info = data.describe(cfg.data)
    models.check(cfg.model, info)
    objectives.check(cfg, info)
    if cfg.train.eval_metric != "auto":
        from .metrics.evaluate import resolve_metrics

        try:
            resolve_metrics([cfg.train.eval_metric], info)
        except GanforgeError as e:
            raise ConfigError(f"train.eval_metric = {cfg.train.eval_metric!r}: {e}") from None
    return cfg


def load(config_path: str | Path | None = None, preset: str | None = None, overrides=None) -> Config:
    """config.load (defaults ◄ preset or YAML ◄ overrides), then validate."""
    return validate(config.load(config_path, preset, overrides))


def from_dict(d: dict) -> Config:
    return validate(config.from_dict(d))
