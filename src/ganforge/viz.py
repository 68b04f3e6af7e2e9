"""Pictures of a run: image grids, toy scatter plots, loss plots and the timelapse GIF; and
the labelled figures of latent exploration (tiles with axes, side-by-side scatter panels).

Pillow writes grids and GIFs (no torchvision needed); matplotlib (Agg) draws plots.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from . import runs

PAD = 2  # pixels between tiles, before enlarging
MIN_TILE = 64  # tiles smaller than this are enlarged by an integer factor, so digits stay legible


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """Images in [-1, 1], (N, C, H, W) → uint8 (N, H, W, C)."""
    x = ((x.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).numpy()


def grid(images: np.ndarray, nrow: int | None = None, pad: int = PAD, fill: int = 0) -> np.ndarray:
    """uint8 (N, H, W, C) → one uint8 (H', W', C) image, row-major, ``nrow`` images per row,
    ``pad`` pixels of ``fill`` between them."""
    n, h, w, c = images.shape
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    out = np.full((rows * (h + pad) + pad, nrow * (w + pad) + pad, c), fill, np.uint8)
    for i, im in enumerate(images):
        r, col = divmod(i, nrow)
        out[pad + r * (h + pad): pad + r * (h + pad) + h, pad + col * (w + pad): pad + col * (w + pad) + w] = im
    return out


def to_pil(array: np.ndarray, scale: int = 1) -> Image.Image:
    """uint8 (H, W, C) → a Pillow image, enlarged ``scale`` times (nearest neighbour)."""
    img = Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST) if scale > 1 else img


def save_image(array: np.ndarray, path: Path, scale: int = 1) -> None:
    """uint8 (H, W, C) → PNG, enlarged ``scale`` times (nearest neighbour)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    to_pil(array, scale).save(path)


def tile_scale(side: int) -> int:
    """The integer factor that enlarges a tile of ``side`` pixels to about MIN_TILE."""
    return max(1, MIN_TILE // side)


def save_grid(x: torch.Tensor, path: Path, nrow: int | None = None) -> None:
    """A grid PNG; small tiles are enlarged (tile_scale) so digits stay legible."""
    save_image(grid(to_uint8(x), nrow), path, scale=tile_scale(x.shape[-1]))


def scatter(fake: np.ndarray, real: np.ndarray | None, path: Path, centers=None, title: str = "", lim: float | None = None) -> None:
    """Generated points over real ones, with the toy's mode centres marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 4), dpi=80)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="tab:blue", alpha=0.3, label="real")
    ax.scatter(fake[:, 0], fake[:, 1], s=2, c="tab:orange", alpha=0.6, label="generated")
    if centers is not None:
        c = np.asarray(centers)
        ax.scatter(c[:, 0], c[:, 1], s=30, marker="x", c="k", label="mode centres")
    if lim:
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="upper right", fontsize=6, markerscale=3)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def save_gif(frames: list[Path | np.ndarray], path: Path, durations: list[int] | None = None, scale: int = 1) -> None:
    """An animated GIF of ``frames`` (PNG paths or uint8 (H, W, C) arrays), each enlarged ``scale``
    times, looping. Without ``durations``, the timelapse's: 250 ms a frame, the last held 1.5 s."""
    images = [to_pil(np.asarray(Image.open(f).convert("RGB")) if isinstance(f, (str, Path)) else f, scale) for f in frames]
    if not images:
        return
    size = images[-1].size
    images = [im.resize(size) if im.size != size else im for im in images]
    durations = durations or [250] * (len(images) - 1) + [1500]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0)


VIDEO_FORMATS = ("gif", "mp4")


def save_animation(frames: list, path: Path, durations: list[int] | None = None, scale: int = 1,
                   video: str = "gif") -> Path:
    """``frames`` as ``path`` with the suffix of ``video`` (gif or mp4); returns the path written.

    Without imageio and imageio-ffmpeg (``pip install "ganforge[video]"``) an MP4 request warns
    once and writes the GIF instead, so a missing extra never loses the animation."""
    if video not in VIDEO_FORMATS:
        raise ValueError(f"video format {video!r}: must be one of {', '.join(VIDEO_FORMATS)}")
    path = Path(path)
    if video == "mp4":
        try:
            import imageio.v2  # noqa: F401
            import imageio_ffmpeg  # noqa: F401
        except ImportError as e:
            import warnings

            warnings.warn(f"--video mp4 needs imageio and imageio-ffmpeg ({e.name} is missing: "
                          f"pip install \"ganforge[video]\"); wrote a GIF instead")
        else:
            out = path.with_suffix(".mp4")
            save_video(frames, out, durations, scale)
            return out
    out = path.with_suffix(".gif")
    save_gif(frames, out, durations, scale)
    return out


