"""Typed configuration: dataclass defaults ◄ preset or YAML ◄ dotted overrides, as plain data.

Every field carries its help text and its check in ``metadata``, so the CLI's flags, the
docs' option table and the per-field checks all come from this one file; checks against
the registries live one floor up, in assemble.py, and the registries' names in help texts are
placeholders that ganforge.options fills (this module imports nothing above it). The whole config is
stored as plain data in every checkpoint, so ``ganforge.load(path)`` needs nothing else.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import ConfigError


def opt(default, help: str, check: Callable[[Any], str | None] | None = None, **kw):
    """A config field with its help text and an optional check returning an error or None."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"help": help, "check": check}, **kw)
    return field(default=default, metadata={"help": help, "check": check}, **kw)


def positive(v):
    return None if v > 0 else "must be > 0"


def non_negative(v):
    return None if v >= 0 else "must be >= 0"


def one_of(*choices):
    return lambda v: None if v in choices else f"must be one of {', '.join(map(str, choices))}"


def in_range(lo, hi):
    return lambda v: None if lo <= v < hi else f"must be in [{lo}, {hi})"


def non_negative_or_none(v):
    return None if v is None or v >= 0 else "must be >= 0"


def all_positive(v):
    return None if v and all(x > 0 for x in v) else "must be a non-empty list of positive integers"


@dataclass
class DataConfig:
    name: str = opt("digits", "dataset: {datasets} (points: a CSV of x,y rows at data.root; folder: any folder of images at data.root)")
    root: str | None = opt(None, "data directory (default $GANFORGE_DATA, else ~/.cache/ganforge/data); for name=folder, the image folder; for name=points, the CSV file")
    split: str = opt("train", "which split to train on", one_of("train", "test", "unlabeled", "train+unlabeled"))
    resolution: int = opt(32, "image side in pixels (images are resized: shorter side, then centre crop)", positive)
    channels: int = opt(0, "image channels: 1 or 3; 0 keeps the dataset's own", one_of(0, 1, 3))
    download: bool = opt(True, "download official datasets into data.root when they are missing")
    scale: float = opt(0.0, "2-D toys: ring radius, grid spacing or roll size; 0 = the distribution's default", non_negative)
    std: float = opt(0.0, "2-D toys: standard deviation of each mode; 0 = the distribution's default", non_negative)
    max_memory_mb: int = opt(4096, "image sets larger than this stream from a memory-mapped cache", positive)
    labels: str = opt("auto", "folder: auto (class sub-folders become labels) or none (every image below data.root, in any sub-folder, "
                              "is one unlabelled set: LSUN's hashed sub-folders)", one_of("auto", "none"))


@dataclass
class ModelConfig:
    family: str = opt("dcgan", "network family: {families} (resnet: SNGAN's; fc: wide and shallow; upsample: stage 2 of a stack)")
    nz: int = opt(100, "latent dimension", positive)
    ngf: int = opt(64, "dcgan: generator width (channels of the last hidden layer)", positive)
    ndf: int = opt(64, "dcgan: discriminator width (channels of the first layer)", positive)
    max_mult: int = opt(8, "dcgan: channels per level are capped at max_mult x ngf (or ndf); 8 = the classic DCGAN, 64 lets a 512x512 G start at 2048 channels from ngf 32", positive)
    resnet_style: str = opt("constant", "resnet: constant (SNGAN's CIFAR-10 nets: 4·ngf channels in every G block, 2·ndf in D) or pyramid (its STL-10 nets: G halves from 2^n·ngf, D doubles from ndf up to 16·ndf)",
                            one_of("constant", "pyramid"))
    unpool_indices: str = opt("real", "unpool: where G's unpooling indices come from: real (D's max pooling on the current real batch, as in the original experiment: it can copy training images), generated (D on G's previous batch), fixed (D on the first real batch, once)",
                              one_of("real", "generated", "fixed"))
    low_res: int = opt(64, "upsample (stage 2 of a stack): side of the low-resolution image G starts from (stage 1's resolution)", positive)
    stage1: str = opt("", "a stack: stage 1 that makes the low-resolution images: a preset, a YAML file, or a finished run directory to reuse; empty = no stack")
    stage1_steps: int = opt(0, "a stack: stage 1's train.steps (0 = its own config's)", non_negative)
    g_hidden: list[int] = opt([256, 512, 1024], "mlp: generator hidden widths", all_positive)
    d_hidden: list[int] = opt([1000, 400, 200], "mlp, fc: discriminator hidden widths (fc: G mirrors them)", all_positive)
    dropout: float = opt(0.1, "mlp: dropout after each discriminator hidden layer", in_range(0, 1))
    d_norm: str = opt("batch", "discriminator normalization: batch, layer, none", one_of("batch", "layer", "none"))
    conditional: str = opt("none", "label conditioning: none; concat (cGAN: class joined to z and to D's input); acgan (z times a class embedding, D with an auxiliary classifier); projection (Miyato & Koyama 2018)",
                           one_of("none", "concat", "acgan", "projection"))
    d_arch: str = opt("standard", "discriminator: standard (a score), or autoencoder (EBGAN: energy = reconstruction MSE; objective energy)", one_of("standard", "autoencoder"))
    spectral_norm: bool = opt(False, "spectral normalization on every D layer (Miyato et al. 2018)")
    mbstd: bool = opt(False, "minibatch standard-deviation feature in D, against mode collapse (Karras et al. 2018)")
    init: str = opt("normal", "weight init: normal = N(0, 0.02) as in DCGAN (BatchNorm N(1, 0.02)); default = PyTorch's", one_of("normal", "default"))


