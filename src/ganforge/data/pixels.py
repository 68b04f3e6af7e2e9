"""One image file → uint8 pixels (C, R, R), for the folder loader: the first frame, EXIF
orientation applied, flattened to 8-bit L or RGB, the centred square resampled with Lanczos.
folder.py's docstring says what happens to each kind of pixel; a bad file is a skip reason,
never an exception.
"""
from __future__ import annotations

import os
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

WIDE_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")


def decode_file(path: str, resolution: int, channels: int, max_pixels: int) -> tuple[np.ndarray | None, str, str]:
    """One file → (uint8 (C, R, R), "", "") or (None, skip reason, detail). Never raises."""
    try:
        f = open(path, "rb")
    except OSError as e:
        return None, "unreadable", str(e)
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        with f, warnings.catch_warnings():
            if os.fstat(f.fileno()).st_size == 0:
                return None, "empty file", "0 bytes"
            # Pillow's own bomb check, at our limit, as an error: it also guards the
            # frames and tiles that Pillow opens internally.
            Image.MAX_IMAGE_PIXELS = max_pixels
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(f)  # lazy: reads the header only
            w, h = im.size
            if w * h > max_pixels:
                return None, f"too large: > {max_pixels} pixels", f"{w}x{h}"
            if min(w, h) < 1:
                return None, "corrupt or truncated", f"size {w}x{h}"
            m = min(w, h)
            if im.format == "JPEG" and m > 4 * resolution:
                # Let libjpeg decode at 1/2..1/8 scale, keeping >= 2x the target for quality.
                t = 2 * resolution
                im.draft(None, (max(1, w * t // m), max(1, h * t // m)))
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:  # malformed EXIF is common in scraped images; the pixels may be fine
                pass
            im = flatten(im).convert("L" if channels == 1 else "RGB")
            w, h = im.size
            m = min(w, h)
            box = ((w - m) / 2, (h - m) / 2, (w + m) / 2, (h + m) / 2)
            im = im.resize((resolution, resolution), Image.Resampling.LANCZOS, box=box, reducing_gap=3.0)
            arr = np.asarray(im, dtype=np.uint8)
            return (arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)).copy(), "", ""
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        return None, f"too large: > {max_pixels} pixels", str(e)
    except UnidentifiedImageError as e:
        return None, "not a valid image", str(e)
    except (PermissionError, IsADirectoryError, FileNotFoundError) as e:
        return None, "unreadable", str(e)
    except Exception as e:  # Pillow raises many types on malformed data; a bad file must not stop the load
        return None, "corrupt or truncated", f"{type(e).__name__}: {e}"
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit


def flatten(im: Image.Image) -> Image.Image:
    """Any Pillow mode → 8-bit 'L' or 'RGB' without alpha."""
    if im.mode in WIDE_MODES:
        # Pillow's own I;16 → L conversion clips at 255; scale the full range instead.
        a = np.asarray(im).astype(np.float64)
        if im.mode == "F":
            scale = 255.0 if a.size and np.nanmax(a) <= 1.0 else 1.0
        else:
            scale = 255.0 / 65535.0
        a = np.nan_to_num(a * scale)
        return Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "L")
    if im.mode == "P" or "transparency" in im.info:  # palette, or colour-key transparency
        im = im.convert("RGBA")
    if im.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        im = im.convert("RGBA")
        white = Image.new("RGBA", im.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, im).convert("RGB")
    if im.mode in ("L", "RGB"):
        return im
    return im.convert("L" if im.mode == "1" else "RGB")  # 1, CMYK, YCbCr, LAB, HSV
