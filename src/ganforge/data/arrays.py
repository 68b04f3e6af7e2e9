"""Readers for the well-known image datasets: their official distribution formats
(MNIST IDX, CIFAR-10 python pickles, STL-10 binaries), a compact ``.npz`` layout, and a
verified download when neither is on disk.

Everything read here comes from files a user downloaded from somewhere, so every reader
checks structure, sizes and label ranges and reports a DataError that names the file,
and the CIFAR-10 pickles are read with an unpickler that can only rebuild numpy arrays
(pickles.py).
"""
from __future__ import annotations

import gzip
import math
import struct
import zlib
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import ConfigError, DataError
from .base import RawImages
from .download import fetch, file_md5, safe_extract
from .pickles import str_keys, unpickle_arrays

OFFICIAL = ("mnist", "fashion-mnist", "cifar10", "stl10")
SPLITS = {
    "mnist": ("train", "test"),
    "fashion-mnist": ("train", "test"),
    "cifar10": ("train", "test"),
    "stl10": ("train", "test", "unlabeled", "train+unlabeled"),
}
_ALIASES = {"fashion_mnist": "fashion-mnist", "fashionmnist": "fashion-mnist", "cifar-10": "cifar10", "stl-10": "stl10"}

MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
STL10_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]

# Folders (relative to root) searched for the official files, in order; the first is where a
# download goes. "MNIST/raw" etc. and "." (for CIFAR/STL) are where torchvision puts them.
OFFICIAL_DIRS = {
    "mnist": ("mnist", "MNIST/raw"),
    "fashion-mnist": ("fashion-mnist", "fashion_mnist", "FashionMNIST/raw"),
    "cifar10": ("cifar10", "."),
    "stl10": ("stl10", "."),
}
# The .npz layout: <dir>/<stem>.npz holding both splits, or <stem>_train.npz / <stem>_test.npz.
NPZ_DIRS = {"mnist": ("mnist",), "fashion-mnist": ("fashion_mnist", "fashion-mnist"), "cifar10": ("cifar10",), "stl10": ("stl10",)}
_NPZ_STEM = {"mnist": "mnist", "fashion-mnist": "fashion_mnist", "cifar10": "cifar10", "stl10": "stl10"}
_IMAGE_SHAPE = {"mnist": (28, 28, 1), "fashion-mnist": (28, 28, 1), "cifar10": (32, 32, 3), "stl10": (96, 96, 3)}