def save_video(frames: list, path: Path, durations: list[int] | None = None, scale: int = 1) -> None:
    """An H.264 MP4 (yuv420p, which every player and browser plays) through imageio-ffmpeg,
    whose wheel ships the ffmpeg binary. MP4 frames have one rate: the rate is that of the
    shortest duration and longer frames are repeated. An odd width or height is padded by
    one black pixel, as yuv420p needs even sides; crf 12 keeps digits' edges crisp."""
    import imageio.v2 as iio

    images = [np.asarray(to_pil(np.asarray(Image.open(f).convert("RGB")) if isinstance(f, (str, Path)) else f, scale).convert("RGB"))
              for f in frames]
    if not images:
        return
    durations = durations or [250] * (len(images) - 1) + [1500]
    base = max(10, min(durations))
    h, w = images[-1].shape[:2]
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    writer = iio.get_writer(str(path), format="FFMPEG", mode="I", fps=1000 / base, codec="libx264", quality=None,
                            pixelformat="yuv420p", macro_block_size=1, ffmpeg_log_level="error",
                            ffmpeg_params=["-crf", "12", "-preset", "medium"])
    try:
        for im, d in zip(images, durations):
            if im.shape[:2] != (h, w):
                im = np.asarray(Image.fromarray(im).resize((w, h)))
            im = np.pad(im, ((0, h % 2), (0, w % 2), (0, 0)))
            for _ in range(max(1, round(d / base))):
                writer.append_data(im)
    finally:
        writer.close()


