"""The configuration options as users read them: config.describe_keys with the registries'
names filled in.

The config package is plain data and imports no registry, so its help texts name what the
registries hold by placeholder ({datasets}, {families}, {objectives}, {metrics},
{conditions}). This module, one floor up, fills them wherever the options are shown:
``ganforge train --help`` and the option table of docs/configuration.md. A newly registered
dataset, model family, objective, metric or health condition appears there without an edit
to the config package.
"""
from __future__ import annotations

from . import config, data, models, objectives
from .health import CONDITIONS
from .metrics.evaluate import METRICS


def registry_names() -> dict[str, list[str]]:
    """Each placeholder of config's help texts → the names it stands for. Metrics are named by
    the results they give (fid, precision, ...), the values a checkpoint can be judged by,
    not by their groups (pr gives precision and recall)."""
    return {"datasets": data.DATASETS.names(), "families": models.MODELS.names(),
            "objectives": objectives.OBJECTIVES.names(), "conditions": list(CONDITIONS),
            "metrics": [out for name in METRICS.names() for out in METRICS.get(name).outputs]}


def describe_options() -> list[tuple[str, str, str]]:
    """(dotted key, default, help) for every option, with the registries' names filled in."""
    return config.describe_keys(registry_names())


def options_help() -> str:
    """The option list of ``ganforge train --help``."""
    rows = describe_options()
    width = max(len(k) for k, _, _ in rows) + 2
    return "configuration options (--section.key VALUE):\n" + "\n".join(
        f"  --{k:<{width}} {h} (default {d})" for k, d, h in rows)