_MNIST_URL = "https://ossci-datasets.s3.amazonaws.com/mnist/"
_FASHION_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# (url, md5) per dataset; md5s are the published ones (as in torchvision's resource lists).
DOWNLOADS: dict[str, list[tuple[str, str]]] = {
    "mnist": [
        (_MNIST_URL + "train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        (_MNIST_URL + "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        (_MNIST_URL + "t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        (_MNIST_URL + "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ],
    "fashion-mnist": [
        (_FASHION_URL + "train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        (_FASHION_URL + "train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        (_FASHION_URL + "t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        (_FASHION_URL + "t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ],
    "cifar10": [("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz", "c58f30108f718f92721af3b95e74349a")],
    "stl10": [("http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz", "91f7769df0f17e558f3565bffb0c7dfb")],
}


def load_official(name: str, root: Path, split: str = "train", download: bool = True) -> RawImages:
    """One split of a well-known dataset, found under ``root`` (or downloaded there).

    Order: the official files in ``root/<dir>/``, then the ``.npz`` layout, then (with
    ``download``) the official files fetched into ``root/<name>/``.
    """
    name = _ALIASES.get(name.lower(), name.lower())
    if name not in OFFICIAL:
        raise ConfigError(f"unknown dataset {name!r}: expected one of {', '.join(OFFICIAL)}")
    if split not in SPLITS[name]:
        raise ConfigError(f"{name} has no split {split!r}: expected one of {', '.join(SPLITS[name])} (--data.split)")
    root = Path(root).expanduser()
    reader = _READERS[name]
    for d in OFFICIAL_DIRS[name]:
        raw = reader(name, root / d, split)
        if raw is not None:
            return raw
    raw = _load_npz(name, root, split)
    if raw is not None:
        return raw
    if not download:
        raise _not_found(name, root, split, "download is off")
    target = root / OFFICIAL_DIRS[name][0]
    try:
        _download(name, target)
    except DataError as e:
        raise _not_found(name, root, split, f"the download failed: {e}") from e
    raw = reader(name, target, split)
    if raw is None:  # only if the server's files changed layout behind unchanged checksums
        raise DataError(f"{target}: downloaded {name}, but found no {split} split in it")
    return raw


# ---------------------------------------------------------------------------------- MNIST IDX

def _load_idx(name: str, d: Path, split: str) -> RawImages | None:
    prefix = "train" if split == "train" else "t10k"
    stems = (f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte")
    found = [next((p for p in (d / (s + ".gz"), d / s) if p.is_file()), None) for s in stems]
    if found == [None, None]:
        return None
    if None in found:  # half a split is a user mistake worth naming, not "dataset missing"
        have, missing = (found[0], stems[1]) if found[0] else (found[1], stems[0])
        raise DataError(f"{d}: found {have.name} but not {missing}.gz (or {missing}); {name} needs both for the {split} split")
    img_path, lab_path = found
    x = _read_idx(img_path, 2051, 3)
    y = _read_idx(lab_path, 2049, 1)
    if x.shape[1:] != (28, 28):
        raise DataError(f"{img_path}: images must be 28x28, the header says {x.shape[1]}x{x.shape[2]}")
    if len(y) != len(x):
        raise DataError(f"{lab_path}: {len(y)} labels for {len(x)} images in {img_path.name}")
    _check_labels(y, lab_path)
    classes = MNIST_CLASSES if name == "mnist" else FASHION_CLASSES
    return RawImages(x[..., None], y.astype(np.int64), list(classes), source=str(img_path))


def _read_idx(path: Path, magic: int, ndim: int) -> np.ndarray:
    """An IDX file of uint8 data: big-endian magic, ``ndim`` uint32 sizes, then the payload."""
    kind = "image" if magic == 2051 else "label"
    try:
        data = path.read_bytes()
        if data[:2] == b"\x1f\x8b":  # by content, not name: IDX data itself starts with 00 00
            data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path}: not a readable gzip file ({e}); delete it and download it again") from e
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{path}: {len(data)} bytes is too short for an IDX {kind} file header ({header} bytes)")
    found = int.from_bytes(data[:4], "big")
    if found != magic:
        raise DataError(f"{path}: not an IDX {kind} file: magic number {found}, expected {magic}")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    if len(data) - header != math.prod(dims):
        raise DataError(f"{path}: the header promises {'x'.join(map(str, dims))} = {math.prod(dims)} bytes of data "
                        f"but the file holds {len(data) - header}: truncated or corrupt")
    # copy: an array over immutable bytes is read-only, and torch warns on those
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims).copy()


# ---------------------------------------------------------------------------------- CIFAR-10

def _load_cifar(name: str, base: Path, split: str) -> RawImages | None:
    d, archive = base / "cifar-10-batches-py", base / "cifar-10-python.tar.gz"
    if not d.is_dir() and archive.is_file():
        safe_extract(archive, base)
        if not d.is_dir():
            raise DataError(f"{archive}: expected it to unpack into {d.name}/, it did not; is it the CIFAR-10 python version?")
    if not d.is_dir():
        return None
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    missing = [n for n in names if not (d / n).is_file()]
    if missing:
        raise DataError(f"{d}: missing {', '.join(missing)}; the CIFAR-10 {split} split needs {', '.join(names)}")
    xs, ys = zip(*(_cifar_batch(d / n) for n in names))
    meta = d / "batches.meta"
    classes = _cifar_meta(meta) if meta.is_file() else list(CIFAR10_CLASSES)
    return RawImages(np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys), classes, source=str(d))


def _cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    obj = str_keys(unpickle_arrays(path, "CIFAR-10 batch"), path, "CIFAR-10 batch")
    data, labels = obj.get("data"), obj.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = f"{data.dtype} array {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' must be a uint8 array of shape (N, 3072), got {got}")
    y = np.asarray(labels)
    if y.shape != (len(data),) or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: 'labels' must be {len(data)} integers (one per row of 'data'), got {y.dtype} {y.shape}")
    _check_labels(y, path)
    # Each row is 1024 red, 1024 green, then 1024 blue values, each a row-major 32x32 plane.
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), y.astype(np.int64)


def _cifar_meta(path: Path) -> list[str]:
    names = str_keys(unpickle_arrays(path, "CIFAR-10 batches.meta"), path, "CIFAR-10 batches.meta").get("label_names")
    if not isinstance(names, list) or len(names) != 10 or not all(isinstance(n, (str, bytes)) for n in names):
        raise DataError(f"{path}: 'label_names' must be a list of 10 class names")
    return [n.decode("latin1") if isinstance(n, bytes) else n for n in names]


# ---------------------------------------------------------------------------------- STL-10

