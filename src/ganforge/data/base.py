"""What every data source hands to training: in-memory (or memory-mapped) uint8 images,
batched by random permutation with no DataLoader worker overhead, or 2-D toy points.

Images are stored as uint8 NCHW and converted to float in [-1, 1] per batch, on the
training device. Batch order comes from a torch.Generator whose state, with the epoch
position, is part of ``state_dict()``, so a resumed run sees exactly the same batches.
With ``mirror`` (data.mirror), each image of a batch is flipped left-right with probability
1/2, the flips drawn per epoch from the same seed, so they too resume exactly.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import DataError


@dataclass
class RawImages:
    """Images as a loader reads them, before resizing: uint8 (N, H, W, C), labels int64 (N,)."""

    images: np.ndarray
    labels: np.ndarray | None = None
    class_names: list[str] | None = None
    source: str = ""  # the file or folder they came from, for error messages

    def __post_init__(self) -> None:
        where = self.source or "dataset"
        if not isinstance(self.images, np.ndarray) or self.images.dtype != np.uint8:
            raise DataError(f"{where}: images must be a uint8 array, got {getattr(self.images, 'dtype', type(self.images))}")
        if self.images.ndim != 4 or self.images.shape[-1] not in (1, 3):
            raise DataError(f"{where}: images must have shape (N, H, W, 1 or 3), got {self.images.shape}")
        if len(self.images) == 0:
            raise DataError(f"{where}: holds no images")
        if self.labels is not None:
            if self.labels.ndim != 1 or not np.issubdtype(self.labels.dtype, np.integer):
                raise DataError(f"{where}: labels must be a 1-D integer array, got {self.labels.dtype} {self.labels.shape}")
            if len(self.labels) != len(self.images):
                raise DataError(f"{where}: {len(self.labels)} labels for {len(self.images)} images")
            if self.labels.min() < 0:
                raise DataError(f"{where}: labels must be >= 0, found {int(self.labels.min())}")
            self.labels = self.labels.astype(np.int64)


@dataclass
class DataInfo:
    """What a model and a checkpoint need to know about the data, without the data itself."""

    kind: str  # "image" or "points"
    shape: tuple[int, ...]  # per sample: (C, H, W) or (2,)
    num_classes: int | None = 0  # 0 = unlabelled; None = not known until the data is read
    class_names: list[str] | None = None
    point_scale: float = 1.0  # points: data coordinates = model space × point_scale
    centers: list[list[float]] | None = None  # toy mode centres, in data coordinates
    std: float | None = None  # toy mode standard deviation, in data coordinates

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "DataInfo":
        d = dict(d)
        d["shape"] = tuple(d["shape"])
        return cls(**d)


def to_model_images(raw: RawImages, resolution: int, channels: int) -> torch.Tensor:
    """uint8 (N, H, W, C) at any size → uint8 (N, channels, resolution, resolution).

    Resizes the shorter side to ``resolution`` (antialiased bilinear) and centre-crops,
    the same rule as image folders; gray ↔ RGB by replication or ITU-R 601 luma.
    """
    x = torch.from_numpy(np.ascontiguousarray(raw.images)).permute(0, 3, 1, 2)
    x = convert_channels(x, channels)
    n, c, h, w = x.shape
    if (h, w) != (resolution, resolution):
        out = torch.empty(n, c, resolution, resolution, dtype=torch.uint8)
        s = resolution / min(h, w)
        nh, nw = max(resolution, round(h * s)), max(resolution, round(w * s))
        top, left = (nh - resolution) // 2, (nw - resolution) // 2
        for i in range(0, n, 4096):  # chunks bound the float copy's memory
            chunk = x[i : i + 4096].float()
            chunk = F.interpolate(chunk, size=(nh, nw), mode="bilinear", antialias=True, align_corners=False)
            chunk = chunk[:, :, top : top + resolution, left : left + resolution]
            out[i : i + 4096] = chunk.round().clamp(0, 255).to(torch.uint8)
        x = out
    return x.contiguous()


def convert_channels(x: torch.Tensor, channels: int) -> torch.Tensor:
    """uint8 NCHW with 1 or 3 channels → ``channels`` channels."""
    c = x.shape[1]
    if c == channels:
        return x
    if c == 1 and channels == 3:
        return x.expand(-1, 3, -1, -1)
    if c == 3 and channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (x.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    raise DataError(f"cannot convert {c}-channel images to {channels} channels")


def memory_mb() -> dict[str, float]:
    """This process's resident memory in MiB (Linux): ``anon`` is its own (tensors, arrays),
    ``file`` the mapped file pages (a memory-mapped cache), which the OS can drop at will."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "RssAnon", "RssFile", "VmHWM"):
                    out[{"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file", "VmHWM": "peak"}[key]] = int(value.split()[0]) / 1024
    except OSError:
        pass
    return out


