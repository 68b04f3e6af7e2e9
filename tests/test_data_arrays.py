"""Readers for the official dataset formats, the .npz layout, and the verified download.

Every official-format test writes a tiny file in the real layout itself, with a known
pixel pattern, so the orientation (h, w, c) of what comes back is checked, not assumed.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
import pytest

from ganforge.data import arrays
from ganforge.data.arrays import load_official
from ganforge.data.download import fetch, safe_extract
from ganforge.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


# ----------------------------------------------------------------------------- helpers

def write_idx(path: Path, arr: np.ndarray, magic: int, gz: bool = True, cut: int = 0) -> Path:
    data = struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.astype(np.uint8).tobytes()
    data = data[: len(data) - cut]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def mnist_images(n: int = 5) -> np.ndarray:
    x = np.zeros((n, 28, 28), np.uint8)
    for i in range(n):
        x[i, i, 2 * i] = 200 + i  # row i, column 2i: a transposed reader would miss it
    return x


def write_mnist(d: Path, split: str = "train", labels=(3, 1, 4, 1, 5), gz: bool = True) -> np.ndarray:
    prefix = "train" if split == "train" else "t10k"
    x = mnist_images(len(labels))
    ext = ".gz" if gz else ""
    write_idx(d / f"{prefix}-images-idx3-ubyte{ext}", x, 2051, gz)
    write_idx(d / f"{prefix}-labels-idx1-ubyte{ext}", np.array(labels), 2049, gz)
    return x


def cifar_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)


def cifar_batch(images: np.ndarray, labels: list[int], protocol: int = pickle.DEFAULT_PROTOCOL) -> bytes:
    # The real layout: each row is the R plane, then G, then B, each plane row-major.
    data = images.transpose(0, 3, 1, 2).reshape(len(images), 3072)
    return pickle.dumps({b"batch_label": b"test", b"labels": labels, b"data": data, b"filenames": [b"x.png"] * len(labels)},
                        protocol=protocol)


def _py2_str(b: bytes) -> bytes:
    return (b"U" + bytes([len(b)]) + b) if len(b) < 256 else (b"T" + struct.pack("<i", len(b)) + b)


def py2_cifar_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """The opcodes Python 2's cPickle wrote for the official files: str keys, numpy.core globals."""
    s = _py2_str
    dtype = b"cnumpy\ndtype\n" + s(b"u1") + b"K\x00K\x01\x87R(K\x03" + s(b"|") + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb"
    shape = b"K" + bytes([data.shape[0]]) + b"M" + struct.pack("<H", data.shape[1]) + b"\x86"
    array = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + s(b"b") + b"\x87R"
             + b"(K\x01" + shape + dtype + b"\x89" + s(data.tobytes()) + b"tb")
    label_list = b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"e"
    return b"\x80\x02}(" + s(b"data") + array + s(b"labels") + label_list + b"u."


def write_cifar(d: Path, per_batch: int = 2) -> tuple[np.ndarray, np.ndarray]:
    d.mkdir(parents=True, exist_ok=True)
    xs = []
    for i in range(1, 6):
        x = cifar_images(per_batch, i)
        xs.append(x)
        # protocol 2 is what the official (Python 2) files use; 4 and 5 what Python 3 writes
        (d / f"data_batch_{i}").write_bytes(cifar_batch(x, [i] * per_batch, protocol=(2, 4, 5)[i % 3]))
    xt = cifar_images(3, 99)
    (d / "test_batch").write_bytes(cifar_batch(xt, [7, 8, 9]))
    names = [b"plane", b"car", b"bird", b"cat", b"deer", b"dog", b"frog", b"horse", b"ship", b"truck"]
    (d / "batches.meta").write_bytes(pickle.dumps({b"label_names": names, b"num_vis": 3072}, protocol=2))
    return np.concatenate(xs), xt


def stl_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)


def stl_bytes(images: np.ndarray) -> bytes:
    # STL-10 stores each image column-major (MATLAB order): flat index h + 96*w + 96*96*c.
    return b"".join(img.ravel(order="F").tobytes() for img in images)


