"""Download a file into a cache, verified by checksum, and unpack archives safely.

A download streams into a temporary file next to its destination and is moved into
place only once its checksum matches, so an interrupted or corrupted transfer never
leaves a file that a later run would mistake for good data.
"""
from __future__ import annotations

import hashlib
import http.client
import os
import shutil
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path, PurePosixPath

from ..errors import DataError

_CHUNK = 1 << 20


def fetch(url: str, dest: Path, md5: str | None = None, sha256: str | None = None, timeout: float = 30) -> Path:
    """Download ``url`` to ``dest`` (atomically) and check its md5 and/or sha256; returns ``dest``."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h_md5, h_sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    try:
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
                total = resp.headers.get("Content-Length")
                bar = _progress(int(total) if total and total.isdigit() else None, dest.name)
                try:
                    while chunk := resp.read(_CHUNK):
                        out.write(chunk)
                        h_md5.update(chunk)
                        h_sha.update(chunk)
                        if bar is not None:
                            bar.update(len(chunk))
                finally:
                    if bar is not None:
                        bar.close()
        # URLError, HTTPError, timeouts and disk errors are OSErrors; a dropped connection is an
        # HTTPException; an unsupported URL scheme is a ValueError
        except (OSError, ValueError, http.client.HTTPException) as e:
            raise DataError(f"could not download {url} to {dest}: {getattr(e, 'reason', e)}") from e
        for kind, want, got in (("md5", md5, h_md5.hexdigest()), ("sha256", sha256, h_sha.hexdigest())):
            if want is not None and want.lower() != got:
                raise DataError(f"checksum mismatch for {url}: expected {kind} {want.lower()}, got {got}; "
                                "the download is corrupted or the file changed upstream, so it was discarded")
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)  # after os.replace this is a no-op; otherwise it drops the partial file
    return dest


def file_md5(path: Path) -> str:
    h = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _progress(total: int | None, name: str):
    # A bar only for a person watching: log files and CI output stay free of \r noise.
    if not sys.stderr.isatty():
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="B", unit_scale=True, desc=name, file=sys.stderr)


def safe_extract(archive: Path, dest: Path) -> None:
    """Unpack a tar archive into ``dest``, refusing links, devices and paths that escape ``dest``.

    Members are unpacked into a temporary folder first and moved into ``dest`` at the end,
    so an interrupted extraction never leaves a half-filled dataset folder behind.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest))
    try:
        try:
            with tarfile.open(archive, "r:*") as tar:
                for m in tar:
                    parts = PurePosixPath(m.name).parts
                    if m.name.startswith(("/", "\\")) or ".." in parts or (parts and ":" in parts[0]):
                        raise DataError(f"{archive}: refusing archive member {m.name!r}: its path leaves the target folder")
                    if m.isdir():
                        (staging / m.name).mkdir(parents=True, exist_ok=True)
                    elif m.isfile():
                        target = staging / m.name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        src = tar.extractfile(m)
                        assert src is not None  # regular files always have a payload
                        with src, open(target, "wb") as out:
                            shutil.copyfileobj(src, out, _CHUNK)
                    # links, devices and fifos are skipped: dataset archives need none,
                    # and a link is the classic way to write outside the target folder
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DataError(f"{archive}: not a readable tar archive ({e}); delete it and download it again") from e
        # Renames within one file system are quick and atomic per file; merging file by file
        # (rather than replacing folders) never deletes anything the user already had there.
        for src in sorted(staging.rglob("*")):
            if src.is_file():
                target = dest / src.relative_to(staging)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
