"""load_folder: layout → labels, pixel modes, bad files, errors, symlink loops, the cache."""
from __future__ import annotations

import json
import os
import random
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ganforge.data import folder, pixels
from ganforge.data.folder import FolderImages, load_folder
from ganforge.errors import ConfigError, DataError

FLOWERS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets" / "flowers"


def _img(path: Path, size=(12, 8), color=(200, 30, 30), mode="RGB") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, color).save(path)
    return path


def _noise_png(path: Path, size=64) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
    return path


def _load(path, cache, **kw) -> tuple[FolderImages, list[str]]:
    """load_folder, with the warnings it emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = load_folder(path, cache_dir=cache, **{"resolution": 8, "channels": 3, **kw})
    return out, [str(w.message) for w in caught]


def test_class_folders_give_sorted_names_and_labels(tmp_path):
    root = tmp_path / "data"
    _img(root / "tulips" / "t1.png")
    _img(root / "roses" / "r1.jpg")
    _img(root / "roses" / "nested" / "r2.PNG")  # nested files belong to their class folder
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("no images here, so not a class")
    out, warned = _load(root, tmp_path / "cache")
    assert out.class_names == ["roses", "tulips"]
    assert out.labels.tolist() == [0, 0, 1]  # roses/nested/r2, roses/r1, tulips/t1
    assert out.labels.dtype == np.int64
    assert out.images.shape == (3, 3, 8, 8) and out.images.dtype == np.uint8
    assert isinstance(out.images, np.memmap)
    assert out.skipped == {"not an image": [str((root / "notes" / "readme.txt").resolve())]}
    assert warned == []  # a non-image file is ignored silently


def test_flat_folder_is_unlabelled(tmp_path):
    for i in range(3):
        _img(tmp_path / "flat" / f"{i}.png")
    out, _ = _load(tmp_path / "flat", tmp_path / "cache")
    assert out.labels is None and out.class_names is None
    assert out.images.shape == (3, 3, 8, 8)


def test_root_files_are_skipped_when_class_folders_exist(tmp_path):
    root = tmp_path / "data"
    _img(root / "a" / "x.png")
    _img(root / "stray.png")
    out, warned = _load(root, tmp_path / "cache")
    assert out.class_names == ["a"] and len(out.images) == 1
    assert out.skipped["outside class folders"] == [str((root / "stray.png").resolve())]
    assert len(warned) == 1 and "1 outside class folders" in warned[0]


@pytest.mark.parametrize("channels", [1, 3])
def test_mixed_modes_and_sizes(tmp_path, channels):
    root = tmp_path / "modes"
    _img(root / "l.png", (30, 17), 90, "L")
    _img(root / "rgb.jpg", (17, 30), (10, 200, 10))
    _img(root / "rgba.png", (25, 25), (10, 10, 200, 255), "RGBA")
    _img(root / "p.gif", (9, 40), 3, "P")
    _img(root / "la.png", (13, 11), (50, 255), "LA")
    _img(root / "one.bmp", (16, 10), 1, "1")
    _img(root / "cmyk.tif", (20, 12), (0, 255, 255, 0), "CMYK")
    _img(root / "webp.webp", (14, 9), (1, 2, 3))
    Image.fromarray(np.full((7, 21), 65535, np.uint16)).save(root / "i16.png")
    out, warned = _load(root, tmp_path / "cache", resolution=6, channels=channels)
    assert warned == [] and out.skipped == {}
    assert out.images.shape == (9, channels, 6, 6) and out.images.dtype == np.uint8


def test_16bit_is_scaled_not_clipped(tmp_path):
    root = tmp_path / "wide"
    root.mkdir()
    for name, value in [("a_zero", 0), ("b_mid", 32896), ("c_max", 65535)]:
        im = Image.fromarray(np.full((10, 10), value, np.uint16))
        assert im.mode == "I;16"
        im.save(root / f"{name}.png")
    Image.fromarray(np.full((10, 10), 65535, np.int32), "I").save(root / "d_i32.tif")
    out, _ = _load(root, tmp_path / "cache", resolution=4, channels=1)
    assert [int(v) for v in out.images[:, 0, 2, 2]] == [0, 128, 255, 255]


def test_alpha_and_palette_transparency_become_white(tmp_path):
    root = tmp_path / "alpha"
    _img(root / "a.png", (10, 10), (255, 0, 0, 0), "RGBA")  # fully transparent red
    p = Image.new("P", (10, 10), 0)
    p.putpalette([0, 0, 0] * 256)
    p.save(root / "b.png", transparency=0)  # palette index 0 is transparent black
    out, _ = _load(root, tmp_path / "cache", resolution=4)
    assert (np.asarray(out.images) == 255).all()


def test_shorter_side_then_centre_crop(tmp_path):
    # 60x20: red | green | blue thirds. Shorter side → 10 gives 30x10; the centre crop
    # keeps the green middle only. Resizing the longer side would show all three.
    wide = np.zeros((20, 60, 3), np.uint8)
    wide[:, :20, 0] = wide[:, 20:40, 1] = wide[:, 40:, 2] = 255
    root = tmp_path / "crop"
    root.mkdir()
    Image.fromarray(wide).save(root / "a_wide.png")
    Image.fromarray(wide.transpose(1, 0, 2).copy()).save(root / "b_tall.png")
    out, _ = _load(root, tmp_path / "cache", resolution=10)
    for img in np.asarray(out.images, dtype=int):
        r, g, b = img
        assert g[2:8, 2:8].min() >= 250 and r[2:8, 2:8].max() <= 5 and b[2:8, 2:8].max() <= 5
        assert g.min() > 200 and r.max() < 60 and b.max() < 60  # edges: only filter ringing


def test_exif_orientation_is_applied(tmp_path):
    top_red = np.zeros((20, 20, 3), np.uint8)
    top_red[:10, :, 0] = 255
    top_red[10:, :, 2] = 255
    exif = Image.Exif()
    exif[0x0112] = 3  # rotate 180°: displayed with blue on top
    root = tmp_path / "exif"
    root.mkdir()
    Image.fromarray(top_red).save(root / "a.jpg", exif=exif, quality=95)
    out, _ = _load(root, tmp_path / "cache", resolution=10)
    img = np.asarray(out.images[0], dtype=int)
    assert img[2, 1].mean() > 200 and img[0, 1].mean() < 50  # top row blue
    assert img[0, 8].mean() > 200 and img[2, 8].mean() < 50  # bottom row red


def _png_with_size(src: Path, dst: Path, width: int, height: int) -> None:
    """A copy of a PNG whose IHDR declares another size (CRC fixed, so it parses)."""
    data = bytearray(src.read_bytes())
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    dst.write_bytes(bytes(data))


def test_bad_files_are_skipped_with_reasons_and_one_warning(tmp_path):
    root = tmp_path / "bad"
    for i in range(3):
        _img(root / f"good{i}.png")
    (root / "empty.jpg").write_bytes(b"")
    (root / "text.png").write_text("not really a png")
    full = _noise_png(tmp_path / "noise.png").read_bytes()
    (root / "truncated.png").write_bytes(full[: len(full) // 2])
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + random.Random(0).randbytes(3000))
    (root / "notes.txt").write_text("ignored")
    (root / ".DS_Store").write_bytes(b"\0\0\0\1Bud1")
    _png_with_size(root / "good0.png", root / "bomb.png", 20000, 20000)  # 4e8 > 1e8 pixels
    os.symlink(tmp_path / "gone.png", root / "dangling.png")
    os.mkfifo(root / "fifo.png")  # opening it would block forever

    out, warned = _load(root, tmp_path / "cache")
    assert out.images.shape == (3, 3, 8, 8)
    assert (np.asarray(out.images)[:, 0] == 200).all()  # the good ones, red
    where = {Path(p).name: reason for reason, paths in out.skipped.items() for p in paths}
    assert where["empty.jpg"] == "empty file"
    assert where["text.png"] == "not a valid image"
    assert where["truncated.png"] == "corrupt or truncated"
    assert where["corrupt.jpg"] in ("not a valid image", "corrupt or truncated")
    assert where["bomb.png"] == "too large: > 100000000 pixels"
    assert where["notes.txt"] == "not an image"
    assert where[".DS_Store"] == "hidden"
    assert where["dangling.png"] == "unreadable"
    assert where["fifo.png"] == "not a regular file"
    assert len(warned) == 1
    assert warned[0].startswith(f"{root}: skipped 7 of 10 image files (")
    assert "1 empty file" in warned[0] and "1 too large: > 100000000 pixels" in warned[0]
    assert "not an image" not in warned[0]  # quiet reasons stay out of the warning


def test_max_pixels_is_checked_from_the_header(tmp_path, monkeypatch):
    root = tmp_path / "big"
    _img(root / "small.png", (10, 10))
    _img(root / "large.png", (100, 100))
    out, warned = _load(root, tmp_path / "cache", max_pixels=1000)
    assert len(out.images) == 1 and out.skipped["too large: > 1000 pixels"] == [str((root / "large.png").resolve())]
    assert len(warned) == 1
    assert Image.MAX_IMAGE_PIXELS != 1000  # Pillow's global limit is restored


def test_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match="missing.*no such folder"):
        load_folder(tmp_path / "missing", 8, 3, tmp_path / "cache")
    _img(tmp_path / "one.png")
    with pytest.raises(DataError, match="one.png: is a file, not a folder"):
        load_folder(tmp_path / "one.png", 8, 3, tmp_path / "cache")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: holds no images with extensions Pillow can decode \(\.jpg, \.jpeg, \.png"):
        load_folder(tmp_path / "empty", 8, 3, tmp_path / "cache")
    (tmp_path / "texts").mkdir()
    (tmp_path / "texts" / "a.txt").write_text("x")
    with pytest.raises(DataError, match="texts: holds no images"):
        load_folder(tmp_path / "texts", 8, 3, tmp_path / "cache")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "a.png").write_text("text")
    (broken / "b.jpg").write_bytes(b"")
    with pytest.raises(DataError, match=f"none of the 2 image files in {broken} could be read; first error: .*a.png"):
        load_folder(broken, 8, 3, tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*"))  # no partial cache left behind


def test_unreadable_files(tmp_path, monkeypatch):
    root = tmp_path / "locked"
    locked = [_img(root / "a.png"), _img(root / "b.png")]
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # root reads any file: fake the refusal
        real_open = open

        def refusing_open(path, *args, **kwargs):
            if Path(path).name in ("a.png", "b.png"):
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(pixels, "open", refusing_open, raising=False)
    else:
        for p in locked:
            p.chmod(0)
    with pytest.raises(DataError, match=f"none of the 2 image files in {root} could be read; first error: .*unreadable"):
        load_folder(root, 8, 3, tmp_path / "cache")
    _img(root / "c.png")
    out, warned = _load(root, tmp_path / "cache")
    assert len(out.images) == 1 and len(out.skipped["unreadable"]) == 2
    assert len(warned) == 1 and "skipped 2 of 3 image files (2 unreadable [a.png, b.png])" in warned[0]


def test_symlink_loops_terminate_and_count_once(tmp_path):
    flat = tmp_path / "flat"
    _img(flat / "a.png")
    _img(flat / "b.png")
    os.symlink(flat, flat / "loop")  # a sub-folder that is its own parent
    out, warned = _load(flat, tmp_path / "cache")
    assert len(out.images) == 2 and out.labels is None and warned == []
    assert out.skipped == {"folder already visited (symlink)": [str(flat.resolve() / "loop")]}

    classes = tmp_path / "classes"
    _img(classes / "c" / "x.png")
    os.symlink(classes / "c", classes / "c" / "again")
    os.symlink(classes, classes / "c" / "up")
    out, _ = _load(classes, tmp_path / "cache")
    assert len(out.images) == 1 and out.class_names == ["c"]


def test_cache_is_reused_and_invalidated(tmp_path, monkeypatch):
    root, cache = tmp_path / "data", tmp_path / "cache"
    for i in range(3):
        _img(root / f"{i}.png", (10, 10), (i * 50, 0, 0))
    (root / "bad.png").write_text("no")
    calls = []
    real = pixels.decode_file

    def counting(path, **kw):
        calls.append(path)
        return real(path, **kw)

    monkeypatch.setattr(pixels, "decode_file", counting)
    first, w1 = _load(root, cache)
    assert len(calls) == 4 and len(w1) == 1
    (meta,) = cache.glob("folder-*.json")
    assert sorted(p.name for p in cache.iterdir()) == [f"{meta.stem}.json", f"{meta.stem}.npy"]

    second, w2 = _load(root, cache)
    assert len(calls) == 4  # nothing decoded
    np.testing.assert_array_equal(first.images, second.images)
    assert isinstance(second.images, np.memmap)
    assert second.skipped == first.skipped and w2 == w1  # skips survive the cache

    os.utime(root / "1.png", ns=(10**18, 10**18))  # touched: same bytes, new mtime
    _load(root, cache)
    assert len(calls) == 8
    _img(root / "3.png")  # added
    third, _ = _load(root, cache)
    assert len(calls) == 13 and len(third.images) == 4

    for json_file in cache.glob("*.json"):  # a missing json means "no cache"
        json_file.unlink()
    _load(root, cache)
    assert len(calls) == 18
    assert not [p for p in cache.iterdir() if p.name.endswith(".tmp")]


def test_parallel_decoding_matches_serial(tmp_path):
    root = tmp_path / "many"
    rng = np.random.default_rng(1)
    for i in range(70):  # above the serial threshold
        cls = "ab"[i % 2]
        (root / cls).mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8)).save(root / cls / f"{i:03d}.png")
    (root / "a" / "bad.png").write_bytes(b"")
    par, warned = _load(root, tmp_path / "c1", workers=2)
    ser, _ = _load(root, tmp_path / "c2", workers=1)
    np.testing.assert_array_equal(par.images, ser.images)
    np.testing.assert_array_equal(par.labels, ser.labels)
    assert par.images.shape == (70, 3, 8, 8) and par.skipped == ser.skipped
    assert len(warned) == 1 and "skipped 1 of 71" in warned[0]


def test_real_flowers_folder(tmp_path):
    if not FLOWERS.is_dir():
        pytest.skip(f"{FLOWERS} is absent")
    out, warned = _load(FLOWERS, tmp_path / "cache", resolution=32)
    assert out.images.shape == (600, 3, 32, 32)
    assert out.class_names == ["roses", "tulips"]
    assert np.bincount(out.labels).tolist() == [300, 300]
    assert warned == [] and out.skipped == {}
    assert 40 < float(np.asarray(out.images).mean()) < 200  # real pictures, not blank


def test_every_format_pillow_can_write_and_read_is_loaded(tmp_path):
    """The extension list is Pillow's own: a TGA, PPM, ICO or QOI photo is not silently 'not an image'."""
    from ganforge.data.folder import IMAGE_EXTENSIONS

    Image.init()
    root, written = tmp_path / "formats", []
    for ext, fmt in sorted(Image.registered_extensions().items()):
        if fmt not in Image.SAVE or fmt not in Image.OPEN or fmt in ("PDF", "EPS"):  # EPS needs Ghostscript
            continue
        path = root / f"x{ext.replace('.', '_')}{ext}"
        try:
            _img(path, (16, 16))
        except (OSError, ValueError, KeyError):
            continue  # a writer this Pillow build lacks an encoder for
        written.append(path.name)
    assert {".tga", ".ppm", ".ico", ".webp", ".tif", ".bmp", ".jpg"} <= set(IMAGE_EXTENSIONS)
    assert len(written) >= 15
    out, warned = _load(root, tmp_path / "cache")
    assert len(out.images) == len(written), (out.skipped, written)
    assert (np.asarray(out.images)[:, 0].astype(int) - 200).__abs__().max() <= 8  # the red of _img, lossy codecs aside


