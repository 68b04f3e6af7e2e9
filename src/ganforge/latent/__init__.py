"""Latent space exploration: interpolation, 2-D grids, planes, vector arithmetic, class sweeps,
truncation, and whether two runs map the same z to the same output.

Two layers, as everywhere in ganforge:

- pure functions on latent tensors (``lerp``, ``slerp``, ``interpolate``, ``truncated_latents``,
  ``square_grid``, ``plane_offsets``, ``plane_directions``, ``plane_points``,
  ``arithmetic_vectors``), which know nothing about a generator;
- ``write_*`` functions and ``compare``, which take a ``ganforge.Generator``, write pictures and
  return what they wrote. The CLI (ganforge.cli.latent) is a thin shell over them.

Addressable samples: every picture written here has its latent vectors saved beside it as
``<picture>.latents.npz`` (``save_latents``): ``z`` (N, nz) float32 and, for conditional models,
``y`` (N,) int64, in the order of the tiles (row-major), plus ``cell`` (N, 2): each vector's
(row, column) in the picture. ``g(z, y)`` regenerates the tiles exactly. Training snapshots keep
theirs in ``RUN/samples/latents.npz``, so "sample 17 of that grid" is ``z[17]``.

The modules, by job: files (latent files and picture cells), inputs (what a generator takes),
walks (lerp, slerp, interpolation strips, truncation), grids (2-D scans, planes, arithmetic),
sweeps (classes at a fixed z), compare (two runs, the same z); and, starting from real images,
targets (images fitted to a generator), distance and project (projection: the latent of an
image), directions (GANSpace and SeFa).
"""
from .compare import compare, pair_distances
from .files import LATENTS_SUFFIX, default_latents, latents_path, load_latents, rows, run_dir, save_latents
from .grids import (arithmetic_vectors, axis_directions, block_directions, plane_directions, plane_offsets, plane_points,
                    random_directions, square_grid, write_arithmetic, write_latent_grid, write_plane)
from .inputs import check_nz, class_index, class_names, fixed_labels, require_images
from .sweeps import class_embedding, generate_with_embeddings, write_class_interpolation, write_class_sweep
from .walks import METHODS, interpolate, lerp, slerp, truncated_latents, write_interpolations
from . import directions  # noqa: E402  (directions.find, .load, .write_directions: ganforge directions)
from .project import project, write_projection
from .targets import load_targets

__all__ = [
    "LATENTS_SUFFIX", "METHODS", "arithmetic_vectors", "axis_directions", "block_directions", "check_nz", "class_embedding",
    "class_index", "class_names", "compare", "default_latents", "fixed_labels", "generate_with_embeddings", "interpolate",
    "latents_path", "lerp", "load_latents", "pair_distances", "plane_directions", "plane_offsets", "plane_points",
    "random_directions", "require_images", "rows", "run_dir", "save_latents", "slerp", "square_grid", "truncated_latents",
    "write_arithmetic", "write_class_interpolation", "write_class_sweep", "write_interpolations", "write_latent_grid",
    "write_plane", "directions", "project", "write_projection", "load_targets",
]
