"""A folder of image files → uint8 NCHW images (memory-mapped), decoded once and cached.

Layout. If any sub-folder of the root holds images (at any depth), every such sub-folder
is a class: classes are the sub-folders sorted by name, and every image below a class
folder (nested too) gets that class's label. Image files directly in the root are then
skipped with the reason "outside class folders" (a stray file must not silently join a
class). If no sub-folder holds images, the root's images are unlabelled (labels None).
With ``labels="none"`` every image below the root, at any depth, is one unlabelled set:
LSUN-style exports spread one class over hashed sub-folders (a/b/c/x.webp) that are not
classes.

Formats. Every file extension Pillow registers a decoder for (JPEG, PNG, WebP, TIFF, BMP,
GIF, TGA, PPM, ICO, JPEG 2000, AVIF where the installed Pillow has it, ...: see
IMAGE_EXTENSIONS) is read; other files are recorded as "not an image".
Names starting with "." (.DS_Store, .ipynb_checkpoints, macOS "._x.jpg" resource forks)
are hidden: never a class, never an image, recorded under skipped["hidden"].

Pixels. Each image takes its first frame, EXIF orientation applied, is flattened to
8-bit L or RGB (alpha, palette transparency included, is composited onto white, not
dropped: pixels under full transparency are often garbage; 16-bit 'I;16'/'I' is scaled
0..65535 → 0..255; 'F' is read as 0..1 if it fits there, else clipped to 0..255), then
converted to ``channels`` (gray → RGB by replication, RGB → gray by ITU-R 601 luma).
The centred square of side min(w, h) is resampled to resolution x resolution with
Lanczos: the same as "shorter side to resolution, then centre-crop", without the
rounding of an integer crop.

Bad files never stop a load: each is skipped with a reason, and one summary warning
names the counts. Only a folder where nothing at all can be used raises DataError.
"""
from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing as mp
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .. import runs
from ..errors import ConfigError, DataError
from . import pixels


def _decodable_extensions() -> tuple[str, ...]:
    """Every extension whose Pillow format can be opened (some, like PDF, are write-only)."""
    Image.init()  # registers every plugin, not only the few Pillow imports eagerly
    return tuple(sorted(ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN))


IMAGE_EXTENSIONS = _decodable_extensions()
LABELS = ("auto", "none")
_FORMAT = 2  # bump when decoding changes, so old caches are not reused
_SERIAL_BELOW = 64  # fewer files than this: a process pool costs more than it saves
# Skip reasons that are expected housekeeping, not damage: recorded, but no warning.
_QUIET = ("not an image", "hidden", "folder already visited (symlink)")


@dataclass
class FolderImages:
    images: np.ndarray  # uint8 (N, C, R, R), np.memmap onto the cache file
    labels: np.ndarray | None  # int64 (N,); None when the folder has no class sub-folders
    class_names: list[str] | None
    skipped: dict[str, list[str]]  # reason -> paths of files that were skipped


def load_folder(
    path: str | Path,
    resolution: int,
    channels: int,
    cache_dir: Path,
    max_pixels: int = 100_000_000,
    workers: int | None = None,
    labels: str = "auto",
) -> FolderImages:
    """Load every image below ``path`` (see the module docstring for layout and pixels).

    The result is cached in ``cache_dir`` under a key made of the resolved folder path,
    every file's (relative path, size, mtime_ns), resolution, channels, max_pixels and
    the format version: any added, removed, touched or renamed file decodes afresh.
    Files with more than ``max_pixels`` pixels are skipped from their header, before any
    decoding. ``workers`` processes decode in parallel (default min(4, CPUs); serial for
    fewer than 64 files or workers <= 1). ``labels``: "auto" (class sub-folders) or "none".
    """
    if not isinstance(resolution, int) or resolution < 1:
        raise ConfigError(f"resolution must be a positive integer, got {resolution!r}")
    if channels not in (1, 3):
        raise ConfigError(f"channels must be 1 or 3, got {channels!r}")
    if labels not in LABELS:
        raise ConfigError(f"data.labels = {labels!r}: must be one of {', '.join(LABELS)}")
    if max_pixels < 1:
        raise ConfigError(f"max_pixels must be positive, got {max_pixels!r}")
    where = str(path)
    root = Path(path).expanduser()
    if not root.exists():
        raise DataError(f"{where}: no such folder; expected a folder of images")
    if not root.is_dir():
        raise DataError(f"{where}: is a file, not a folder; expected a folder of images (class sub-folders optional)")
    root = root.resolve()

    files, skipped = _scan(root, where)
    if not files:
        raise DataError(
            f"{where}: holds no images with extensions Pillow can decode (.jpg, .jpeg, .png, .webp, .tif, .bmp, .gif "
            f"and {len(IMAGE_EXTENSIONS) - 7} more: ganforge.data.folder.IMAGE_EXTENSIONS); "
            "expected image files directly in it or in class sub-folders"
        )
    h = hashlib.sha256(json.dumps([_FORMAT, str(root), resolution, channels, max_pixels, labels, skipped]).encode())
    for rel, size, mtime_ns in files:  # streamed: millions of files need no giant string
        h.update(f"{rel}\0{size}\0{mtime_ns}\n".encode())
    key = h.hexdigest()[:24]
    cache_dir = Path(cache_dir)
    npy, meta = cache_dir / f"folder-{key}.npy", cache_dir / f"folder-{key}.json"

    result = _read_cache(npy, meta, (channels, resolution, resolution))
    if result is None:
        try:
            cache_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DataError(f"{cache_dir}: cannot create the cache folder ({e}); expected a writable folder") from e
        result = _decode_all(root, where, files, skipped, resolution, channels, max_pixels, workers, npy, meta, labels)
    _warn_skipped(where, len(result.images), result.skipped, meta)
    return result