def write_stl(d: Path) -> dict[str, np.ndarray]:
    d.mkdir(parents=True, exist_ok=True)
    out = {"train": stl_images(3, 1), "test": stl_images(2, 2), "unlabeled": stl_images(4, 3)}
    for split, x in out.items():
        (d / f"{split}_X.bin").write_bytes(stl_bytes(x))
    (d / "train_y.bin").write_bytes(bytes([1, 10, 5]))
    (d / "test_y.bin").write_bytes(bytes([2, 3]))
    return out


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ----------------------------------------------------------------------------- MNIST IDX

@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx(tmp_path, gz):
    x = write_mnist(tmp_path / "mnist", gz=gz)
    raw = load_official("mnist", tmp_path, download=False)
    assert raw.images.shape == (5, 28, 28, 1) and raw.images.dtype == np.uint8
    assert raw.labels.tolist() == [3, 1, 4, 1, 5] and raw.labels.dtype == np.int64
    for i in range(5):
        assert raw.images[i, i, 2 * i, 0] == 200 + i
    assert np.array_equal(raw.images[..., 0], x)
    assert raw.class_names == [str(i) for i in range(10)]
    assert raw.images.flags.writeable


def test_fashion_mnist_test_split_in_underscore_dir(tmp_path):
    write_mnist(tmp_path / "fashion_mnist", split="test", labels=(9, 0))
    raw = load_official("fashion-mnist", tmp_path, split="test", download=False)
    assert raw.images.shape == (2, 28, 28, 1) and raw.labels.tolist() == [9, 0]
    assert raw.class_names[0] == "T-shirt/top" and raw.class_names[9] == "Ankle boot"


def test_idx_bad_magic(tmp_path):
    d = tmp_path / "mnist"
    write_mnist(d)
    bad = write_idx(d / "train-images-idx3-ubyte.gz", mnist_images(), 2049)  # the labels' magic
    with pytest.raises(DataError, match="magic number 2049, expected 2051") as e:
        load_official("mnist", tmp_path, download=False)
    assert str(bad) in str(e.value)


def test_idx_truncated_payload(tmp_path):
    d = tmp_path / "mnist"
    write_mnist(d)
    bad = write_idx(d / "train-images-idx3-ubyte.gz", mnist_images(), 2051, cut=10)
    with pytest.raises(DataError, match="truncated") as e:
        load_official("mnist", tmp_path, download=False)
    assert str(bad) in str(e.value)


def test_idx_truncated_gzip(tmp_path):
    d = tmp_path / "mnist"
    write_mnist(d)
    p = d / "train-labels-idx1-ubyte.gz"
    p.write_bytes(p.read_bytes()[:-12])
    with pytest.raises(DataError, match="gzip"):
        load_official("mnist", tmp_path, download=False)


def test_idx_label_count_mismatch(tmp_path):
    d = tmp_path / "mnist"
    write_mnist(d)
    write_idx(d / "train-labels-idx1-ubyte.gz", np.array([1, 2, 3]), 2049)
    with pytest.raises(DataError, match="3 labels for 5 images"):
        load_official("mnist", tmp_path, download=False)


def test_idx_missing_labels_file_is_named(tmp_path):
    d = tmp_path / "mnist"
    write_mnist(d)
    (d / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="train-labels-idx1-ubyte"):
        load_official("mnist", tmp_path, download=False)


# ----------------------------------------------------------------------------- CIFAR-10

def test_cifar_batches(tmp_path):
    xtrain, xtest = write_cifar(tmp_path / "cifar10" / "cifar-10-batches-py")
    raw = load_official("cifar10", tmp_path, download=False)
    assert raw.images.shape == (10, 32, 32, 3) and raw.images.dtype == np.uint8
    assert np.array_equal(raw.images, xtrain)  # the same (h, w, c) as written, not transposed
    assert raw.labels.tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert raw.class_names[:2] == ["plane", "car"]  # from batches.meta
    test = load_official("cifar10", tmp_path, split="test", download=False)
    assert np.array_equal(test.images, xtest) and test.labels.tolist() == [7, 8, 9]