def plot_losses(rows: list[dict], path: Path) -> None:
    """Two panels: the losses, and D's readouts on real and generated data."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [r for r in rows if "loss_d" in r]
    if not rows:
        return
    steps = [r["step"] for r in rows]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6), dpi=90)
    for key, label in [("loss_d", "D loss"), ("loss_g", "G loss")]:
        a.plot(steps, [r[key] for r in rows], label=label)
    a.set_xlabel("step")
    a.set_title("losses")
    a.legend()
    for key, label in [("d_real", "D(x)"), ("d_fake", "D(G(z))")]:
        if key in rows[0]:
            b.plot(steps, [r[key] for r in rows], label=label)
    b.set_xlabel("step")
    b.set_title("discriminator outputs")
    b.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


# ============================================================================ labelled figures

def tile_figure(cells: list[list[np.ndarray | None]], path: str | Path, row_labels=None, col_labels=None,
                xlabel: str = "", ylabel: str = "", title: str = "", scale: int | None = None, dpi: int = 100) -> dict:
    """Tiles (uint8 (H, W, C), None = blank) on a white canvas with 2-px gaps, enlarged by an
    integer factor (nearest neighbour) as save_grid does, placed pixel for pixel into a
    matplotlib figure (figimage: no resampling) whose axes carry the row and column labels.

    Returns {"path", "canvas_box": (top, left, height, width) of the canvas in the PNG,
    "scale", "xticks": [(column, label)], "yticks": [(row, label)]}.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = max(len(r) for r in cells)
    first = next(t for r in cells for t in r if t is not None)
    h, w, c = first.shape
    blank = np.full_like(first, 255)
    tiles = np.stack([t if t is not None else blank for r in cells for t in r + [None] * (cols - len(r))])
    s = scale or tile_scale(h)
    canvas = grid(tiles, nrow=cols, pad=PAD, fill=255).repeat(s, 0).repeat(s, 1)
    H, W = canvas.shape[:2]
    cw, ch = (w + PAD) * s, (h + PAD) * s  # cell pitch
    xticks = _thin(list(col_labels or []), cw, [6.5 * len(l) + 6 for l in col_labels or []])
    yticks = _thin(list(row_labels or []), ch, [12] * len(row_labels or []))
    rotate = any(len(lbl) * 6.5 > cw for _, lbl in xticks)
    longest_x = max((len(lbl) for _, lbl in xticks), default=0)
    left = 8 + (20 if ylabel else 0) + (int(6.5 * max((len(lbl) for _, lbl in yticks), default=0)) + 10 if yticks else 0)
    bottom = 8 + (20 if xlabel else 0) + ((int(6.5 * longest_x) + 10 if rotate else 20) if xticks else 0)
    top = 8 + (22 * (title.count("\n") + 1) if title else 0)
    right = 10
    # A title wider than the canvas would be cut: widen the figure (text ≈ 6.5 px per character at 9 pt).
    title_w = int(6.5 * max((len(line) for line in title.split("\n")), default=0))
    extra = max(0, title_w - (left + W + right))
    left, right = left + extra // 2, right + extra - extra // 2
    FW, FH = left + W + right, top + H + bottom
    fig = plt.figure(figsize=(FW / dpi, FH / dpi), dpi=dpi)
    # uint8 RGB is drawn as is; a grey image would go through a colormap, which rounds.
    fig.figimage(canvas.repeat(3, 2) if c == 1 else canvas, xo=left, yo=bottom, origin="upper")
    ax = fig.add_axes([left / FW, bottom / FH, W / FW, H / FH])
    ax.patch.set_visible(False)
    for sp in ax.spines.values():
        sp.set_visible(False)
    ax.set_xlim(0, W)
    ax.set_ylim(H, 0)
    ax.set_xticks([PAD * s + k * cw + w * s / 2 for k, _ in xticks], [lbl for _, lbl in xticks],
                  fontsize=8, rotation=90 if rotate else 0)
    ax.set_yticks([PAD * s + r * ch + h * s / 2 for r, _ in yticks], [lbl for _, lbl in yticks], fontsize=8)
    ax.tick_params(length=3 if xticks or yticks else 0)
    if xlabel:
        ax.set_xlabel(xlabel, fontsize=9)
    if ylabel:
        ax.set_ylabel(ylabel, fontsize=9)
    if title:
        fig.text(0.5, 1 - 6 / FH, title, ha="center", va="top", fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return {"path": Path(path), "size": (FW, FH), "canvas_box": (top, left, H, W), "scale": s, "xticks": xticks, "yticks": yticks}


def points_figure(panels: list[dict], path: str | Path, title: str = "", dpi: int = 100) -> dict:
    """Side-by-side scatter panels, 400×400 px each plus a title band: each panel a dict with
    points (N, 2), colours (N, 3), title, and optionally centers (marked x), lim, xlabel, ylabel."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    band = 22 * (title.count("\n") + 1) if title else 0
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), (400 + band) / dpi), dpi=dpi, squeeze=False,
                             layout="constrained")
    for ax, p in zip(axes[0], panels):
        pts = np.asarray(p["points"])
        ax.scatter(pts[:, 0], pts[:, 1], s=6, c=np.asarray(p["colours"]), linewidths=0)
        if p.get("centers") is not None:
            cc = np.asarray(p["centers"])
            ax.scatter(cc[:, 0], cc[:, 1], s=30, marker="x", c="k", label="mode centres")
        if p.get("lim"):
            ax.set_xlim(-p["lim"], p["lim"])
            ax.set_ylim(-p["lim"], p["lim"])
        ax.set_aspect("equal")
        ax.set_title(p.get("title", ""), fontsize=9)
        ax.set_xlabel(p.get("xlabel", ""), fontsize=8)
        ax.set_ylabel(p.get("ylabel", ""), fontsize=8)
        ax.tick_params(labelsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
    return {"path": Path(path)}


def position_colours(coords: torch.Tensor, radius: float) -> np.ndarray:
    """RGB colours for 2-D positions: hue = angle around the origin, saturation = distance /
    radius (white at the origin), so neighbouring positions get similar colours."""
    from matplotlib.colors import hsv_to_rgb

    c = np.asarray(coords, np.float64)
    hue = (np.arctan2(c[:, 1], c[:, 0]) / (2 * np.pi)) % 1.0
    sat = np.clip(np.hypot(c[:, 0], c[:, 1]) / radius, 0, 1)
    return hsv_to_rgb(np.stack([hue, sat, np.full_like(hue, 0.85)], 1))


def _thin(labels: list[str], pitch: float, sizes: list[float]) -> list[tuple[int, str]]:
    """(index, label) for the labels that fit at ``pitch`` pixels apart (``sizes``: each
    label's extent along the axis): every k-th, always the first and the last."""
    if not labels:
        return []
    need = max(sizes)
    k = math.ceil(need / pitch) if pitch < need and len(labels) > 2 else 1
    keep = list(range(0, len(labels), k))
    if keep[-1] != len(labels) - 1:
        keep[-1] = len(labels) - 1
    return [(i, labels[i]) for i in keep]


# ---------------------------------------------------------------------------- a training run's pictures

@torch.no_grad()
def snapshot(G, z, y, source, path: Path, title: str) -> None:
    """A fixed-noise picture: an image grid, or generated over real points for 2-D toys.

    G runs in eval mode (BatchNorm running statistics), as ``ganforge sample`` does, so
    snapshots show what the saved generator produces and drawing them changes no state.
    """
    was_training = G.training
    G.eval()
    x = G(z, y).float().cpu()
    G.train(was_training)
    info = source.info
    if info.kind == "points":
        real, _ = source.real_samples(len(x), seed=0)
        s = info.point_scale
        scatter((x * s).numpy(), (real * s).numpy(), path, info.centers, title, lim=1.1 * s)
    else:
        save_grid(x, path)


MAX_FRAMES = 100  # snapshot PNGs kept per run: long runs stay bounded on disk


def thin_frames(samples: Path) -> None:
    """Past MAX_FRAMES snapshots, drop every other one (never the first or the latest): the
    timelapse still spans the whole run, at a coarser pace for its early part."""
    frames = runs.frames(samples.parent)
    if len(frames) > MAX_FRAMES:
        for p in frames[1:-1:2]:
            p.unlink(missing_ok=True)


def finish(run: runs.Run) -> None:
    """A run's summary pictures: the last snapshot as final.png, the timelapse, the losses."""
    frames = run.frames()
    if frames:
        run.write(run.final, lambda f: f.write(frames[-1].read_bytes()))
        video = (runs.read_config(run.path).get("train") or {}).get("video", "gif")  # train.video
        save_animation(frames, run.timelapse, video=video)
    plot_losses(runs.read_metrics(run.path), run.losses)