def _scan(root: Path, where: str) -> tuple[list[tuple[str, int, int]], dict[str, list[str]]]:
    """Image files below ``root`` as sorted (relative posix path, size, mtime_ns), and skips.

    Symlinks are followed; each real folder is walked once, so a link to an ancestor
    (a loop) or a second link to the same folder adds nothing and cannot hang.
    """
    files: list[tuple[str, int, int]] = []
    skipped: dict[str, list[str]] = {}
    visited = {os.path.realpath(root)}
    stack = [""]  # relative folders still to list; "/"-joined on every OS, for stable keys
    while stack:
        rel = stack.pop()
        try:
            with os.scandir(root / rel) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as e:
            if not rel:
                raise DataError(f"{where}: cannot list the folder ({e}); expected a readable folder") from e
            _add(skipped, "unreadable folder", root / rel)
            continue
        subdirs = []
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            is_image = os.path.splitext(e.name)[1].lower() in IMAGE_EXTENSIONS
            if e.name.startswith("."):
                _add(skipped, "hidden", root / r)
                continue
            try:
                st = os.stat(e.path)  # follows symlinks
            except OSError:  # broken symlink, or no permission on the entry
                _add(skipped, "unreadable" if is_image else "not an image", root / r)
                continue
            if stat.S_ISDIR(st.st_mode):
                real = os.path.realpath(e.path)
                if real in visited:
                    _add(skipped, "folder already visited (symlink)", root / r)
                else:
                    visited.add(real)
                    subdirs.append(r)
            elif not is_image:
                _add(skipped, "not an image", root / r)
            elif not stat.S_ISREG(st.st_mode):  # a FIFO named x.png would block open() forever
                _add(skipped, "not a regular file", root / r)
            else:
                files.append((r, st.st_size, st.st_mtime_ns))
        stack.extend(reversed(subdirs))  # depth-first, in name order
    files.sort()
    return files, skipped


def _decode_all(
    root: Path,
    where: str,
    files: list[tuple[str, int, int]],
    skipped: dict[str, list[str]],
    resolution: int,
    channels: int,
    max_pixels: int,
    workers: int | None,
    npy: Path,
    meta: Path,
    labels_mode: str = "auto",
) -> FolderImages:
    """Decode ``files`` into a new cache entry (npy, then json) and return it."""
    skipped = {k: list(v) for k, v in skipped.items()}
    rels, class_names = _class_folders(root, [r for r, _, _ in files], skipped, labels_mode)
    n, shape = len(rels), (channels, resolution, resolution)
    tmp = npy.with_name(f".{npy.name}.{os.getpid()}.tmp")
    tmp2 = npy.with_name(f".{npy.name}.{os.getpid()}.tmp2")
    try:
        # Results stream straight to disk: memory stays bounded however large the folder.
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(n, *shape))
        decode = functools.partial(pixels.decode_file, resolution=resolution, channels=channels, max_pixels=max_pixels)
        ok, labels, first_error = _decode_into(out, root, rels, decode, workers, skipped, class_names)
        if ok == 0:
            raise DataError(f"none of the {n} image files in {where} could be read; first error: {first_error}")
        if ok < n:
            _shrink(out, ok, tmp, tmp2)
        out.flush()
        del out
        os.replace(tmp, npy)
        # The json goes last and marks the entry complete: a crash before this line
        # leaves an npy without json, which _read_cache ignores and the next run replaces.
        info = {"format": _FORMAT, "count": ok, "labels": labels if class_names else None,
                "class_names": class_names, "skipped": skipped}
        runs.write_json(meta, info)
    finally:
        for t in (tmp, tmp2):
            t.unlink(missing_ok=True)
    return FolderImages(
        images=np.load(npy, mmap_mode="r"),
        labels=np.asarray(labels, dtype=np.int64) if class_names else None,
        class_names=class_names,
        skipped=skipped,
    )