def test_cifar_pixel_orientation(tmp_path):
    d = tmp_path / "cifar-10-batches-py"  # torchvision's place: directly under root
    d.mkdir()
    data = np.zeros((1, 3072), np.uint8)
    data[0, 1024 * 2 + 32 * 1 + 5] = 255  # blue plane, row 1, column 5
    (d / "test_batch").write_bytes(pickle.dumps({b"data": data, b"labels": [0]}))
    raw = load_official("cifar10", tmp_path, split="test", download=False)
    assert raw.images[0, 1, 5, 2] == 255 and raw.images.sum() == 255
    assert raw.class_names == arrays.CIFAR10_CLASSES  # no batches.meta: the official list


def test_cifar_python2_pickle(tmp_path):
    d = tmp_path / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    x = cifar_images(2, 5)
    (d / "test_batch").write_bytes(py2_cifar_batch(x.transpose(0, 3, 1, 2).reshape(2, 3072), [6, 2]))
    raw = load_official("cifar10", tmp_path, split="test", download=False)
    assert np.array_equal(raw.images, x) and raw.labels.tolist() == [6, 2]


def test_cifar_archive_is_extracted(tmp_path):
    src = tmp_path / "src"
    xtrain, _ = write_cifar(src / "cifar-10-batches-py")
    (tmp_path / "root" / "cifar10").mkdir(parents=True)
    with tarfile.open(tmp_path / "root" / "cifar10" / "cifar-10-python.tar.gz", "w:gz") as tar:
        tar.add(src / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    raw = load_official("cifar10", tmp_path / "root", download=False)
    assert np.array_equal(raw.images, xtrain)


class _OpenFile:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


class _System:
    def __init__(self, path: str):
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


@pytest.mark.parametrize("evil, refs", [(_OpenFile, "(io|builtins).open"), (_System, "(posix|nt|os).system")])
def test_cifar_malicious_pickle_is_refused(tmp_path, evil, refs):
    canary = tmp_path / "canary"
    made = pickle.loads(pickle.dumps(evil(str(canary))))  # proof that plain pickle would create the file
    getattr(made, "close", lambda: None)()
    assert canary.exists()
    target = tmp_path / "pwned"
    d = tmp_path / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    bad = d / "test_batch"
    bad.write_bytes(pickle.dumps({b"data": evil(str(target)), b"labels": [0]}))
    with pytest.raises(DataError, match=f"is not a CIFAR-10 batch: it references .*{refs}") as e:
        load_official("cifar10", tmp_path, split="test", download=False)
    assert str(bad) in str(e.value)
    assert not target.exists()


@pytest.mark.parametrize("content", [b"this is not a pickle at all\n", b"", b"\x80\x04\x95"])
def test_cifar_not_a_pickle(tmp_path, content):
    d = tmp_path / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    (d / "test_batch").write_bytes(content)
    with pytest.raises(DataError, match="test_batch is not a CIFAR-10 batch"):
        load_official("cifar10", tmp_path, split="test", download=False)


@pytest.mark.parametrize("obj, msg", [
    ([1, 2, 3], "expected a dict"),
    ({b"labels": [0]}, "'data' must be a uint8 array of shape \\(N, 3072\\)"),
    ({b"data": np.zeros((2, 3072), np.float32), b"labels": [0, 1]}, "float32"),
    ({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0]}, "'labels' must be 2 integers"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [10]}, "0..9"),
])
def test_cifar_wrong_structure(tmp_path, obj, msg):
    d = tmp_path / "cifar10" / "cifar-10-batches-py"
    d.mkdir(parents=True)
    (d / "test_batch").write_bytes(pickle.dumps(obj))
    with pytest.raises(DataError, match=msg):
        load_official("cifar10", tmp_path, split="test", download=False)