@dataclass
class ObjectiveConfig:
    name: str = opt("nonsaturating", "GAN objective: {objectives} (see the objectives table)")
    label_smoothing: float = opt(0.0, "one-sided label smoothing: real targets become 1 - s (Salimans et al. 2016)", in_range(0, 0.5))
    clip: float = opt(0.01, "wgan: critic weights are clipped to [-clip, clip] after every critic step", positive)
    gp_weight: float | None = opt(None, "gradient penalty weight λ on interpolates (Gulrajani et al. 2017); default 10 for wgan-gp, 0 otherwise", non_negative_or_none)
    r1_weight: float = opt(0.0, "R1 penalty γ/2·E‖∇D(x)‖² on real data (Mescheder et al. 2018); 0 = off", non_negative)
    margin: float = opt(1.0, "energy: the margin m in L_D = E(x) + [m - E(G(z))]+", positive)
    pt_weight: float = opt(0.1, "energy with an autoencoder D: weight of EBGAN's pulling-away term", non_negative)
    aux_weight: float = opt(1.0, "acgan: weight of the auxiliary classification loss", non_negative)
    aux_fake: bool = opt(True, "acgan: D's class head also learns to classify G's samples by the class asked for (Odena et al.); "
                               "false: D learns classes from real images only, G still has to match them")
    mode_seeking: float = opt(0.0, "weight of the mode-seeking regularizer on G (Mao et al. 2019); 0 = off", non_negative)
    instance_noise: float = opt(0.0, "std of Gaussian noise added to D's inputs, annealed linearly to 0 (Sønderby et al. 2017); 0 = off", non_negative)
    diffaugment: str = opt("", "DiffAugment policy for D's inputs (Zhao et al. 2020): any of color,translation,cutout; empty = off",
                           lambda v: None if set(filter(None, v.split(","))) <= {"color", "translation", "cutout"} else "must be a comma list of color, translation, cutout")


@dataclass
class OptimConfig:
    name: str = opt("adam", "optimizer for both networks: adam, rmsprop", one_of("adam", "rmsprop"))
    lr_g: float = opt(2e-4, "generator learning rate", positive)
    lr_d: float = opt(2e-4, "discriminator learning rate", positive)
    beta1: float = opt(0.5, "Adam beta1 (0.5 as in DCGAN)", in_range(0, 1))
    beta2: float = opt(0.999, "Adam beta2", in_range(0, 1))
    lr_decay: float = opt(0.0, "both learning rates fall linearly to 0 over this last fraction of train.steps "
                               "(SNGAN's schedule is 1: over the whole run); 0 = constant",
                            lambda v: None if 0 <= v <= 1 else "must be in [0, 1]")
    fused: bool = opt(True, "one fused kernel updates all parameters (Adam: fused, RMSprop: foreach): the same update as "
                            "PyTorch's per-parameter loop up to float rounding, in fewer passes over memory; false = that loop")


