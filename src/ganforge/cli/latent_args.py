"""What the latent commands share: the help texts of their common options, parsing row indices
and pairs, where output goes (``--out``), and reading the latents file the indices address.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

from .. import latent
from ..errors import ConfigError

SOURCE_HELP = "a run directory (its latest checkpoint) or a checkpoint file"
LATENTS_HELP = ("latents file whose rows the indices address (default RUN/samples/latents.npz, the training "
                "snapshots' fixed noise; or X.latents.npz beside any picture X.png that ganforge wrote; or the "
                "folder `ganforge project` wrote: one row per projected image)")
DIRECTIONS_HELP = "a directions file (or the folder holding it) that `ganforge directions` wrote"
OUT_HELP = "file stem X or X.png (writes X.png, X.latents.npz, ...), or a folder; default RUN/latent/"


def parse_pairs(text: str, option: str) -> list[tuple[int, int]]:
    """``3:17,4:9`` → [(3, 17), (4, 9)]."""
    out = []
    for part in filter(None, (s.strip() for s in text.split(","))):
        a, sep, b = part.partition(":")
        try:
            if not sep:
                raise ValueError
            out.append((int(a), int(b)))
        except ValueError:
            raise ConfigError(f"{option} {text}: expected pairs I:J separated by commas, e.g. 3:17,4:9") from None
    if not out:
        raise ConfigError(f"{option} {text!r}: expected pairs I:J separated by commas, e.g. 3:17,4:9")
    return out


def parse_indices(text: str, option: str) -> list[int]:
    """``3,7,12`` → [3, 7, 12]."""
    try:
        out = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"{option} {text}: expected row indices separated by commas, e.g. 3,7,12") from None
    if not out:
        raise ConfigError(f"{option} {text!r}: expected row indices separated by commas, e.g. 3,7,12")
    return out


def out_stem(out: str | None, default_dir: Path, default_name: str) -> Path:
    """--out → a stem the command adds suffixes to: X.png → X; a folder → folder/default_name."""
    if out is None:
        return default_dir / default_name
    p = Path(out)
    if out.endswith(("/", os.sep)) or p.is_dir():
        return p / default_name
    return p.with_suffix("") if p.suffix in (".png", ".gif", ".mp4") else p


def png(stem: Path) -> Path:
    return stem.with_name(stem.name + ".png")


def latents_of(args) -> tuple[torch.Tensor, torch.Tensor | None]:
    path = args.latents or latent.default_latents(args.checkpoint)
    if not args.latents and not Path(path).is_file():
        raise ConfigError(f"no latents file at {path} (the training snapshots' noise); pass --latents X.latents.npz, "
                          "or use seeds instead of row indices")
    return latent.load_latents(path)


def report(paths, what: str) -> None:
    print(f"wrote {what}:")
    for p in paths:
        print(f"  {p}")
