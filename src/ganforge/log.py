"""One way to log: ``report(name, value)`` from anywhere; the loop flushes every log_every steps.

Values are kept as detached tensors until the flush, so reporting never forces a device
sync on the hot path. A flush writes one line of ``metrics.jsonl`` (means over the window)
and, when enabled, the same scalars as TensorBoard events; ``report_image`` adds the
fixed-noise grids to TensorBoard's images. With several processes each reports on its slice
of the batch and the flush averages the window's means over processes, so every process holds
the same row (and decides the same on it); rank 0 writes it.
"""
from __future__ import annotations

import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from . import dist, runs

_active: "Reporter | None" = None


def report(name: str, value) -> None:
    if _active is not None:
        _active.report(name, value)


def report_image(tag: str, png: Path, step: int) -> None:
    """A picture already written as a PNG (e.g. a fixed-noise grid) → TensorBoard's Images tab."""
    if _active is not None:
        _active.image(tag, png, step)


class Reporter:
    def __init__(self, run: "runs.Run | str | Path | None", tensorboard: bool = False):
        self.run = run if run is None or isinstance(run, runs.Run) else runs.Run(run)
        self._values: dict[str, list] = defaultdict(list)
        self._tb = None
        if self.run is not None and self.run.writes and tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

            self._tb = SummaryWriter(str(self.run.tensorboard))

    def __enter__(self):
        global _active
        self._previous, _active = _active, self
        return self

    def __exit__(self, *exc):
        global _active
        _active = self._previous
        self.close()

    def report(self, name: str, value) -> None:
        self._values[name].append(value.detach() if isinstance(value, torch.Tensor) else float(value))

    def flush(self, step: int, **extra) -> dict[str, float]:
        means = {k: float(torch.as_tensor(v, dtype=torch.float64).mean()) if not isinstance(v[0], torch.Tensor)
                 else float(torch.stack(v).double().mean()) for k, v in self._values.items()}
        self._values.clear()
        means = dist.mean_values(means)
        row = {"step": step, "time": round(time.time(), 3), **means, **extra}
        if self.run is not None:
            self.run.append(self.run.metrics, row)
        if self._tb is not None:
            for k, v in {**means, **extra}.items():
                self._tb.add_scalar(k, v, step)
        return row

    def image(self, tag: str, png: Path, step: int) -> None:
        if self._tb is not None:
            from PIL import Image

            with Image.open(png) as im:
                self._tb.add_image(tag, np.asarray(im.convert("RGB")), step, dataformats="HWC")

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
            self._tb = None
