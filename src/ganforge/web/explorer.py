"""The latent explorer's server side: a run's generator (through the safe loader,
``ganforge.load``), and pictures of the latents the page sends, with ganforge.latent's maths
(lerp, slerp, vector arithmetic).

Generators are cached by their checkpoint's resolved path (``ring``, ``./ring`` and
``././ring`` are one entry), at most MAX_MODELS of them and MAX_MODEL_BYTES of parameters,
least recently used out first; at most WORKERS requests compute at once, so memory stays
bounded however many requests arrive."""
from __future__ import annotations

import base64
import io
import math
import tempfile
import threading
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

from .. import checkpoint, latent, viz
from ..errors import ConfigError
from ..generator import Generator
from ..loader import load
from . import photos
from .inputs import MAX_SEED, Busy, integer, text
from .runs_view import run_path, within

MAX_LATENTS = 256  # vectors per request
MAX_NZ = 4096
MAX_ABS = 1000.0  # a latent coordinate's magnitude (samples are N(0, 1); the sliders reach 3)
MAX_PERTURB = 32  # perturbed neighbours of an arithmetic result
MAX_MODELS = 4
MAX_MODEL_BYTES = 1 << 30  # parameter bytes held by the cache (one larger model is still served, alone)
WORKERS = 2  # requests computing at once; others wait up to WAIT seconds, then get a 409
WAIT = 30.0
TILE = 96  # images are shown at least this many pixels wide


def param_bytes(g: Generator) -> int:
    return sum(t.numel() * t.element_size() for t in (*g.net.parameters(), *g.net.buffers()))