def test_labels_none_reads_hashed_sub_folders_as_one_set(tmp_path):
    """LSUN-style exports: one class spread over hashed sub-folders that are not classes."""
    root = tmp_path / "lsun"
    for i, sub in enumerate(["0/a", "0/b", "1/c", "f/e/d"]):
        _img(root / sub / f"{i}.webp")
    _img(root / "top.png")
    out, warned = _load(root, tmp_path / "cache", labels="none")
    assert len(out.images) == 5 and out.labels is None and out.class_names is None
    assert warned == [] and out.skipped == {}
    classes, _ = _load(root, tmp_path / "cache")  # the default reads them as classes: a different cache entry
    assert classes.class_names == ["0", "1", "f"] and len(classes.images) == 4
    with pytest.raises(ConfigError, match="data.labels = 'some'"):
        load_folder(root, 8, 3, tmp_path / "cache", labels="some")


def test_skip_warning_names_the_files_and_where_the_full_list_is(tmp_path):
    root = tmp_path / "few"
    _img(root / "ok.png")
    for i in range(5):
        (root / f"bad{i}.jpg").write_bytes(b"")
    out, warned = _load(root, tmp_path / "cache")
    assert "5 empty file [bad0.jpg, bad1.jpg, bad2.jpg and 2 more]" in warned[0]
    meta = warned[0].rsplit(" in ", 1)[1]
    assert len(json.loads(Path(meta).read_text())["skipped"]["empty file"]) == 5