def memory_text() -> str:
    m = memory_mb()
    if not m:
        return "unknown (no /proc/self/status)"
    return f"{m.get('rss', 0):,.0f} MiB resident ({m.get('anon', 0):,.0f} own, {m.get('file', 0):,.0f} mapped files), peak {m.get('peak', 0):,.0f} MiB"


class Source:
    """An endless stream of batches: (x float in [-1, 1] on ``device``, y int64 or None)."""

    info: DataInfo
    mirror: bool = False  # images: random left-right flips of the training batches (data.mirror)

    def batches(self, batch_size: int, device: torch.device, shard: tuple[int, int] = (0, 1)
                ) -> Iterator[tuple[torch.Tensor, torch.Tensor | None]]:
        """Endless global batches of ``batch_size``; with ``shard = (rank, world)``, this
        process's slice of each (rows rank·b to (rank+1)·b, b = batch_size / world): the data
        position is global, so a run resumes into any number of processes."""
        raise NotImplementedError

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass

    def real_samples(self, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
        """n samples in model space (for plots and metrics), independent of training order."""
        raise NotImplementedError


@dataclass
class _Cursor:
    epoch: int = 0
    pos: int = 0
    seed: int = 0
    perm: torch.Tensor | None = field(default=None, repr=False)
    flips: torch.Tensor | None = field(default=None, repr=False)  # data.mirror: which positions are flipped


class ImageSource(Source):
    """uint8 NCHW images (a tensor, or a memory-mapped array for sets larger than memory)."""

    def __init__(self, images, labels: torch.Tensor | None, info: DataInfo, seed: int = 0):
        self.images = images
        self.labels = labels
        self.info = info
        self._cursor = _Cursor(seed=seed)
        self._device_cache: dict = {}

    def __len__(self) -> int:
        return len(self.images)

    def _perm(self, epoch: int) -> torch.Tensor:
        # One permutation per epoch, a pure function of (seed, epoch): resuming needs only
        # the epoch and the position inside it, not a generator state.
        g = torch.Generator().manual_seed(self._cursor.seed * 1_000_003 + epoch)
        return torch.randperm(len(self.images), generator=g)

    def _flips(self, epoch: int) -> torch.Tensor:
        # Like the permutation, a pure function of (seed, epoch), from a generator of its own.
        g = torch.Generator().manual_seed(self._cursor.seed * 1_000_003 + epoch + 2**40)
        return torch.rand(len(self.images), generator=g) < 0.5

    def _take(self, idx: torch.Tensor, device: torch.device):
        if isinstance(self.images, torch.Tensor):
            x = self._on(device, "x", self.images)[idx.to(device)]
        else:  # memory-mapped numpy array: sorted reads are sequential on disk
            order = idx.sort()
            x = torch.from_numpy(np.ascontiguousarray(self.images[order.values.numpy()]))
            x = x[order.indices.argsort()].to(device)
        y = None if self.labels is None else self._on(device, "y", self.labels)[idx.to(device)]
        return x.to(torch.get_default_dtype()).div_(127.5).sub_(1.0), y

    def _on(self, device: torch.device, key: str, t: torch.Tensor) -> torch.Tensor:
        # Small uint8 sets live on the training device once; no per-batch host→device copy.
        k = (key, str(device))
        if k not in self._device_cache:
            self._device_cache[k] = t.to(device)
        return self._device_cache[k]

    def batches(self, batch_size, device, shard=(0, 1)):
        n = len(self.images)
        if batch_size > n:  # checked at once, not at the first batch: before a run writes anything
            raise DataError(f"batch size {batch_size} is larger than the dataset ({n} images): train with "
                            f"--train.batch_size {n} (or fewer), or add images")
        return self._batches(batch_size, device, n, *shard)

    def _batches(self, batch_size, device, n, rank, world):
        b = batch_size // world
        cur = self._cursor
        while True:
            if cur.perm is None:
                cur.perm = self._perm(cur.epoch)
            if cur.pos + batch_size > n:  # drop the ragged tail: every batch has the same size
                cur.epoch, cur.pos, cur.perm, cur.flips = cur.epoch + 1, 0, None, None
                continue
            rows = slice(cur.pos + rank * b, cur.pos + (rank + 1) * b)
            x, y = self._take(cur.perm[rows], device)
            if self.mirror:
                if cur.flips is None:
                    cur.flips = self._flips(cur.epoch)
                x = torch.where(cur.flips[rows].to(device)[:, None, None, None], x.flip(3), x)
            cur.pos += batch_size
            yield x, y

    def state_dict(self):
        return {"epoch": self._cursor.epoch, "pos": self._cursor.pos, "seed": self._cursor.seed}

    def load_state_dict(self, state):
        self._cursor = _Cursor(epoch=int(state["epoch"]), pos=int(state["pos"]), seed=int(state["seed"]))

    def real_samples(self, n, seed=0):
        g = torch.Generator().manual_seed(seed)
        idx = torch.randperm(len(self.images), generator=g)[: min(n, len(self.images))]
        return self._take(idx, torch.device("cpu"))
