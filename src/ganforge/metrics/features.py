"""Feature extractors: the networks whose features every score is computed in, by name.

| name         | features                         | logits (IS) | needs                                     |
|--------------|----------------------------------|-------------|-------------------------------------------|
| `pixels`     | a fixed random projection of the pixels to ≤ 2048 dims (2-D toys: the points) | no | nothing |
| `classifier` | 128-d penultimate layer of a small CNN trained on the dataset's labels (classifier.py) | yes | a labelled training split |
| `inception`  | 2048-d pool of the FID Inception-v3 (inception.py) | 1008-way | pt_inception-2015-12-05-6726825d.pth |

Scores are comparable only between results with the same extractor *and* weights hash:
FID with the classifier is not Inception FID. Every extractor says what it is in
``protocol()``: its name, a hash of its weights, how it resizes its input, its feature size.

Inputs are batches of what generators return (float (N, C, H, W) in [-1, 1], or (N, 2)
points), or uint8 (N, C, H, W) in 0..255 (a dataset's stored images); all output is float32 numpy.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import require_safe_torch
from ..errors import ConfigError, DataError, GanforgeError
from ..registry import Registry

INCEPTION_FILE = "pt_inception-2015-12-05-6726825d.pth"
INCEPTION_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + INCEPTION_FILE
# The hub-style name carries the first 8 hex digits of the file's SHA-256 (torch.hub's rule).
INCEPTION_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"

PIXELS_DIM, PIXELS_MAX_SIDE, PIXELS_SEED = 2048, 32, 0
CLASSIFIER_SEED, CLASSIFIER_EPOCHS = 0, 3


def cache_dir() -> Path:
    return Path(os.environ.get("GANFORGE_CACHE") or Path.home() / ".cache" / "ganforge").expanduser()


def tensor_hash(tensors) -> str:
    """SHA-256 (16 hex digits) of tensors' dtypes, shapes and bytes, in order: a weights hash
    independent of the file format they were stored in."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{t.dtype}{tuple(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def to_float(x) -> torch.Tensor:
    """A batch as float32 in [-1, 1] (images) or as given (points)."""
    t = torch.as_tensor(np.asarray(x)) if isinstance(x, np.ndarray) or not isinstance(x, torch.Tensor) else x
    if t.dtype == torch.uint8:
        return t.float().div_(127.5).sub_(1.0)
    return t.float()


def to_uint8_values(x) -> torch.Tensor:
    """A batch as float32 holding integers 0..255: what the image would be once saved as a PNG."""
    t = torch.as_tensor(np.asarray(x)) if isinstance(x, np.ndarray) or not isinstance(x, torch.Tensor) else x
    if t.dtype == torch.uint8:
        return t.float()
    return ((t.float().clamp(-1, 1) + 1) * 127.5).round()


