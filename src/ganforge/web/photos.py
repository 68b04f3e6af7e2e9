"""The explorer's start from a real image, and its discovered directions.

- ``project``: a photo the page sends (a data URL, which the page has already shrunk to at
  most 512 pixels a side) is fitted to the generator as its training data was and projected
  (ganforge.latent.project) with a bounded number of steps and starts; the answer is its
  latent (and class), its projection's picture and the fitted target's, to explore from.
- ``directions``: the run's discovered directions for the sliders: the newest
  RUN/latent/*/directions.npz that ``ganforge directions`` wrote, else SeFa's computed on the
  spot (a closed form on G's first layer: milliseconds).

Every value is checked first (a 4xx names it); decoding refuses a picture of over MAX_PIXELS.
"""
from __future__ import annotations

import base64
import binascii
import io
import tempfile
from pathlib import Path

import torch
from PIL import Image

from .. import latent
from ..errors import ConfigError, DataError
from ..latent import directions as found_directions
from ..latent import distance as distances
from .inputs import integer
from .runs_view import run_path, within

MAX_IMAGE_BYTES = 768 << 10  # a data URL's picture, decoded (the JSON body's own limit is 1 MiB)
MAX_PIXELS = 4_000_000  # width x height of that picture: a small file can decode to a huge one
MAX_STEPS, MAX_STARTS = 400, 16
SLIDERS = 8  # directions sent to the page


def project(explorer, name: str, body: dict) -> dict:
    g = explorer.generator(name)
    latent.require_images(g, "project")
    raw = _image_bytes(body.get("image"))
    steps = integer("steps", body.get("steps", 150), 10, MAX_STEPS)
    starts = integer("starts", body.get("starts", 4), 1, MAX_STARTS)
    invert = body.get("invert", False)
    if not isinstance(invert, bool):
        raise ConfigError(f"invert = {str(invert)[:40]}: expected true or false")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "photo"
        path.write_bytes(raw)
        try:
            x, _ = latent.load_targets(g, [path], invert=invert, max_pixels=MAX_PIXELS)
        except DataError as e:  # name the field, not the temporary file
            raise ConfigError("image: " + str(e).replace(str(path), "the picture")) from None
    try:
        distance = distances.build(g, distances.DEFAULT)
    except ConfigError:  # an export keeps no discriminator: pixels alone
        distance = distances.build(g, "pixels")
    r = latent.project(g, x, distance, steps=steps, starts=starts)
    out = explorer.picture(g, r["z"], r["y"], 1)
    out.update(target=_target_png(x), rms=float(r["rms"][0]), distance=distance.name)
    return out


def directions(explorer, name: str, body: dict) -> dict:
    g = explorer.generator(name)
    run = run_path(explorer.root, name)
    files = sorted((run / "latent").glob("*/" + found_directions.DIRECTIONS_FILE), key=lambda p: p.stat().st_mtime)
    if files:
        path = within(explorer.root, files[-1])
        d, ev = found_directions.load(path, g.nz)
        source = str(path.relative_to(run))
    else:
        found = found_directions.sefa(g)
        d, ev, source = found["directions"], found["explained_variance"].numpy(), "sefa, computed from G's first layer"
    k = min(SLIDERS, len(d))
    return {"directions": d[:k].tolist(), "explained": [float(v) for v in ev[:k]], "source": source}


def _image_bytes(data) -> bytes:
    if not isinstance(data, str) or not data.startswith("data:image/") or ";base64," not in data[:80]:
        raise ConfigError("image: expected a picture as a data URL (data:image/png;base64,...)")
    b64 = data.split(",", 1)[1]
    if len(b64) > MAX_IMAGE_BYTES * 4 // 3 + 4:
        raise ConfigError(f"image: over {MAX_IMAGE_BYTES:,} bytes; shrink it first")
    try:
        return base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("image: not valid base64 after 'base64,'") from None


def _target_png(x: torch.Tensor) -> str:
    from .. import viz

    a = viz.to_uint8(x)[0]
    img = Image.fromarray(a[..., 0] if a.shape[-1] == 1 else a)
    scale = max(1, 96 // img.width)
    img = img.resize((img.width * scale, img.height * scale), Image.NEAREST)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()
