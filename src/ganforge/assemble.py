"""Where the parts meet: a config checked against the registries (training.make_game builds them),
and a stacked GAN's config split into its stages' configs, each checked the same way.

config/ is plain data (defaults, YAML, overrides, per-field checks) and imports nothing
above it; the registries (data, models, objectives, metrics) import config for their
sections. Checks that need a registry (a dataset's shape for a model family, an objective
that forbids BatchNorm, a metric that fits the data) live here, one floor up.
"""
from __future__ import annotations

from pathlib import Path

from . import checkpoint, config, data, models, objectives
from .config import Config
from .errors import ConfigError, GanforgeError


def validate(cfg: Config) -> Config:
    """Checks across fields and against the registries, so a bad run stops before training."""
    data.check(cfg.data)
    info = data.describe(cfg.data)
    models.check(cfg.model, info)
    objectives.check(cfg, info)
    if cfg.train.eval_metric != "auto":
        check_eval_metric(cfg.train.eval_metric, info)
    if cfg.model.stage1:
        check_stack(cfg)
    check_conditions(cfg.health.conditions)
    return cfg


def check_conditions(names: list[str]) -> None:
    """health.conditions: names of the health monitor's registered conditions."""
    from .health import CONDITIONS

    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise ConfigError(f"health.conditions: {', '.join(map(repr, unknown))} "
                          f"{'is not a condition' if len(unknown) == 1 else 'are not conditions'}; expected any of {', '.join(CONDITIONS)}")


def check_eval_metric(name: str, info) -> None:
    """train.eval_metric names one result (fid, precision, high_quality...), since best.pt keeps
    the best value of one number; a group of several (pr: precision and recall) is refused."""
    from .metrics.evaluate import METRICS, resolve_metrics

    try:
        resolve_metrics([name], info)
    except GanforgeError as e:
        raise ConfigError(f"train.eval_metric = {name!r}: {e}") from None
    if name in METRICS and name not in METRICS.get(name).outputs:
        raise ConfigError(f"train.eval_metric = {name!r} is a group of results; name one of them: "
                          f"{', '.join(METRICS.get(name).outputs)}")


def load(config_path: str | Path | None = None, preset: str | None = None, overrides=None) -> Config:
    """config.load (defaults ◄ preset or YAML ◄ overrides), then validate."""
    return validate(config.load(config_path, preset, overrides))


def from_dict(d: dict) -> Config:
    return validate(config.from_dict(d))


# ---------------------------------------------------------------------------- stacks

# Stage 1 shares the stack's data (at the low resolution) and these run settings.
_SHARED_DATA = ("name", "root", "split", "channels", "download", "max_memory_mb", "labels")
_SHARED_TRAIN = ("seed", "device", "progress", "tensorboard", "log_every", "sample_every", "ckpt_every", "keep_ckpts", "n_samples")


def stage1_config(cfg: Config) -> Config:
    """Stage 1's config: its preset, YAML or run (model.stage1), on the stack's data at ``model.low_res``."""
    src, m = cfg.model.stage1, cfg.model
    if Path(src).is_dir():
        d = checkpoint.load(src)["config"]
    elif src.endswith((".yaml", ".yml")):
        d = config.yaml_dict(src)
    else:
        try:
            d = config.preset_dict(src)
        except ConfigError as e:
            raise ConfigError(f"model.stage1 = {src!r}: not a run directory, a YAML file or a preset ({e})") from None
    data_ = {k: getattr(cfg.data, k) for k in _SHARED_DATA}
    train = {k: getattr(cfg.train, k) for k in _SHARED_TRAIN}
    if m.stage1_steps:
        train["steps"] = m.stage1_steps
    d = config.merge(d, {"data": {**data_, "resolution": m.low_res}, "train": train})
    if Path(src).is_dir():
        d = config.merge(d, {"model": {"stage1": "", "stage1_steps": 0}})
    return from_dict(d)


def stage2_config(cfg: Config) -> Config:
    """Stage 2 on its own: the stack's config without the stack."""
    return from_dict(config.merge(cfg.to_dict(), {"model": {"stage1": "", "stage1_steps": 0}}))


def check_stack(cfg: Config) -> None:
    """A stack's model is stage 2 (the upsample family), and stage 1 trains at model.low_res."""
    if cfg.model.family != "upsample":
        raise ConfigError(f"model.stage1 = {cfg.model.stage1!r} makes a stack, whose model is stage 2: "
                          f"model.family must be upsample, not {cfg.model.family!r}")
    s1 = stage1_config(cfg)
    if s1.data.resolution != cfg.model.low_res:
        raise ConfigError(f"model.stage1 = {cfg.model.stage1!r} trains at {s1.data.resolution}, but model.low_res is {cfg.model.low_res}")