class Extractor:
    """features(x) → (N, dim) float32; logits(x) → (N, classes) where ``has_logits``."""

    name: str = ""
    weights_hash: str = ""
    resize: str = "none"
    dim: int = 0
    has_logits: bool = False
    batch_size: int = 500
    note: str = ""  # shown beside scores made with this extractor

    def __init__(self):
        self.device = torch.device("cpu")

    def to(self, device) -> "Extractor":
        self.device = torch.device(device)
        return self

    def _batch(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        raise NotImplementedError

    @torch.no_grad()
    def run(self, x, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """(features, logits or None) for every row of ``x``, in batches."""
        bs = batch_size or self.batch_size
        feats, logits = [], []
        for i in range(0, len(x), bs):
            f, lg = self._batch(x[i : i + bs])
            feats.append(f.float().cpu().numpy())
            if lg is not None:
                logits.append(lg.float().cpu().numpy())
        f = np.concatenate(feats) if feats else np.zeros((0, self.dim), np.float32)
        return f, (np.concatenate(logits) if logits else None)

    def features(self, x, batch_size: int | None = None) -> np.ndarray:
        return self.run(x, batch_size)[0]

    def logits(self, x, batch_size: int | None = None) -> np.ndarray:
        if not self.has_logits:
            raise ConfigError(f"the {self.name} extractor has no class logits: the Inception Score needs "
                              "--features classifier (labelled data) or --features inception")
        return self.run(x, batch_size)[1]

    def protocol(self) -> dict:
        return {"extractor": self.name, "weights_hash": self.weights_hash, "resize": self.resize, "feature_dim": self.dim}


# A factory builds an extractor for data described by ``info``; ``train`` is a labelled training
# Source (the classifier's), ``weights`` a weights file (inception's).
EXTRACTORS: Registry[Callable[..., Extractor]] = Registry("feature extractor")


def build(name: str, info, train=None, weights: str | Path | None = None) -> Extractor:
    return EXTRACTORS.get(name)(info, train=train, weights=weights)


def auto_name(info) -> str:
    """toys → pixels (the points themselves); labelled images → classifier; other images → pixels."""
    return "classifier" if info.kind == "image" and (info.num_classes or 0) >= 2 else "pixels"


# ---------------------------------------------------------------------------------- pixels

class Pixels(Extractor):
    """Images: pixels in [-1, 1], shrunk to at most 32x32 (antialiased bilinear), flattened and,
    above 2048 values, multiplied by a fixed Gaussian matrix (seed 0, scaled by 1/√2048, so
    distances are kept on average: Johnson-Lindenstrauss). Points: the points themselves."""

    name = "pixels"

    def __init__(self, shape: tuple[int, ...]):
        super().__init__()
        self.shape = tuple(shape)
        self.side = None
        self.proj = None
        if len(self.shape) == 1:  # 2-D toys
            self.dim, self.resize = self.shape[0], "none (points in data coordinates)"
            self.weights_hash = tensor_hash([torch.tensor(self.shape)])
            return
        c, h, w = self.shape
        if max(h, w) > PIXELS_MAX_SIDE:
            s = PIXELS_MAX_SIDE / max(h, w)
            self.side = (max(1, round(h * s)), max(1, round(w * s)))
        hh, ww = self.side or (h, w)
        d = c * hh * ww
        self.resize = f"bilinear, antialiased, to {hh}x{ww}" if self.side else "none"
        if d > PIXELS_DIM:
            gen = torch.Generator().manual_seed(PIXELS_SEED)
            self.proj = torch.randn(d, PIXELS_DIM, generator=gen) / PIXELS_DIM ** 0.5
            self.resize += f"; random projection {d} → {PIXELS_DIM}"
        self.dim = PIXELS_DIM if self.proj is not None else d
        self.weights_hash = tensor_hash([torch.tensor(self.shape)] + ([self.proj] if self.proj is not None else []))

    def _batch(self, x):
        x = to_float(x).to(self.device)
        if x.ndim == 2:
            return x, None
        if self.side:
            x = F.interpolate(x, size=self.side, mode="bilinear", antialias=True, align_corners=False)
        x = x.flatten(1)
        if self.proj is not None:
            self.proj = self.proj.to(self.device)
            x = x @ self.proj
        return x, None


@EXTRACTORS.register("pixels")
def _pixels(info, train=None, weights=None) -> Extractor:
    if weights is not None:
        raise ConfigError("--features.weights: the pixels extractor has no weights")
    return Pixels(tuple(info.shape))


# ------------------------------------------------------------------------------ classifier

class DomainClassifier(Extractor):
    """classifier.py's CNN, trained once per labelled dataset (seed 0, 3 epochs) and cached."""

    name = "classifier"
    has_logits = True
    batch_size = 1000
    note = "a domain classifier: not comparable to Inception FID"

    def __init__(self, model, data_key: str):
        super().__init__()
        self.model = model.eval()
        self.data_key = data_key
        self.dim = model.fc1.out_features
        self.weights_hash = tensor_hash(model.state_dict().values())
        self.resize = f"bilinear, antialiased, to {model.side}x{model.side} when the size differs (trained at it)"

    def to(self, device):
        super().to(device)
        self.model.to(self.device)
        return self

    def _batch(self, x):
        h = self.model.features(to_float(x).to(self.device))
        return h, self.model.fc2(F.relu(h))

    def protocol(self):
        return {**super().protocol(), "trained_on": self.data_key, "note": self.note}


def domain_classifier(source, train: bool = True):
    """The domain classifier of a labelled image Source (its images and labels), from the cache
    shared with ``ganforge evaluate --features classifier``; trained and cached when missing
    and ``train``, else None. Returns (model or None, the cache key of the data)."""
    from .classifier import cache_key, load_cached, load_or_train

    images, labels = source.images, np.asarray(source.labels)
    key = cache_key(images, labels, CLASSIFIER_SEED, CLASSIFIER_EPOCHS)
    where = cache_dir() / "classifiers"
    if train:
        return load_or_train(images, labels, where, CLASSIFIER_SEED, CLASSIFIER_EPOCHS, key)[0], key
    return load_cached(images, labels, where, CLASSIFIER_SEED, CLASSIFIER_EPOCHS, key), key


@EXTRACTORS.register("classifier")
def _classifier(info, train=None, weights=None) -> Extractor:
    if weights is not None:
        raise ConfigError("--features.weights: the classifier extractor trains its own weights (cached by data hash)")
    if info.kind != "image" or train is None or getattr(train, "labels", None) is None:
        raise ConfigError("--features classifier needs a labelled image dataset (its labelled training split); "
                          "use --features pixels or inception for unlabelled data")
    return DomainClassifier(*domain_classifier(train))


# ------------------------------------------------------------------------------- inception

class Inception(Extractor):
    name = "inception"
    has_logits = True
    dim = 2048
    batch_size = 50
    resize = "quantized to uint8, gray→RGB by replication, TensorFlow-1 bilinear to 299x299"

    def __init__(self, state_dict: dict, weights_hash: str, source: str):
        from .inception import FIDInceptionV3

        super().__init__()
        self.net = FIDInceptionV3()
        load_inception_state(self.net, state_dict, source)
        self.net.eval().requires_grad_(False)
        self.weights_hash = weights_hash

    def to(self, device):
        super().to(device)
        self.net.to(self.device)
        return self

    def _batch(self, x):
        x = to_uint8_values(x).to(self.device)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return self.net(x)


def load_inception_state(net: torch.nn.Module, state: dict, source: str) -> None:
    """Strict load; only BatchNorm's ``num_batches_tracked`` counters (unused in eval) may be absent."""
    if not isinstance(state, dict):
        raise GanforgeError(f"{source}: expected a state_dict (a mapping of tensors), got {type(state).__name__}")
    own = net.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in own]
    wrong = [k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        def show(keys):
            return ", ".join(keys[:3]) + (f" (+{len(keys) - 3} more)" if len(keys) > 3 else "")
        problems = [f"{label}: {show(keys)}" for label, keys in
                    (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)) if keys]
        raise GanforgeError(f"{source} is not the FID Inception state_dict ({INCEPTION_FILE}): " + "; ".join(problems))
    net.load_state_dict({**{k: v for k, v in own.items() if k.endswith("num_batches_tracked")}, **state})


def inception_weights_path(weights: str | Path | None = None, download: bool = True) -> Path:
    """``weights`` if given; else the cached file, fetched (and checked by SHA-256) when missing."""
    if weights is not None:
        p = Path(weights).expanduser()
        if not p.is_file():
            raise ConfigError(f"--features.weights {p}: no such file (expected {INCEPTION_FILE})")
        return p
    p = cache_dir() / "weights" / INCEPTION_FILE
    if p.is_file():
        return p
    reason = "downloads are off"
    if download:
        from ..data.download import fetch

        try:
            return fetch(INCEPTION_URL, p, sha256=INCEPTION_SHA256)
        except DataError as e:
            reason = str(e)
    raise GanforgeError(
        f"the FID Inception weights are not at {p} and could not be fetched ({reason}). "
        f"Download {INCEPTION_URL} (sha256 {INCEPTION_SHA256[:16]}...) on a machine with internet access "
        f"and either put it at {p} (the cache: $GANFORGE_CACHE/weights, default ~/.cache/ganforge/weights) "
        f"or pass it with --features.weights PATH (Python: evaluate(..., weights=PATH))")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


@EXTRACTORS.register("inception")
def _inception(info, train=None, weights=None) -> Extractor:
    if info.kind != "image":
        raise ConfigError("--features inception works on images, not 2-D points (use pixels)")
    path = inception_weights_path(weights)
    require_safe_torch()  # a weights file is a user's file: the same torch floor as checkpoints
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)  # tensors only: never runs code
    except Exception as e:  # torch raises several types for a bad file
        raise GanforgeError(f"{path}: not a readable torch weights file ({str(e).splitlines()[0]})") from None
    # The weights hash of the file itself: the standard file's starts with 6726825d.
    return Inception(state, file_sha256(path)[:16], str(path))
