"""Typed configuration: dataclass defaults ◄ preset or YAML ◄ dotted overrides, as plain data.

Every field carries its help text and its check in ``metadata`` (schema.py), so the CLI's
flags, the docs' option table and the per-field checks all come from this package; this
module reads configurations: presets, YAML files, dotted overrides, each value coerced to its
field's type and checked. Checks against the registries live one floor up, in assemble.py,
and the registries' names in help texts are placeholders that ganforge.options fills (this
package imports nothing above it but errors). The whole config is stored as plain data in
every checkpoint, so ``ganforge.load(path)`` needs nothing else.
"""
from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from importlib import resources
from pathlib import Path

import yaml

from ..errors import ConfigError
from .schema import SECTIONS, Config, DataConfig, HealthConfig, ModelConfig, ObjectiveConfig, OptimConfig, TrainConfig

__all__ = ["SECTIONS", "Config", "ConfigError", "DataConfig", "HealthConfig", "ModelConfig", "ObjectiveConfig",
           "OptimConfig", "TrainConfig", "all_keys", "coerce", "describe_keys", "fill", "from_dict", "load", "merge",
           "parse_overrides", "preset_dict", "preset_names", "to_yaml", "undot", "unknown_key_message", "yaml_dict"]


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


def flat(d: dict, prefix: str = "") -> dict:
    """A nested dict (``Config.to_dict()``) by dotted key, as on the command line:
    {"data": {"name": "ring8"}} → {"data.name": "ring8"} (undot's other way)."""
    out = {}
    for k, v in d.items():
        out.update(flat(v, f"{prefix}{k}.") if isinstance(v, dict) else {f"{prefix}{k}": v})
    return out