def test_cifar_missing_batch_is_named(tmp_path):
    d = tmp_path / "cifar10" / "cifar-10-batches-py"
    write_cifar(d)
    (d / "data_batch_3").unlink()
    with pytest.raises(DataError, match="missing data_batch_3"):
        load_official("cifar10", tmp_path, download=False)


# ----------------------------------------------------------------------------- STL-10

def test_stl10_splits_and_orientation(tmp_path):
    x = write_stl(tmp_path / "stl10" / "stl10_binary")
    raw = load_official("stl10", tmp_path, download=False)
    assert raw.images.shape == (3, 96, 96, 3) and raw.images.dtype == np.uint8
    assert np.array_equal(raw.images, x["train"])
    assert raw.labels.tolist() == [0, 9, 4]
    assert raw.class_names == arrays.STL10_CLASSES
    test = load_official("stl10", tmp_path, split="test", download=False)
    assert np.array_equal(test.images, x["test"]) and test.labels.tolist() == [1, 2]
    unl = load_official("stl10", tmp_path, split="unlabeled", download=False)
    assert unl.labels is None and np.array_equal(unl.images, x["unlabeled"])
    both = load_official("stl10", tmp_path, split="train+unlabeled", download=False)
    assert both.labels is None and len(both.images) == 7
    assert np.array_equal(both.images[3:], x["unlabeled"])


def test_stl10_single_pixel_is_upright(tmp_path):
    d = tmp_path / "stl10_binary"
    d.mkdir()
    flat = np.zeros(3 * 96 * 96, np.uint8)
    flat[1 * 96 * 96 + 10 * 96 + 3] = 255  # column-major: channel 1, column 10, row 3
    (d / "test_X.bin").write_bytes(flat.tobytes())
    (d / "test_y.bin").write_bytes(bytes([1]))
    (d / "class_names.txt").write_text("\n".join(f"c{i}" for i in range(10)) + "\n")
    raw = load_official("stl10", tmp_path, split="test", download=False)
    assert raw.images[0, 3, 10, 1] == 255 and int(raw.images.sum()) == 255
    assert raw.class_names[0] == "c0"


def test_stl10_bad_files(tmp_path):
    d = tmp_path / "stl10" / "stl10_binary"
    write_stl(d)
    (d / "train_X.bin").write_bytes(b"\0" * 1000)
    with pytest.raises(DataError, match="train_X.bin: 1000 bytes is not a whole number"):
        load_official("stl10", tmp_path, download=False)
    (d / "test_y.bin").write_bytes(bytes([0, 3]))
    with pytest.raises(DataError, match="labels must be 1..10"):
        load_official("stl10", tmp_path, split="test", download=False)
    (d / "test_y.bin").write_bytes(bytes([1, 2, 3]))
    with pytest.raises(DataError, match="3 labels for 2 images"):
        load_official("stl10", tmp_path, split="test", download=False)


# ----------------------------------------------------------------------------- .npz layout

def test_npz_layout(tmp_path):
    (tmp_path / "mnist").mkdir()
    x = mnist_images(4)
    np.savez(tmp_path / "mnist" / "mnist.npz", x_train=x, y_train=np.array([0, 1, 2, 3]),
             x_test=x[:2], y_test=np.array([9, 8]))
    raw = load_official("mnist", tmp_path, download=False)
    assert raw.images.shape == (4, 28, 28, 1) and raw.images[3, 3, 6, 0] == 203
    assert raw.labels.tolist() == [0, 1, 2, 3] and raw.source.endswith("mnist.npz")
    assert load_official("mnist", tmp_path, split="test", download=False).labels.tolist() == [9, 8]


def test_official_files_take_precedence_over_npz(tmp_path):
    write_mnist(tmp_path / "mnist")
    np.savez(tmp_path / "mnist" / "mnist.npz", x_train=mnist_images(2), y_train=np.array([0, 0]))
    assert len(load_official("mnist", tmp_path, download=False).images) == 5