def test_a_large_folder_streams_from_the_memory_mapped_cache(tmp_path, monkeypatch, capsys):
    """Over data.max_memory_mb the set is never copied into memory: batches read rows of the
    memory-mapped cache, and the memory use is printed (benchmarks/highres.py: 4,000 at 512x512)."""
    from ganforge import config as C
    from ganforge import data

    monkeypatch.setenv("GANFORGE_CACHE", str(tmp_path / "cache"))
    root = tmp_path / "photos"
    rng = np.random.default_rng(0)
    (root / "x").mkdir(parents=True)
    for i in range(40):
        Image.fromarray(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)).save(root / "x" / f"{i}.jpg")
    cfg = C.from_dict({"data": {"name": "folder", "root": str(root), "resolution": 128, "max_memory_mb": 1, "labels": "none"}})
    src = data.build(cfg.data)
    assert isinstance(src.images, np.memmap) and src.labels is None  # 40x3x128x128 = 1.9 MiB > 1 MiB
    err = capsys.readouterr().err
    assert "40 images 3x128x128 = 2 MiB" in err and "streamed from the memory-mapped cache" in err and "MiB resident" in err
    x, y = next(src.batches(8, torch.device("cpu")))
    assert x.shape == (8, 3, 128, 128) and y is None and -1 <= x.min() and x.max() <= 1
    held = data.build(C.from_dict({"data": {**cfg.to_dict()["data"], "max_memory_mb": 64}}).data)
    assert isinstance(held.images, torch.Tensor) and capsys.readouterr().err == ""  # held: nothing to say
