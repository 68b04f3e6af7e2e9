"""Images to project: files, folders of files, or arrays in an .npz, fitted to a generator's
resolution and channels by the rule its training data went through, so that a photo is
compared with G's samples on the same footing.

The rule: a model trained on an image folder read its files with the folder loader (first
frame, EXIF orientation, alpha composited onto white, the centred square resampled with
Lanczos: data/pixels.py); a model trained on an array dataset (digits, MNIST, Fashion-MNIST,
CIFAR-10, STL-10) saw its images resized with the shorter side to the resolution (antialiased
bilinear) and centre-cropped (data/base.to_model_images). Either way grey ↔ RGB converts by
replication or ITU-R 601 luma.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError, DataError

MAX_PIXELS = 100_000_000  # a decompression bomb is refused, as for training folders


def image_files(inputs: list[str | Path]) -> list[Path]:
    """Files as given, and every image file below a folder (sorted), in order."""
    from ..data.folder import IMAGE_EXTENSIONS

    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_EXTENSIONS
                           and not any(part.startswith(".") for part in f.relative_to(p).parts))
            if not found:
                raise DataError(f"{p}: a folder with no image files")
            out += found
        elif p.is_file():
            out.append(p)
        else:
            raise ConfigError(f"{p}: no such image file or folder")
    return out


def load_targets(g, inputs: list[str | Path], invert: bool = False,
                 max_pixels: int = MAX_PIXELS) -> tuple[torch.Tensor, list[str]]:
    """(images (N, C, R, R) float in [-1, 1] fitted to ``g``, a name per image).

    ``inputs``: image files, folders of them, or .npz files holding ``images`` uint8
    (N, H, W, C) or (N, H, W) (what ``ganforge sample --out X.npz`` and ``project`` write).
    ``invert``: 255 − pixel after fitting, for a digit drawn dark on light (MNIST's are light on dark).
    A picture of more than ``max_pixels`` is refused before it is decoded."""
    if g.info.kind != "image":
        raise ConfigError("project: this generator makes 2-D points; projection needs an image generator")
    chunks, names = [], []
    for item in inputs:
        p = Path(item)
        if p.suffix == ".npz" and p.is_file():
            arr = _npz_images(p)
            chunks.append(fit_array(g, arr))
            names += [f"{p.stem}[{i}]" for i in range(len(arr))]
            continue
        for f in image_files([p]):
            chunks.append(fit_file(g, f, max_pixels)[None])
            names.append(f.name)
    if not chunks:
        raise ConfigError("project: no images given")
    x = torch.from_numpy(np.concatenate(chunks)).float() / 127.5 - 1
    return (-x if invert else x), names


def fit_array(g, images: np.ndarray) -> np.ndarray:
    """uint8 (N, H, W, C) → uint8 (N, C, R, R) by the array datasets' rule."""
    from ..data.base import RawImages, to_model_images

    c, r = g.info.shape[0], g.info.shape[1]
    return to_model_images(RawImages(np.ascontiguousarray(images)), r, c).numpy()


def fit_file(g, path: Path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """One image file → uint8 (C, R, R) by the rule g's training data went through."""
    from ..data import pixels

    c, r = g.info.shape[0], g.info.shape[1]
    if g.cfg.data.name == "folder":
        arr, reason, detail = pixels.decode_file(str(path), r, c, max_pixels)
        if arr is None:
            raise DataError(f"{path}: {reason} ({detail})")
        return arr
    from PIL import Image, ImageOps

    try:
        with Image.open(path) as im:
            if im.width * im.height > max_pixels:
                raise DataError(f"{path}: too large: > {max_pixels} pixels ({im.width}x{im.height})")
            im = pixels.flatten(ImageOps.exif_transpose(im)).convert("L" if c == 1 else "RGB")
            a = np.array(im, dtype=np.uint8)  # a writable copy: torch.from_numpy refuses read-only arrays
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: not a readable image ({e})") from None
    return fit_array(g, a[None, ..., None] if a.ndim == 2 else a[None])[0]


def _npz_images(p: Path) -> np.ndarray:
    try:
        with np.load(p) as f:
            if "images" not in f:
                raise ConfigError(f"{p}: holds no array 'images' (found {', '.join(f.files) or 'nothing'})")
            a = np.asarray(f["images"])
    except (OSError, ValueError) as e:
        raise ConfigError(f"{p}: not a readable .npz file ({e})") from None
    if a.dtype != np.uint8 or a.ndim not in (3, 4) or (a.ndim == 4 and a.shape[-1] not in (1, 3)):
        raise ConfigError(f"{p}: 'images' must be uint8 (N, H, W) or (N, H, W, C) with C 1 or 3, "
                          f"got {a.dtype} {a.shape}")
    return a[..., None] if a.ndim == 3 else a
