"""Videos: --video mp4 writes an MP4 that reads back with the frames, size and pictures of the GIF
it replaces; without imageio the GIF, with a warning."""
import builtins

import numpy as np
import pytest
import torch
from PIL import Image

import ganforge
from ganforge import config as C
from ganforge import viz

from conftest import tiny
from test_latent import cli

iio = pytest.importorskip("imageio.v2", reason="the video extra (imageio, imageio-ffmpeg) is not installed")
pytest.importorskip("imageio_ffmpeg", reason="the video extra (imageio-ffmpeg) is not installed")


def read(path):
    r = iio.get_reader(str(path))
    try:
        return np.stack([f for f in r]), r.get_meta_data()["fps"]
    finally:
        r.close()


def close(a, b, mean=3.0):
    """Within H.264's (yuv420p, crf 12) tolerance: mean absolute difference of 0..255 values."""
    return np.abs(a.astype(int) - b.astype(int)).mean() < mean


def test_save_animation_mp4_frames_size_and_timing(tmp_path):
    rng = np.random.default_rng(0)
    smooth = [np.kron(rng.integers(0, 256, (5, 6, 3)), np.ones((4, 4, 1))).astype(np.uint8) for _ in range(4)]
    path = viz.save_animation(smooth, tmp_path / "x.gif", [100, 300, 100, 100], scale=2, video="mp4")
    assert path == tmp_path / "x.mp4"
    frames, fps = read(path)
    assert fps == pytest.approx(10) and len(frames) == 6  # the 300 ms frame is held for 3 frames
    assert frames.shape[1:] == (40, 48, 3)
    assert close(frames[0], smooth[0].repeat(2, 0).repeat(2, 1))
    assert close(frames[1], frames[3], 0.5) and not close(frames[0], frames[1])


def test_odd_sizes_are_padded(tmp_path):
    frame = np.full((7, 9, 3), 200, np.uint8)
    frames, _ = read(viz.save_animation([frame, frame], tmp_path / "odd", video="mp4"))
    assert frames.shape[1:3] == (8, 10) and close(frames[0][:7, :9], frame)


def test_without_imageio_mp4_falls_back_to_a_gif(tmp_path, monkeypatch):
    real = builtins.__import__

    def no_imageio(name, *a, **k):
        if name.startswith("imageio"):
            raise ImportError(f"No module named {name!r}", name=name)
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", no_imageio)
    with pytest.warns(UserWarning, match="ganforge\\[video\\]"):
        path = viz.save_animation([np.zeros((4, 4, 3), np.uint8)] * 2, tmp_path / "x", video="mp4")
    assert path == tmp_path / "x.gif" and path.is_file()


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    cfg = tiny({"data": {"name": "digits", "resolution": 16}, "model": {"family": "dcgan", "nz": 8}},
               train={"video": "mp4"})
    return ganforge.train(C.from_dict(cfg), out=tmp_path_factory.mktemp("v") / "run")


def test_training_timelapse_as_mp4(run):
    frames, _ = read(run / "timelapse.mp4")
    snapshots = sorted((run / "samples").glob("step-*.png"))
    assert not (run / "timelapse.gif").exists()
    first = np.asarray(Image.open(snapshots[0]).convert("RGB"))
    assert frames.shape[1:3] == tuple(s + s % 2 for s in first.shape[:2])
    assert close(frames[0][:first.shape[0], :first.shape[1]], first)
    last = np.asarray(Image.open(snapshots[-1]).convert("RGB"))
    assert close(frames[-1][:last.shape[0], :last.shape[1]], last)


def test_interpolate_video_matches_its_gif(run, tmp_path):
    assert cli(["interpolate", str(run), "--seeds", "1:2", "--steps", "4", "--out", str(tmp_path / "g")]) == 0
    assert cli(["interpolate", str(run), "--seeds", "1:2", "--steps", "4", "--out", str(tmp_path / "m"), "--video", "mp4"]) == 0
    gif = Image.open(tmp_path / "g.gif")
    n_gif = gif.n_frames
    first = np.asarray(gif.convert("RGB"))
    frames, _ = read(tmp_path / "m.mp4")
    strip = np.asarray(Image.open(tmp_path / "m-seed1-2.png").convert("RGB"))
    assert n_gif == 6 and len(frames) == 5 + 1 + 1 + 5 + 1 + 1  # frames 0 1 2 3 2 1, the ends held 5 times
    assert close(frames[0][:first.shape[0], :first.shape[1]], first)
    assert close(frames[0][:strip.shape[0], :64], strip[:, :64])  # the strip's first image
    assert (tmp_path / "m.latents.npz").is_file() and torch.is_tensor(ganforge.latent.load_latents(tmp_path / "m.mp4")[0])