def test_npz_missing_split_suggests_other(tmp_path):
    (tmp_path / "cifar10").mkdir()
    np.savez(tmp_path / "cifar10" / "cifar10_test.npz", x_test=cifar_images(2, 0), y_test=np.array([1, 2]),
             class_names=np.array(arrays.CIFAR10_CLASSES))
    raw = load_official("cifar10", tmp_path, split="test", download=False)
    assert raw.images.shape == (2, 32, 32, 3) and raw.class_names == arrays.CIFAR10_CLASSES
    with pytest.raises(DataError, match="has splits: test.*--data.split test") as e:
        load_official("cifar10", tmp_path, split="train", download=False)
    assert "cifar10_test.npz" in str(e.value)


@pytest.mark.parametrize("arrays_, msg", [
    ({"images": np.zeros((2, 28, 28), np.uint8)}, "keys: images"),
    ({"x_train": np.zeros((2, 28, 28), np.float32), "y_train": np.zeros(2, np.int64)}, "'x_train' must be uint8.*float32"),
    ({"x_train": np.zeros((2, 32, 32), np.uint8), "y_train": np.zeros(2, np.int64)}, "'x_train' must have shape \\(N, 28, 28\\)"),
    ({"x_train": np.zeros((2, 28, 28), np.uint8)}, "missing key 'y_train'"),
    ({"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.zeros(3, np.int64)}, "3 labels for 2 images"),
    ({"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.array([0.5, 1.0])}, "1-D integer array"),
    ({"x_train": np.zeros((2, 28, 28), np.uint8), "y_train": np.array([0, 12])}, "0..9"),
    ({"x_train": np.zeros((1, 28, 28), np.uint8), "y_train": np.zeros(1, np.int64),
      "class_names": np.array(["a", "b"])}, "'class_names' must be 10 strings"),
])
def test_npz_bad_content(tmp_path, arrays_, msg):
    (tmp_path / "mnist").mkdir()
    path = tmp_path / "mnist" / "mnist.npz"
    np.savez(path, **arrays_)
    with pytest.raises(DataError, match=msg) as e:
        load_official("mnist", tmp_path, download=False)
    assert str(path) in str(e.value)


def test_npz_object_array_and_garbage_are_refused(tmp_path):
    (tmp_path / "mnist").mkdir()
    path = tmp_path / "mnist" / "mnist.npz"
    np.savez(path, x_train=np.zeros((1, 28, 28), np.uint8), y_train=np.array([0], dtype=object))
    with pytest.raises(DataError, match="cannot read key 'y_train'"):
        load_official("mnist", tmp_path, download=False)
    path.write_bytes(b"not a zip file")
    with pytest.raises(DataError, match="not a readable .npz file"):
        load_official("mnist", tmp_path, download=False)


@pytest.mark.skipif(not (SHARED / "mnist" / "mnist.npz").is_file(), reason=f"real datasets not present at {SHARED}")
def test_real_shared_datasets():
    raw = load_official("mnist", SHARED, download=False)
    assert raw.images.shape == (60000, 28, 28, 1) and raw.labels.shape == (60000,)
    assert raw.images.mean() == pytest.approx(33.32, abs=0.01)
    if (SHARED / "cifar10" / "cifar10_test.npz").is_file():
        test = load_official("cifar10", SHARED, split="test", download=False)
        assert test.images.shape == (10000, 32, 32, 3) and test.class_names[0] == "airplane"
        with pytest.raises(DataError, match="--data.split test"):
            load_official("cifar10", SHARED, split="train", download=False)


# ----------------------------------------------------------------------------- download

def test_fetch_file_url_with_checksums(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello dataset" * 1000)
    dest = tmp_path / "cache" / "out.bin"
    fetch(src.as_uri(), dest, md5=md5(src.read_bytes()), sha256=hashlib.sha256(src.read_bytes()).hexdigest())
    assert dest.read_bytes() == src.read_bytes()


def test_fetch_wrong_checksum_leaves_nothing(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"hello dataset")
    cache = tmp_path / "cache"
    with pytest.raises(DataError, match=f"checksum mismatch for {src.as_uri()}: expected md5 0+, got {md5(b'hello dataset')}"):
        fetch(src.as_uri(), cache / "out.bin", md5="0" * 32)
    assert list(cache.iterdir()) == []


def test_fetch_missing_url(tmp_path):
    with pytest.raises(DataError, match="could not download"):
        fetch((tmp_path / "nope").as_uri(), tmp_path / "cache" / "out.bin")
    assert list((tmp_path / "cache").iterdir()) == []


def test_missing_offline_names_paths_and_env(tmp_path):
    with pytest.raises(DataError) as e:
        load_official("mnist", tmp_path, download=False)
    msg = str(e.value)
    assert str(tmp_path / "mnist" / "train-images-idx3-ubyte.gz") in msg
    assert str(tmp_path / "mnist" / "mnist.npz") in msg
    assert "GANFORGE_DATA" in msg and "--data.root" in msg
    assert "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz" in msg


def test_download_then_load(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    write_mnist(mirror, "train")
    write_mnist(mirror, "test", labels=(7,))
    table = [(p.as_uri(), md5(p.read_bytes())) for p in sorted(mirror.iterdir())]
    monkeypatch.setitem(arrays.DOWNLOADS, "mnist", table)
    raw = load_official("mnist", tmp_path / "root", split="test")
    assert raw.labels.tolist() == [7]
    assert (tmp_path / "root" / "mnist" / "train-images-idx3-ubyte.gz").is_file()


def test_download_archive_is_verified_and_extracted(tmp_path, monkeypatch):
    src = tmp_path / "src"
    write_stl(src / "stl10_binary")
    archive = tmp_path / "stl10_binary.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(src / "stl10_binary", arcname="stl10_binary")
    monkeypatch.setitem(arrays.DOWNLOADS, "stl10", [(archive.as_uri(), md5(archive.read_bytes()))])
    raw = load_official("stl10", tmp_path / "root", split="test")
    assert raw.labels.tolist() == [1, 2]
    assert not (tmp_path / "root" / "stl10" / "stl10_binary.tar.gz").exists()  # removed once unpacked


def test_download_failure_explains_how_to_proceed(tmp_path, monkeypatch):
    url = (tmp_path / "offline" / "cifar-10-python.tar.gz").as_uri()
    monkeypatch.setitem(arrays.DOWNLOADS, "cifar10", [(url, "0" * 32)])
    with pytest.raises(DataError) as e:
        load_official("cifar10", tmp_path / "root")
    msg = str(e.value)
    assert "download failed" in msg and url in msg and "GANFORGE_DATA" in msg
    assert str(tmp_path / "root" / "cifar10" / "cifar-10-batches-py") in msg
    assert str(tmp_path / "root" / "cifar10" / "cifar10.npz") in msg


def test_safe_extract_refuses_path_traversal(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        payload = b"owned"
        info = tarfile.TarInfo("../escaped.txt")
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload))
    dest = tmp_path / "dest"
    with pytest.raises(DataError, match="leaves the target folder"):
        safe_extract(archive, dest)
    assert not (tmp_path / "escaped.txt").exists() and list(dest.iterdir()) == []


def test_safe_extract_skips_links(tmp_path):
    archive = tmp_path / "links.tar"
    with tarfile.open(archive, "w") as tar:
        link = tarfile.TarInfo("data/passwd")
        link.type, link.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(link)
        info = tarfile.TarInfo("data/ok.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"ok"))
    safe_extract(archive, tmp_path / "dest")
    assert (tmp_path / "dest" / "data" / "ok.txt").read_bytes() == b"ok"
    assert not (tmp_path / "dest" / "data" / "passwd").exists()


def test_unknown_name_or_split(tmp_path):
    with pytest.raises(ConfigError, match="unknown dataset"):
        load_official("imagenet", tmp_path)
    with pytest.raises(ConfigError, match="no split 'unlabeled'"):
        load_official("mnist", tmp_path, split="unlabeled")
