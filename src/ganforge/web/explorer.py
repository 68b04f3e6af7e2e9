"""The latent explorer's server side: a run's generator (through the safe loader,
``ganforge.load``), and pictures of the latents the page sends, with ganforge.latent's maths
(lerp, slerp, vector arithmetic)."""
from __future__ import annotations

import base64
import io
import math
import tempfile
import threading
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import checkpoint, latent, viz
from ..errors import ConfigError
from ..generator import Generator
from ..loader import load
from .runs_view import run_path

MAX_LATENTS = 256  # vectors per request
MAX_NZ = 4096
TILE = 96  # images are shown at least this many pixels wide


class Explorer:
    def __init__(self, root: Path):
        self.root = Path(root)
        self._cache: dict[str, tuple[Path, float, Generator]] = {}
        self._lock = threading.Lock()

    def generator(self, name: str) -> Generator:
        """The run's generator, reloaded when a newer checkpoint appears."""
        run = run_path(self.root, name)
        ckpt = checkpoint.resolve(run)
        mtime = ckpt.stat().st_mtime
        with self._lock:
            hit = self._cache.get(name)
            if hit is None or hit[0] != ckpt or hit[1] != mtime:
                self._cache[name] = (ckpt, mtime, load(ckpt))
            return self._cache[name][2]

    def info(self, name: str, n: int = 16, seed: int = 0) -> dict:
        g = self.generator(name)
        z = g.latents(n, seed=seed)
        return {"run": name, "nz": g.nz, "kind": g.info.kind, "step": g.step, "conditional": g.conditional,
                "classes": latent.class_names(g) if g.conditional else [], "samples": z.tolist(),
                "checkpoint": g.source.name if g.source else None}

    # -- requests ------------------------------------------------------------------------
    def latents(self, g: Generator, body: dict, key: str = "z") -> torch.Tensor:
        z = body.get(key)
        try:
            t = torch.tensor(z, dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError):
            raise ConfigError(f"{key}: expected a list of latent vectors (lists of numbers)") from None
        if t.dim() == 1 and len(t):
            t = t[None]
        if t.dim() != 2 or not 1 <= len(t) <= MAX_LATENTS:
            raise ConfigError(f"{key}: expected 1 to {MAX_LATENTS} latent vectors, got shape {tuple(t.shape)}")
        latent.check_nz(g, t, key)
        if not torch.isfinite(t).all():
            raise ConfigError(f"{key}: latent values must be finite numbers")
        return t

    def labels(self, g: Generator, body: dict, n: int) -> torch.Tensor | None:
        if not g.conditional:
            return None
        cls = body.get("y", 0)
        try:
            return g.labels_for(n, int(cls) if isinstance(cls, (int, float, str)) else cls)
        except (ValueError, TypeError) as e:
            raise ConfigError(f"y: {e} (this generator has {g.info.num_classes} classes)") from None

    def render(self, name: str, body: dict) -> dict:
        g = self.generator(name)
        z = self.latents(g, body)
        y = self.labels(g, body, len(z))
        cols = int(body.get("cols") or math.ceil(math.sqrt(len(z))))
        return self.picture(g, z, y, cols)

    def interpolate(self, name: str, body: dict) -> dict:
        g = self.generator(name)
        a, b = self.latents(g, body, "a")[0], self.latents(g, body, "b")[0]
        steps = body.get("steps", 8)
        if not isinstance(steps, int) or not 2 <= steps <= 64:
            raise ConfigError(f"steps = {steps!r}: expected an integer in 2..64")
        z = latent.interpolate(a, b, steps, str(body.get("method", "slerp")))
        return self.picture(g, z, self.labels(g, body, len(z)), steps)

    def arithmetic(self, name: str, body: dict) -> dict:
        g = self.generator(name)
        za, zb, zc = (self.latents(g, body, k) for k in ("a", "b", "c"))
        v = latent.arithmetic_vectors(za, zb, zc, n_perturb=int(body.get("perturb", 7)), sigma=0.25)
        z = torch.stack([v["mean_a"], v["mean_b"], v["mean_c"], v["result"], *v["perturbed"]])
        return self.picture(g, z, self.labels(g, body, len(z)), 4)

    def picture(self, g: Generator, z: torch.Tensor, y: torch.Tensor | None, cols: int) -> dict:
        png = to_png(g, z, y, cols)
        return {"png": "data:image/png;base64," + base64.b64encode(png).decode(), "z": z.tolist(),
                "y": None if y is None else y.tolist()}

    def download(self, name: str, body: dict) -> bytes:
        """A zip of picture.png and picture.latents.npz (``ganforge.latent.load_latents`` reads it)."""
        g = self.generator(name)
        z = self.latents(g, body)
        y = self.labels(g, body, len(z))
        cols = int(body.get("cols") or math.ceil(math.sqrt(len(z))))
        with tempfile.TemporaryDirectory() as tmp:
            lat = latent.save_latents(Path(tmp) / "picture.png", z, y, run=name, step=g.step)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.writestr("picture.png", to_png(g, z, y, cols))
                zf.write(lat, lat.name)
        return buf.getvalue()


def to_png(g: Generator, z: torch.Tensor, y: torch.Tensor | None, cols: int) -> bytes:
    x = g(z, y)
    if g.info.kind == "points":
        img = points_image(x, g.info)
    else:
        img = Image.fromarray(squeeze(viz.grid(viz.to_uint8(x), max(1, min(cols, len(x))), pad=1 if len(x) > 1 else 0)))
        scale = max(1, TILE // x.shape[-1])
        img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def squeeze(a: np.ndarray) -> np.ndarray:
    return a[..., 0] if a.shape[-1] == 1 else a


def points_image(x: torch.Tensor, info, size: int = 256) -> Image.Image:
    """2-D samples as dots on a square canvas over the toy's extent, mode centres as crosses."""
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    lim = 1.1 * info.point_scale
    px = lambda p: ((p[0] / lim + 1) * size / 2, (1 - p[1] / lim) * size / 2)
    for c in info.centers or []:
        cx, cy = px(c)
        d.line([(cx - 4, cy - 4), (cx + 4, cy + 4)], fill="black")
        d.line([(cx - 4, cy + 4), (cx + 4, cy - 4)], fill="black")
    for i, p in enumerate(x.tolist()):
        cx, cy = px(p)
        hue = (37 * i) % 360
        d.ellipse([cx - 3, cy - 3, cx + 3, cy + 3], fill=f"hsl({hue}, 80%, 45%)")
    return img
