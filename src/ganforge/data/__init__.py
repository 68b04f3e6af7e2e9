"""Data sources by name. ``build(cfg.data)`` gives a Source: endless batches in [-1, 1].

| name                                  | module    | labels             |
|---------------------------------------|-----------|--------------------|
| ring8, grid25, swissroll              | toy2d.py  | none (2-D points)  |
| points (a CSV of x,y rows: data.root) | toy2d.py  | none (2-D points)  |
| digits (scikit-learn's bundled 8x8)   | here      | 10 classes         |
| mnist, fashion-mnist, cifar10, stl10  | arrays.py | 10 classes         |
| folder (any folder of images)         | folder.py | class sub-folders, or none (data.labels none) |
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import DataConfig
from ..errors import ConfigError
from ..registry import Registry
from .base import DataInfo, ImageSource, RawImages, Source, memory_text, to_model_images
from .toy2d import TOYS, ToySource, points_file

__all__ = ["DATASETS", "DataInfo", "Source", "ImageSource", "ToySource", "build", "describe", "check", "data_root"]


@dataclass(frozen=True)
class DatasetSpec:
    kind: str  # "image" or "points"
    channels: int  # native channels (images)
    num_classes: int | None  # None: known only once read (folders)
    build: Callable[[DataConfig, int], Source]


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def data_root(cfg: DataConfig) -> Path:
    return Path(cfg.root or os.environ.get("GANFORGE_DATA") or Path.home() / ".cache" / "ganforge" / "data").expanduser()


def cache_dir() -> Path:
    return Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge").expanduser()


def _channels(cfg: DataConfig, spec: DatasetSpec) -> int:
    return cfg.channels or spec.channels


def _image_source(raw: RawImages, cfg: DataConfig, spec: DatasetSpec, seed: int) -> ImageSource:
    channels = _channels(cfg, spec)
    x = to_model_images(raw, cfg.resolution, channels)
    y = None if raw.labels is None else torch.from_numpy(raw.labels)
    num_classes = 0 if y is None else int(y.max()) + 1
    if raw.class_names is not None and y is not None:
        num_classes = max(num_classes, len(raw.class_names))
    info = DataInfo("image", (channels, cfg.resolution, cfg.resolution), num_classes, raw.class_names if y is not None else None)
    return ImageSource(x, y, info, seed)


for _name, _make in TOYS.items():
    DATASETS.register(_name)(DatasetSpec("points", 0, 0, lambda cfg, seed, _make=_make: _make(cfg.scale, cfg.std, seed)))
DATASETS.register("points")(DatasetSpec("points", 0, 0, lambda cfg, seed: points_file(cfg.root, cfg.std, seed)))


def _digits(cfg: DataConfig, seed: int) -> Source:
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no network

    d = load_digits()
    images = np.round(d.images * (255.0 / 16.0)).astype(np.uint8)[..., None]  # 0..16 → 0..255
    raw = RawImages(images, d.target.astype(np.int64), [str(i) for i in range(10)], "scikit-learn digits")
    return _image_source(raw, cfg, DATASETS.get("digits"), seed)


DATASETS.register("digits")(DatasetSpec("image", 1, 10, _digits))


def _official(name: str, channels: int) -> DatasetSpec:
    def build(cfg: DataConfig, seed: int) -> Source:
        from .arrays import load_official

        raw = load_official(name, data_root(cfg), cfg.split, cfg.download)
        return _image_source(raw, cfg, DATASETS.get(name), seed)

    return DatasetSpec("image", channels, 10, build)


for _name, _c in [("mnist", 1), ("fashion-mnist", 1), ("cifar10", 3), ("stl10", 3)]:
    DATASETS.register(_name)(_official(_name, _c))


def _folder(cfg: DataConfig, seed: int) -> Source:
    from .folder import load_folder

    channels = _channels(cfg, DATASETS.get("folder"))
    f = load_folder(cfg.root, cfg.resolution, channels, cache_dir() / "folders", labels=cfg.labels)
    images = f.images
    if images.nbytes <= cfg.max_memory_mb * 2**20:
        images = torch.from_numpy(np.array(images))  # fits: hold it in memory
    else:  # the set is too large to hold: say where it streams from and what memory the process uses
        print(f"ganforge: data: {len(images):,} images {channels}x{cfg.resolution}x{cfg.resolution} = "
              f"{f.images.nbytes / 2**20:,.0f} MiB, over data.max_memory_mb {cfg.max_memory_mb}: streamed from the "
              f"memory-mapped cache {f.images.filename}; process memory {memory_text()}", file=sys.stderr)
    labels = None if f.labels is None else torch.from_numpy(np.asarray(f.labels, dtype=np.int64))
    info = DataInfo("image", (channels, cfg.resolution, cfg.resolution),
                    0 if labels is None else len(f.class_names), f.class_names if labels is not None else None)
    return ImageSource(images, labels, info, seed)


DATASETS.register("folder")(DatasetSpec("image", 3, None, _folder))


def check(cfg: DataConfig) -> None:
    spec = DATASETS.get(cfg.name)
    if cfg.name in ("folder", "points") and not cfg.root:
        what = "image folder" if cfg.name == "folder" else "CSV file of x,y rows"
        raise ConfigError(f"data.root: name the {what} to train on (data.name = {cfg.name})")
    if spec.kind == "points" and cfg.channels:
        raise ConfigError(f"data.channels = {cfg.channels}: {cfg.name} is 2-D points, not images")
    if cfg.split not in ("train", "test") and cfg.name != "stl10":
        raise ConfigError(f"data.split = {cfg.split!r}: only stl10 has it (use train or test)")


def describe(cfg: DataConfig) -> DataInfo:
    """What the data will look like, without reading it (for validating a config)."""
    spec = DATASETS.get(cfg.name)
    if spec.kind == "points":  # the generated toys cost nothing to build, and know their mode centres
        return DataInfo("points", (2,), 0) if cfg.name == "points" else spec.build(cfg, 0).info
    num_classes = 0 if cfg.split in ("unlabeled", "train+unlabeled") else spec.num_classes
    return DataInfo("image", (_channels(cfg, spec), cfg.resolution, cfg.resolution), num_classes)


def build(cfg: DataConfig, seed: int = 0) -> Source:
    check(cfg)
    source = DATASETS.get(cfg.name).build(cfg, seed)
    source.mirror = cfg.mirror and source.info.kind == "image"  # random left-right flips of the real batches
    return source
