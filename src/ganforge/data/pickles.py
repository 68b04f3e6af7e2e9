"""Reading a dataset's pickle safely: an unpickler that can only rebuild numpy arrays.

Plain pickle.load runs whatever callable a file names (os.system, open, ...); a dataset file
(CIFAR-10's python batches) needs nothing but numpy's array constructors, so every other
global is refused with a DataError that names the file.
"""
from __future__ import annotations

import pickle
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import DataError


def str_keys(obj: object, path: Path, what: str) -> dict:
    # Python 2 pickles (the official files) give str keys under encoding="latin1"; files
    # written by Python 3 code keep b"..." keys. Accept both.
    if not isinstance(obj, dict):
        raise DataError(f"{path} is not a {what}: expected a dict, found {type(obj).__name__}")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _latin1_encode(text: str, encoding: str = "latin1") -> bytes:
    # Python 3 writes bytes as _codecs.encode(text, "latin1") in protocol 2 pickles;
    # only that exact use is allowed, not an arbitrary codec.
    if encoding not in ("latin1", "latin-1") or not isinstance(text, str):
        raise DataError(f"refusing _codecs.encode with encoding {encoding!r} in a dataset pickle")
    return text.encode("latin1")


def _numpy_globals() -> dict[tuple[str, str], Callable]:
    try:  # numpy >= 2 moved numpy.core to numpy._core; pickles may name either
        from numpy._core import multiarray, numeric
    except ImportError:  # pragma: no cover - numpy 1.x
        from numpy.core import multiarray, numeric
    allowed: dict[tuple[str, str], Callable] = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
                                                ("_codecs", "encode"): _latin1_encode}
    for core in ("numpy.core", "numpy._core"):
        allowed[(f"{core}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{core}.multiarray", "scalar")] = multiarray.scalar
        allowed[(f"{core}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol-5 arrays
    return allowed


_ALLOWED_GLOBALS = _numpy_globals()


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles plain containers and numpy arrays only.

    Plain pickle.load runs whatever callable a file names (os.system, open, ...); a dataset
    file needs nothing but numpy's array constructors, so every other global is refused.
    """

    def __init__(self, file, path: Path, what: str):
        super().__init__(file, encoding="latin1")  # latin1 is how numpy arrays from Python 2 decode
        self.path, self.what = path, what

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(f"{self.path} is not a {self.what}: it references {module}.{name}, "
                            "and only numpy arrays may be loaded from a dataset pickle") from None

    def persistent_load(self, pid):
        raise DataError(f"{self.path} is not a {self.what}: it uses persistent ids")


def unpickle_arrays(path: Path, what: str) -> object:
    try:
        with open(path, "rb") as f:
            return _ArrayUnpickler(f, path, what).load()
    except DataError:
        raise
    except Exception as e:  # with globals restricted, any failure is malformed input, not a bug here
        raise DataError(f"{path} is not a {what}: {type(e).__name__}: {e}") from e