@dataclass
class TrainConfig:
    steps: int = opt(2000, "generator steps", positive)
    batch_size: int = opt(64, "global batch size: D sees this many real and this many fake per step, split evenly over the processes of a distributed run", positive)
    d_steps: int = opt(1, "discriminator steps per generator step (k in Goodfellow et al.)", positive)
    ema: float = opt(0.0, "decay of an exponential moving average of G's weights (e.g. 0.999); snapshots and the saved generator use it; 0 = off", in_range(0, 1))
    ema_rampup: float = opt(0.0, "EMA warm-up (StyleGAN2-ADA's ema_rampup): the average's half-life is at most this fraction of the steps so far, "
                                 "so early on it follows G closely and later averages up to train.ema; 0 = a constant train.ema", in_range(0, 1))
    seed: int = opt(0, "seed for weights, noise and data order", non_negative)
    channels_last: bool = opt(True, "keep conv weights and image batches channels-last (NHWC): faster convolutions on CPUs "
                                    "(oneDNN) and GPU tensor cores, the same results up to float rounding")
    device: str = opt("auto", "auto (cuda, then mps, then cpu), cpu, cuda, cuda:N or mps",
                      lambda v: None if re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", v) else "must be auto, cpu, cuda, cuda:N or mps")
    log_every: int = opt(50, "steps between metrics.jsonl lines and progress-bar updates", positive)
    sample_every: int = opt(250, "steps between fixed-noise sample grids in samples/", positive)
    ckpt_every: int = opt(1000, "steps between checkpoints", positive)
    keep_ckpts: int = opt(3, "how many recent checkpoints to keep", positive)
    eval_every: int = opt(0, "steps between evaluations (metrics in metrics.jsonl; checkpoints/best.pt keeps the best); 0 = off", non_negative)
    eval_metric: str = opt("auto", "metric that picks the best checkpoint: auto (fid for images, high_quality for 2-D toys), or one of {metrics}")
    eval_n: int = opt(2000, "generated samples per periodic evaluation", positive)
    max_rollbacks: int = opt(3, "on NaN/Inf, roll back to the last checkpoint at most this many times, then stop", non_negative)
    rollback_lr_factor: float = opt(0.5, "each rollback multiplies the learning rates by this", lambda v: None if 0 < v <= 1 else "must be in (0, 1]")
    n_samples: int = opt(64, "images in each fixed-noise grid (points in each toy scatter: x40)", positive)
    progress: bool = opt(True, "show a progress bar")
    tensorboard: bool = opt(True, "also write TensorBoard events")
    amp: str = opt("off", "mixed precision for the training step: off; bf16 (autocast to bfloat16); fp16 (autocast to float16 with a gradient scaler, saved in checkpoints)",
                   one_of("off", "bf16", "fp16"))
    compile: bool = opt(False, "torch.compile G and D (D stays eager with a gradient penalty or R1: compiled graphs have no double backward)")
    tf32: bool = opt(True, "CUDA: TensorFloat-32 for float32 matmuls and convolutions (Ampere and newer; faster, 10-bit mantissa)")
    dist_timeout: float = opt(900.0, "distributed runs: seconds a process waits for the others in a collective before it stops with an error "
                                     "(a dead or hung process is reported within this time; rank 0's periodic evaluation must fit in it)", positive)


@dataclass
class HealthConfig:
    enabled: bool = opt(True, "watch for failure modes while training (health.jsonl, warnings, `ganforge diagnose`)")
    every: int = opt(200, "steps between probes of sample diversity (and toy modes)", positive)
    classes: str = opt("auto", "labelled images: judge mode collapse also by the classes a domain classifier finds in the probe: "
                              "auto (when `ganforge evaluate --features classifier` or an earlier run cached one for this dataset), "
                              "train (train and cache it first: about a minute for MNIST on a CPU), off",
                       one_of("auto", "train", "off"))
    window: int = opt(5, "flushed metric rows (train.log_every steps each) a condition is judged over", positive)
    warmup: float = opt(0.1, "fraction of train.steps before conditions are judged", in_range(0, 1))
    action: str = opt("warn", "on a condition: warn; stop (checkpoint and exit); rollback (to the last checkpoint, D's learning rate x health.rollback_lr_d)",
                      one_of("warn", "stop", "rollback"))
    conditions: list[str] = opt(["d_wins", "vanishing_g_grad", "mode_collapse", "oscillation", "divergence"],
                                "conditions that trigger health.action: any of {conditions}",
                                lambda v: None if set(v) <= {"d_wins", "vanishing_g_grad", "mode_collapse", "oscillation", "divergence"}
                                else "must be a list of d_wins, vanishing_g_grad, mode_collapse, oscillation, divergence")
    rollback_lr_d: float = opt(0.5, "health.action rollback: D's learning rate is multiplied by this", lambda v: None if 0 < v <= 1 else "must be in (0, 1]")


@dataclass
class Config:
    description: str = opt("", "one line about this configuration")
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    objective: ObjectiveConfig = field(default_factory=ObjectiveConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    health: HealthConfig = field(default_factory=HealthConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


SECTIONS = ("data", "model", "objective", "optim", "train", "health")


# ---------------------------------------------------------------------------- presets

def _preset_dir():
    return resources.files("ganforge") / "configs"


def preset_names() -> list[str]:
    return sorted(p.name[:-5] for p in _preset_dir().iterdir() if p.name.endswith(".yaml"))


def preset_dict(name: str) -> dict:
    names = preset_names()
    if name not in names:
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigError(f"unknown preset {name!r}{hint} (see `ganforge presets`)")
    return _parse_yaml((_preset_dir() / f"{name}.yaml").read_text(), f"preset {name}")


def _parse_yaml(text: str, where: str) -> dict:
    try:
        d = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{where}: not valid YAML{at}: {getattr(e, 'problem', e)}") from None
    if d is None:
        return {}
    if not isinstance(d, dict):
        raise ConfigError(f"{where}: expected a mapping of sections (data:, model:, ...), got {type(d).__name__}")
    return d


def yaml_dict(path: str | Path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {p} does not exist")
    d = _parse_yaml(p.read_text(), str(p))
    base = d.pop("preset", None)  # a YAML file may start from a preset and change a few keys
    return merge(preset_dict(base), d) if base else d


def merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


# ---------------------------------------------------------------------------- building

def from_dict(d: dict) -> Config:
    """Build a Config from nested plain data (YAML, a checkpoint, overrides), each field checked.
    Checks against the registries (datasets, model families, objectives) are assemble.validate's."""
    return _build(Config, d, "")


def _build(cls, d: dict, prefix: str):
    if not isinstance(d, dict):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'}: expected a mapping, got {d!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in d.items():
        if key not in fields:
            raise ConfigError(unknown_key_message(prefix + str(key)))
        f, typ = fields[key], hints[key]
        if dataclasses.is_dataclass(typ):
            kwargs[key] = _build(typ, value, f"{prefix}{key}.")
        else:
            kwargs[key] = coerce(prefix + key, value, typ)
    obj = cls(**kwargs)
    for f in dataclasses.fields(cls):
        check = f.metadata.get("check")
        if check is not None:
            problem = check(getattr(obj, f.name))
            if problem:
                raise ConfigError(f"{prefix}{f.name} = {getattr(obj, f.name)!r}: {problem}")
    return obj


def coerce(key: str, value, typ):
    """Convert a YAML/CLI value to the field's type, or raise a one-line error naming the key."""
    optional = False
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        optional, typ = True, args[0]
    if value is None or (optional and value in ("null", "None", "none", "")):
        if optional:
            return None
        raise ConfigError(f"{key}: a value is required")
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "yes", "1", "on"):
                return True
            if str(value).lower() in ("false", "no", "0", "off"):
                return False
            raise ValueError
        if typ is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if typ is str:
            if isinstance(value, (dict, list)):
                raise ValueError
            return str(value)
        if typing.get_origin(typ) is list:
            (inner,) = typing.get_args(typ)
            items = value
            if isinstance(value, str):
                items = [v for v in value.strip("[]").split(",") if v.strip()]
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                items = [value]  # --model.d_hidden 128: a one-element list
            if not isinstance(items, (list, tuple)):
                raise ValueError
            return [coerce(key, v, inner) for v in items]
    except (TypeError, ValueError):
        raise ConfigError(f"{key} = {value!r}: expected {_type_name(typ)}") from None
    raise TypeError(f"unsupported config type {typ} for {key}")


def _type_name(typ) -> str:
    if typing.get_origin(typ) is list:
        inner = typing.get_args(typ)[0]
        return f"a list of {({int: 'integers', float: 'numbers', str: 'strings'}).get(inner, inner)} (e.g. 256,512)"
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(typ, str(typ))


def all_keys() -> list[str]:
    """Every dotted key, e.g. 'train.steps'."""
    keys = []
    for f in dataclasses.fields(Config):
        if f.name in SECTIONS:
            keys += [f"{f.name}.{g.name}" for g in dataclasses.fields(f.default_factory())]
        else:
            keys.append(f.name)
    return keys


def describe_keys(names: dict[str, list[str]] | None = None) -> list[tuple[str, str, str]]:
    """(dotted key, default, help) for every option: the CLI help and the docs' option table.

    Help texts name what the registries hold by placeholder ("{datasets}"), since this module
    imports no registry; ``names`` fills them ({"datasets": [...], ...}), and placeholders it
    lacks stay as they are. ganforge.options.describe_options passes the registries' names."""
    rows = []
    for f in dataclasses.fields(Config):
        if f.name in SECTIONS:
            for g in dataclasses.fields(f.default_factory()):
                default = g.default_factory() if g.default is dataclasses.MISSING else g.default
                rows.append((f"{f.name}.{g.name}", repr(default), fill(g.metadata["help"], names)))
        else:
            rows.append((f.name, repr(f.default), fill(f.metadata["help"], names)))
    return rows


def fill(text: str, names: dict[str, list[str]] | None) -> str:
    """``{key}`` in a help text → the names under that key, comma-separated."""
    return re.sub(r"\{(\w+)\}", lambda m: ", ".join(names[m[1]]) if names and m[1] in names else m[0], text)


def unknown_key_message(key: str) -> str:
    close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.5)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown config key {key!r}{hint} (see `ganforge train --help`)"


def parse_overrides(args: list[str]) -> dict:
    """['--train.steps', '500', '--model.nz=64'] → {'train': {'steps': '500'}, 'model': {'nz': '64'}}."""
    out: dict = {}
    i = 0
    while i < len(args):
        arg = args[i]
        if not arg.startswith("--"):
            raise ConfigError(f"unexpected argument {arg!r}: options look like --section.key VALUE")
        key, eq, value = arg[2:].partition("=")
        if not eq:
            if i + 1 >= len(args) or (args[i + 1].startswith("--") and not _is_number(args[i + 1])):
                raise ConfigError(f"--{key} needs a value")
            value, i = args[i + 1], i + 1
        if key not in all_keys():
            raise ConfigError(unknown_key_message(key))
        node = out
        *parents, leaf = key.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = yaml.safe_load(value) if value.strip() else value
        i += 1
    return out


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def load(config: str | Path | None = None, preset: str | None = None, overrides: list[str] | dict | None = None) -> Config:
    """defaults ◄ preset or YAML file ◄ dotted overrides, each field checked (assemble.load also
    checks against the registries)."""
    if config is not None and preset is not None:
        raise ConfigError("give a CONFIG.yaml or --preset, not both (a YAML file can say `preset: NAME`)")
    d = yaml_dict(config) if config is not None else preset_dict(preset) if preset else {}
    over = undot(overrides) if isinstance(overrides, dict) else parse_overrides(overrides or [])
    return from_dict(merge(d, over))


def undot(over: dict) -> dict:
    """Dotted keys of a dict as on the command line: {"data.name": "ring8", "train": {"steps": 5}}
    → {"data": {"name": "ring8"}, "train": {"steps": 5}}; an unknown dotted key is an error."""
    out: dict = {}
    for key, value in over.items():
        if isinstance(key, str) and "." in key:
            if key not in all_keys():
                raise ConfigError(unknown_key_message(key))
            *parents, leaf = key.split(".")
            for p in reversed(parents + [leaf]):
                value = {p: value}
        else:
            value = {key: value}
        out = merge(out, value)
    return out


def to_yaml(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