class Explorer:
    def __init__(self, root: Path, max_models: int = MAX_MODELS, max_bytes: int = MAX_MODEL_BYTES):
        self.root = Path(root)
        self.max_models, self.max_bytes = max_models, max_bytes
        self._cache: OrderedDict[str, tuple[tuple, Generator, int]] = OrderedDict()
        self._lock = threading.Lock()
        self._workers = threading.BoundedSemaphore(WORKERS)

    def generator(self, name: str) -> Generator:
        """The run's generator, reloaded when a newer checkpoint appears."""
        ckpt = within(self.root, checkpoint.resolve(run_path(self.root, name)))
        st = ckpt.stat()
        stamp, key = (st.st_mtime_ns, st.st_size), str(ckpt)
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] == stamp:
                self._cache.move_to_end(key)
                return hit[1]
            self._cache.pop(key, None)
            g = load(ckpt)
            self._cache[key] = (stamp, g, param_bytes(g))
            while len(self._cache) > 1 and (len(self._cache) > self.max_models or self.held_bytes() > self.max_bytes):
                self._cache.popitem(last=False)
            return g

    def held_bytes(self) -> int:
        return sum(size for _, _, size in self._cache.values())

    def cached(self) -> int:
        return len(self._cache)

    def work(self, method: str, name: str, body: dict):
        """A request's computation, at most WORKERS at once."""
        if not self._workers.acquire(timeout=WAIT):
            raise Busy(f"the explorer is busy with {WORKERS} requests; try again")
        try:
            return getattr(self, method)(name, body)
        finally:
            self._workers.release()

    def info(self, name: str, n: int = 16, seed: int = 0) -> dict:
        seed = integer("seed", seed, 0, MAX_SEED)
        if not self._workers.acquire(timeout=WAIT):
            raise Busy(f"the explorer is busy with {WORKERS} requests; try again")
        try:
            g = self.generator(name)
            z = g.latents(n, seed=seed)
        finally:
            self._workers.release()
        return {"run": name, "nz": g.nz, "kind": g.info.kind, "step": g.step, "conditional": g.conditional,
                "classes": latent.class_names(g) if g.conditional else [], "samples": z.tolist(),
                "checkpoint": g.source.name if g.source else None}

    # -- requests ------------------------------------------------------------------------
    def latents(self, g: Generator, body: dict, key: str = "z") -> torch.Tensor:
        z = body.get(key)
        rows = z if isinstance(z, list) and z and all(isinstance(r, list) for r in z) else [z]
        if not (isinstance(z, list) and 1 <= len(rows) <= MAX_LATENTS and all(
                isinstance(r, list) and 1 <= len(r) <= MAX_NZ for r in rows)):
            raise ConfigError(f"{key}: expected 1 to {MAX_LATENTS} latent vectors (lists of numbers)")
        flat = [v for r in rows for v in r]
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
            raise ConfigError(f"{key}: expected a list of latent vectors (lists of numbers)")
        if not all(math.isfinite(v) and abs(v) <= MAX_ABS for v in map(_as_float, flat)):
            raise ConfigError(f"{key}: latent values must be finite numbers of magnitude at most {MAX_ABS:g}")
        if len({len(r) for r in rows}) != 1:
            raise ConfigError(f"{key}: the latent vectors differ in length")
        t = torch.tensor([[float(v) for v in r] for r in rows], dtype=torch.float32)
        latent.check_nz(g, t, key)
        return t

    def labels(self, g: Generator, body: dict, n: int) -> torch.Tensor | None:
        if not g.conditional:
            return None
        k, cls = g.info.num_classes, body.get("y", 0)
        if isinstance(cls, str) and cls.isascii() and cls.isdigit() and len(cls) < 10:
            cls = int(cls)
        ok = lambda v: not isinstance(v, bool) and isinstance(v, (int, float)) and _as_float(v).is_integer() and 0 <= v < k
        if isinstance(cls, list) and len(cls) == n and all(map(ok, cls)):
            return g.labels_for(n, [int(v) for v in cls])
        if not isinstance(cls, list) and ok(cls):
            return g.labels_for(n, int(cls))
        raise ConfigError(f"y = {str(cls)[:40]}: expected a class in 0..{k - 1}, or one for each of the {n} "
                          f"latents (this generator has {k} classes)")

    def cols(self, body: dict, n: int) -> int:
        c = body.get("cols")
        return math.ceil(math.sqrt(n)) if c in (None, 0) else integer("cols", c, 1, MAX_LATENTS)

    def render(self, name: str, body: dict) -> dict:
        g = self.generator(name)
        z = self.latents(g, body)
        y = self.labels(g, body, len(z))
        return self.picture(g, z, y, self.cols(body, len(z)))

    def interpolate(self, name: str, body: dict) -> dict:
        g = self.generator(name)
        a, b = self.latents(g, body, "a")[0], self.latents(g, body, "b")[0]
        steps = integer("steps", body.get("steps", 8), 2, 64)
        z = latent.interpolate(a, b, steps, text("method", body.get("method", "slerp"), 20))
        return self.picture(g, z, self.labels(g, body, len(z)), steps)

    def arithmetic(self, name: str, body: dict) -> dict:
        g = self.generator(name)
        za, zb, zc = (self.latents(g, body, k) for k in ("a", "b", "c"))
        n_perturb = integer("perturb", body.get("perturb", 7), 0, MAX_PERTURB)
        v = latent.arithmetic_vectors(za, zb, zc, n_perturb=n_perturb, sigma=0.25)
        z = torch.stack([v["mean_a"], v["mean_b"], v["mean_c"], v["result"], *v["perturbed"]])
        return self.picture(g, z, self.labels(g, body, len(z)), 4)

    def project(self, name: str, body: dict) -> dict:
        """A photo the page sends, projected: its latent to explore from (web/photos.py)."""
        return photos.project(self, name, body)

    def directions(self, name: str, body: dict) -> dict:
        """The run's discovered directions for the sliders (web/photos.py)."""
        return photos.directions(self, name, body)

    def picture(self, g: Generator, z: torch.Tensor, y: torch.Tensor | None, cols: int) -> dict:
        png = to_png(g, z, y, cols)
        return {"png": "data:image/png;base64," + base64.b64encode(png).decode(), "z": z.tolist(),
                "y": None if y is None else y.tolist()}

    def download(self, name: str, body: dict) -> bytes:
        """A zip of picture.png and picture.latents.npz (``ganforge.latent.load_latents`` reads it)."""
        g = self.generator(name)
        z = self.latents(g, body)
        y = self.labels(g, body, len(z))
        cols = self.cols(body, len(z))
        with tempfile.TemporaryDirectory() as tmp:
            lat = latent.save_latents(Path(tmp) / "picture.png", z, y, run=name, step=g.step)
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w") as zf:
                zf.writestr("picture.png", to_png(g, z, y, cols))
                zf.write(lat, lat.name)
        return buf.getvalue()


def _as_float(v) -> float:
    try:
        return float(v)
    except OverflowError:  # an integer of hundreds of digits
        return math.inf


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