def _class_folders(root: Path, rels: list[str], skipped: dict[str, list[str]],
                   labels_mode: str) -> tuple[list[str], list[str] | None]:
    """(the files to decode, the class names or None): with class sub-folders, files directly
    in the root are skipped as "outside class folders" (see the module docstring)."""
    class_names = None if labels_mode == "none" else sorted({r.split("/", 1)[0] for r in rels if "/" in r}) or None
    if not class_names:
        return rels, None
    for r in rels:
        if "/" not in r:
            _add(skipped, "outside class folders", root / r)
    return [r for r in rels if "/" in r], class_names


def _decode_into(out: np.ndarray, root: Path, rels: list[str], decode, workers: int | None,
                 skipped: dict[str, list[str]], class_names: list[str] | None) -> tuple[int, list[int], str]:
    """Decode each file into the next free row of ``out``; a file that fails is skipped with
    its reason. Returns (rows written, their labels, the first error's text)."""
    index = {c: i for i, c in enumerate(class_names or [])}
    ok, labels, first_error = 0, [], ""
    paths = [str(root / r) for r in rels]
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    with tqdm(total=len(rels), desc=f"decoding {root.name}", unit="img", disable=None) as bar:
        for r, (arr, reason, detail) in zip(rels, _map(decode, paths, workers)):
            bar.update()
            if arr is None:
                _add(skipped, reason, root / r)
                first_error = first_error or f"{root / r}: {reason} ({detail})"
                continue
            out[ok] = arr
            ok += 1
            if class_names:
                labels.append(index[r.split("/", 1)[0]])
    return ok, labels, first_error


def _shrink(out: np.ndarray, ok: int, tmp: Path, tmp2: Path) -> None:
    """Replace the file at ``tmp`` by its first ``ok`` rows; a chunked copy keeps memory bounded."""
    small = np.lib.format.open_memmap(tmp2, mode="w+", dtype=np.uint8, shape=(ok, *out.shape[1:]))
    for i in range(0, ok, 4096):
        j = min(i + 4096, ok)
        small[i:j] = out[i:j]
    small.flush()
    del small
    os.replace(tmp2, tmp)


def _map(decode, paths: list[str], workers: int):
    """Yield decode(path) for each path, in order; in a process pool when worth it."""
    if workers <= 1 or len(paths) < _SERIAL_BELOW:
        yield from map(decode, paths)
        return
    # The platform's default start method (fork on Linux before Python 3.14): forkserver
    # and spawn re-import the caller's __main__, which breaks any script that lacks an
    # `if __name__ == "__main__":` guard. Forked children run only Pillow and numpy.
    chunk = max(1, min(64, len(paths) // (workers * 8)))
    with mp.get_context().Pool(workers) as pool:
        yield from pool.imap(decode, paths, chunksize=chunk)


def _read_cache(npy: Path, meta: Path, shape: tuple[int, int, int]) -> FolderImages | None:
    """The cached entry, or None if it is absent, incomplete or does not match."""
    try:
        info = json.loads(meta.read_text())
        if info["format"] != _FORMAT:
            return None
        images = np.load(npy, mmap_mode="r")
        if images.dtype != np.uint8 or images.shape != (info["count"], *shape):
            return None
        labels = info["labels"]
        return FolderImages(
            images=images,
            labels=None if labels is None else np.asarray(labels, dtype=np.int64),
            class_names=info["class_names"],
            skipped={k: list(v) for k, v in info["skipped"].items()},
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None  # a missing json means no cache; a damaged pair is rebuilt


def _warn_skipped(where: str, n_loaded: int, skipped: dict[str, list[str]], meta: Path) -> None:
    """One summary warning for the skips that mean damage, not housekeeping."""
    loud = {k: v for k, v in sorted(skipped.items()) if k not in _QUIET and v}
    if not loud:
        return
    n = sum(len(v) for k, v in loud.items() if k != "unreadable folder")  # a folder is not a file
    details = ", ".join(f"{len(v)} {k} [{_names(v)}]" for k, v in loud.items())
    warnings.warn(
        f"{where}: skipped {n} of {n + n_loaded} image files ({details}); every file and its reason: 'skipped' in {meta}",
        stacklevel=3,
    )


def _names(paths: list[str], first: int = 3) -> str:
    """The first few file names, so the user can find them: 'a.jpg, b.png and 4 more'."""
    shown = ", ".join(Path(p).name for p in paths[:first])
    return shown + (f" and {len(paths) - first} more" if len(paths) > first else "")


def _add(skipped: dict[str, list[str]], reason: str, path: Path) -> None:
    skipped.setdefault(reason, []).append(str(path))