_STL_IMAGE_BYTES = 3 * 96 * 96


def _load_stl(name: str, base: Path, split: str) -> RawImages | None:
    d, archive = base / "stl10_binary", base / "stl10_binary.tar.gz"
    if not d.is_dir() and archive.is_file():
        safe_extract(archive, base)
        if not d.is_dir():
            raise DataError(f"{archive}: expected it to unpack into {d.name}/, it did not; is it the STL-10 binary version?")
    if not d.is_dir():
        return None
    parts = split.split("+")  # "train+unlabeled" -> both
    xs = [_stl_images(d / f"{p}_X.bin") for p in parts]
    labels = None
    if split in ("train", "test"):
        labels = _stl_labels(d / f"{split}_y.bin", len(xs[0]))
    names_file = d / "class_names.txt"
    classes = list(STL10_CLASSES)
    if names_file.is_file():
        classes = [line.strip() for line in names_file.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        if len(classes) != 10:
            raise DataError(f"{names_file}: expected 10 class names, one per line, found {len(classes)}")
    images = xs[0] if len(xs) == 1 else np.concatenate(xs)
    return RawImages(images, labels, classes, source=str(d))


def _stl_images(path: Path) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: missing; the STL-10 folder {path.parent} has no {path.name}")
    size = path.stat().st_size
    if size == 0 or size % _STL_IMAGE_BYTES:
        raise DataError(f"{path}: {size} bytes is not a whole number of STL-10 images (3*96*96 = {_STL_IMAGE_BYTES} bytes each)")
    # Memory-mapped (copy-on-write, so writable and never written back): the unlabeled
    # split is 2.7 GB. Each image is column-major 96x96x3 (MATLAB order), so the row-major
    # view indexes (c, w, h); NHWC needs axes (n, h, w, c) = (0, 3, 2, 1).
    x = np.memmap(path, dtype=np.uint8, mode="c", shape=(size // _STL_IMAGE_BYTES, 3, 96, 96))
    return x.transpose(0, 3, 2, 1)


def _stl_labels(path: Path, n: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: missing; STL-10 labels are needed for a labelled split")
    y = np.fromfile(path, dtype=np.uint8)
    if len(y) != n:
        raise DataError(f"{path}: {len(y)} labels for {n} images in {path.name.replace('_y', '_X')}")
    if n and (y.min() < 1 or y.max() > 10):
        raise DataError(f"{path}: STL-10 labels must be 1..10, found {int(y.min())}..{int(y.max())}")
    return y.astype(np.int64) - 1


_READERS: dict[str, Callable[[str, Path, str], RawImages | None]] = {
    "mnist": _load_idx, "fashion-mnist": _load_idx, "cifar10": _load_cifar, "stl10": _load_stl,
}


# ---------------------------------------------------------------------------------- .npz layout

def _npz_candidates(name: str, root: Path) -> list[Path]:
    stem = _NPZ_STEM[name]
    return [root / d / f"{stem}{suffix}.npz" for d in NPZ_DIRS[name] for suffix in ("", "_train", "_test")]


def _load_npz(name: str, root: Path, split: str) -> RawImages | None:
    files = [p for p in _npz_candidates(name, root) if p.is_file()]
    if not files:
        return None
    if split not in ("train", "test"):
        raise DataError(f"{files[0]}: the .npz layout holds only train and test splits, not {split!r}; "
                        f"use the official {name} files for it")
    have: dict[Path, list[str]] = {}
    for path in files:
        z = _open_npz(path)
        with z:
            if f"x_{split}" in z.files:
                return _npz_split(name, path, z, split)
            have[path] = [s for s in ("train", "test") if f"x_{s}" in z.files] or [f"none (keys: {', '.join(z.files)})"]
    listing = "; ".join(f"{p} has splits: {', '.join(s)}" for p, s in have.items())
    other = next((s[0] for s in have.values() if s[0] in ("train", "test")), None)
    hint = f"; use `--data.split {other}`" if other else "; expected keys x_train, y_train and/or x_test, y_test"
    raise DataError(f"no {split} split for {name} in the .npz layout (no key x_{split}): {listing}{hint}")


def _open_npz(path: Path):
    try:
        z = np.load(path, allow_pickle=False)  # never pickle: an .npz from elsewhere must not run code
    except Exception as e:  # a corrupt or foreign file; np.load raises many types for those
        raise DataError(f"{path}: not a readable .npz file ({type(e).__name__}: {e})") from e
    if not hasattr(z, "files"):
        raise DataError(f"{path}: holds a single array, expected an .npz archive with keys x_train, y_train, x_test, y_test")
    return z


def _npz_get(z, path: Path, key: str) -> np.ndarray:
    if key not in z.files:
        raise DataError(f"{path}: missing key {key!r} (has: {', '.join(z.files)})")
    try:
        return z[key]
    except Exception as e:  # object arrays (refused without pickle) or a corrupt member
        raise DataError(f"{path}: cannot read key {key!r} ({type(e).__name__}: {e}); "
                        "expected a plain numeric or fixed-width string array") from e


def _npz_split(name: str, path: Path, z, split: str) -> RawImages:
    h, w, c = _IMAGE_SHAPE[name]
    want = f"(N, {h}, {w})" if c == 1 else f"(N, {h}, {w}, {c})"
    x = _npz_get(z, path, f"x_{split}")
    if x.dtype != np.uint8:
        raise DataError(f"{path}: key 'x_{split}' must be uint8 {want}, got dtype {x.dtype}")
    if c == 1 and x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (h, w, c) or len(x) == 0:
        raise DataError(f"{path}: key 'x_{split}' must have shape {want} with N > 0, got {x.shape}")
    y = _npz_get(z, path, f"y_{split}")
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise DataError(f"{path}: key 'y_{split}' must be a 1-D integer array, got {y.dtype} {y.shape}")
    if len(y) != len(x):
        raise DataError(f"{path}: key 'y_{split}' has {len(y)} labels for {len(x)} images in 'x_{split}'")
    _check_labels(y, path, f"key 'y_{split}'")
    classes = _DEFAULT_CLASSES[name]
    if "class_names" in z.files:
        names = _npz_get(z, path, "class_names")
        if names.shape != (10,) or names.dtype.kind not in "US":
            raise DataError(f"{path}: key 'class_names' must be 10 strings, got {names.dtype} {names.shape}")
        classes = [n.decode() if isinstance(n, bytes) else str(n) for n in names.tolist()]
    return RawImages(x, y.astype(np.int64), list(classes), source=str(path))


_DEFAULT_CLASSES = {"mnist": MNIST_CLASSES, "fashion-mnist": FASHION_CLASSES, "cifar10": CIFAR10_CLASSES, "stl10": STL10_CLASSES}


# ---------------------------------------------------------------------------------- shared

def _check_labels(y: np.ndarray, path: Path, what: str = "labels", num_classes: int = 10) -> None:
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise DataError(f"{path}: {what} must be in 0..{num_classes - 1}, found {int(y.min())}..{int(y.max())}")


def _download(name: str, target: Path) -> None:
    for url, md5 in DOWNLOADS[name]:
        dest = target / url.rsplit("/", 1)[-1]
        if not (dest.is_file() and file_md5(dest) == md5):  # resume a partly finished download
            fetch(url, dest, md5=md5)
        if dest.name.endswith(".tar.gz"):
            safe_extract(dest, target)
            dest.unlink()  # the extracted folder is what is read; keeping both doubles the disk use


def _looked_for(name: str, root: Path, split: str) -> list[Path]:
    paths: list[Path] = []
    for d in OFFICIAL_DIRS[name]:
        base = root / d
        if name in ("mnist", "fashion-mnist"):
            prefix = "train" if split == "train" else "t10k"
            paths += [base / f"{prefix}-images-idx3-ubyte.gz", base / f"{prefix}-labels-idx1-ubyte.gz"]
        elif name == "cifar10":
            paths += [base / "cifar-10-batches-py", base / "cifar-10-python.tar.gz"]
        else:
            paths += [base / "stl10_binary", base / "stl10_binary.tar.gz"]
    return paths + _npz_candidates(name, root)


def _not_found(name: str, root: Path, split: str, why: str) -> DataError:
    lines = [f"{name} ({split} split) was not found under {root} ({why}).", "Looked for:"]
    lines += [f"  {p}" for p in _looked_for(name, root, split)]
    lines += ["Official files:"] + [f"  {url}" for url, _ in DOWNLOADS[name]]
    lines += [
        "To proceed, do one of:",
        f"  - download those files into {root / OFFICIAL_DIRS[name][0]}"
        + (" (gzipped or not);" if name in ("mnist", "fashion-mnist") else " (packed or unpacked);"),
        "  - set --data.root or the GANFORGE_DATA environment variable to a folder that holds them;",
        f"  - point it at a folder with the .npz layout, e.g. {_npz_candidates(name, root)[0].relative_to(root)} "
        "with keys x_train, y_train, x_test, y_test.",
    ]
    return DataError("\n".join(lines))
