"""What a generator takes: latent vectors of its size, and class labels by index or by name;
and whether it draws images at all. Every ``write_*`` function checks its inputs here first,
so a mismatch is one clear error before any generating.
"""
from __future__ import annotations

import torch

from ..errors import ConfigError


def check_nz(g, z: torch.Tensor, where: str) -> None:
    if z.shape[-1] != g.nz:
        raise ConfigError(f"{where}: latent vectors have {z.shape[-1]} dimensions, the generator's nz is {g.nz}")


def class_names(g) -> list[str]:
    k = g.info.num_classes or 0
    names = g.info.class_names
    return list(names) if names and len(names) == k else [str(i) for i in range(k)]


def class_index(g, value) -> int:
    """A class given as an index or by name."""
    names = class_names(g)
    if isinstance(value, str) and not value.lstrip("-").isdigit():
        if value not in names:
            raise ConfigError(f"class {value!r}: not one of {', '.join(names)}")
        return names.index(value)
    k = int(value)
    if not 0 <= k < len(names):
        raise ConfigError(f"class {k}: must be in 0..{len(names) - 1} ({', '.join(names)})")
    return k


def require_images(g, command: str) -> None:
    if g.info.kind != "image":
        raise ConfigError(f"{command} draws images; this generator makes 2-D points "
                          "(for points use latent-grid, plane or compare)")


def fixed_labels(g, n: int, label) -> torch.Tensor | None:
    """One class for all n, or None for an unconditional G."""
    return None if not g.conditional else torch.full((n,), class_index(g, label), dtype=torch.long)
