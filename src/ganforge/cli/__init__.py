"""``ganforge`` commands: thin shells over the Python API (ganforge.train, ganforge.load, ...).

- main.py: the parser and ``main`` (the console script ``ganforge.cli:main`` and ``python -m ganforge``)
- commands.py: train, sample, export, info, diagnose, serve, presets
- latent.py: interpolate, latent-grid, plane, arithmetic, sweep, compare (over ganforge.latent)
- evaluate.py: evaluate, audit (over ganforge.metrics)

Each command module has ``register(subparsers)``, which adds its commands to the parser.
"""
from .main import main, parser, split_overrides

__all__ = ["main", "parser", "split_overrides"]
