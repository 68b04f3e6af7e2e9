"""``ganforge project | directions``: start from a real image, and find directions that mean
something. Thin shells over ganforge.latent.project and ganforge.latent.directions;
``register(subparsers)`` adds them to the ``ganforge`` parser.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from .. import latent, runs
from ..errors import ConfigError
from .latent_args import SOURCE_HELP, out_stem, parse_indices
from .latent_args import latents_of as _latents
from .latent_args import png as _png
from .latent_args import report as _report

VIDEO_HELP = "animation format: gif (default) or mp4 (needs ganforge[video]; without it a GIF, with a warning)"


def register(sub: argparse._SubParsersAction) -> None:
    from ..latent.distance import DEFAULT, DISTANCES

    p = sub.add_parser("project", help="find the latent (and class) whose image is closest to each of your images",
                       description="Fits each image to the generator's resolution and channels the way its training data "
                                   "was, then optimizes z (Adam, several random starts; for conditional models every "
                                   "class, or those given) against --distance. Writes DIR/latents.npz (z, and y for "
                                   "conditional models, one row per image: every latent command reads it with "
                                   "--from-latents DIR), reconstructions.npz, projection.png, distances.json and "
                                   "progress.gif (or .mp4).")
    p.add_argument("checkpoint", metavar="RUN|CKPT|EXPORT", help=SOURCE_HELP + ", or an export directory")
    p.add_argument("images", nargs="*", metavar="IMAGE", help="image files, folders of them, or .npz files with "
                   "'images' uint8 (N, H, W[, C])")
    p.add_argument("--gap", type=int, default=None, metavar="N",
                   help="instead of IMAGEs: project N training and N held-out (test split) images of the run's "
                        "dataset into DIR/train and DIR/heldout and write DIR/gap.json: how much closer G comes to "
                        "images it trained on (a memorization signal)")
    p.add_argument("--out", metavar="DIR", help="output folder (default RUN/latent/project)")
    p.add_argument("--distance", choices=DISTANCES, default=DEFAULT,
                   help=f"what is minimized (default {DEFAULT}: the mean squared pixel difference plus the run's "
                        "discriminator's features; an export has no discriminator: use pixels)")
    p.add_argument("--steps", type=int, default=200, help="optimization steps (default 200)")
    p.add_argument("--starts", type=int, default=8, help="random starts per image (and per class) (default 8)")
    p.add_argument("--lr", type=float, default=0.1, help="Adam's peak learning rate (default 0.1)")
    p.add_argument("--seed", type=int, default=0, help="seed of the starts (default 0)")
    p.add_argument("--class", dest="cls", default=None, metavar="K,...",
                   help="conditional models: the classes to try (default all)")
    p.add_argument("--invert", action="store_true", help="invert the images (255 - pixel): a digit drawn dark on "
                   "light, for a model of MNIST-like light-on-dark digits")
    p.add_argument("--video", choices=["gif", "mp4"], default="gif", help=VIDEO_HELP)
    p.set_defaults(func=cmd_project)

    d = sub.add_parser("directions", help="ordered directions in the latent space: GANSpace (pca) or SeFa",
                       description="pca: principal components of G's first layer's outputs over --samples latents, "
                                   "mapped back to z by least squares (GANSpace). sefa: eigenvectors of AᵀA for A the "
                                   "weight of G's first layer (closed-form factorization). Both orthonormal and ordered "
                                   "by explained variance. Writes DIR/directions.npz and a strip PNG per direction.")
    d.add_argument("checkpoint", metavar="RUN|CKPT|EXPORT", help=SOURCE_HELP + ", or an export directory")
    d.add_argument("--method", choices=["pca", "sefa"], default="pca", help="pca (GANSpace, default) or sefa")
    d.add_argument("--out", metavar="DIR", help="output folder (default RUN/latent/directions-METHOD)")
    d.add_argument("--samples", type=int, default=2000, help="pca: latents sampled (default 2000)")
    d.add_argument("--seed", type=int, default=0, help="seed of those and of the strips' base latents (default 0)")
    d.add_argument("--show", type=int, default=8, help="strips to draw, one per direction, first first (default 8)")
    d.add_argument("--range", dest="span", type=float, default=3.0, help="strips go from -R to +R (default 3)")
    d.add_argument("--steps", type=int, default=7, help="images per strip row (default 7)")
    d.add_argument("--class", dest="cls", default=0, help="conditional models: the class sampled and drawn (default 0)")
    d.set_defaults(func=cmd_directions)


def cmd_project(args, extra) -> None:
    from .. import latent, load
    from ..latent.project import write_projection
    from ..latent.targets import load_targets

    g = load(args.checkpoint)
    out = Path(args.out) if args.out else runs.Run(latent.run_dir(args.checkpoint)).latent / "project"
    kw = dict(video=args.video, distance=args.distance, steps=args.steps, starts=args.starts, lr=args.lr, seed=args.seed,
              classes=args.cls)
    if args.gap is not None:
        return _gap(g, args, out, kw)
    if not args.images:
        raise ConfigError("project: give the images to project (files, folders or .npz), or --gap N")
    targets, names = load_targets(g, args.images, invert=args.invert)
    r = write_projection(g, targets, names, out, **kw)
    s = r["summary"]
    print(f"projected {len(names)} image(s) in {s['seconds']:.1f} s ({s['seconds_per_image']:.2f} s each; "
          f"distance {s['distance']}, {args.steps} steps, {args.starts} starts)")
    for row in s["images"]:
        print(f"  {row['name']}: RMS {row['rms']:.4f}" + (f", class {row['class']}" if "class" in row else ""))
    _report([r["latents"], r["reconstructions"], r["figure"], r["json"], r["animation"]], "the projection")


def _gap(g, args, out: Path, kw: dict) -> None:
    from ..latent.gap import write_gap

    if args.images:
        raise ConfigError("--gap N projects the run's own dataset: give no IMAGE with it")
    r = write_gap(g, out, args.gap, args.seed, **{k: v for k, v in kw.items() if k != "seed"})
    s = r["summary"]
    print(f"projection gap over {args.gap} training and {args.gap} held-out images of {g.cfg.data.name} "
          f"({s['seconds_per_image']:.2f} s per image):")
    print(f"  train   RMS {s['train_rms']:.4f}")
    print(f"  heldout RMS {s['heldout_rms']:.4f}")
    print(f"  gap     {s['gap']:+.4f} ± {s['gap_standard_error']:.4f} (about 0: no sign of memorization)")
    _report([r["json"], r["train"]["dir"], r["heldout"]["dir"]], "the projection gap")


def cmd_directions(args, extra) -> None:
    from .. import latent, load
    from ..latent import directions

    g = load(args.checkpoint)
    if args.show < 0:
        raise ConfigError(f"--show {args.show}: must be >= 0")
    result = directions.find(g, args.method, args.samples, args.seed, args.cls)
    out = Path(args.out) if args.out else runs.Run(latent.run_dir(args.checkpoint)).latent / f"directions-{args.method}"
    written = directions.write_directions(g, result, out, args.show, span=args.span, steps=args.steps, seed=args.seed,
                                          label=args.cls)
    ev = result["explained_variance"]
    top = ", ".join(f"{100 * v:.1f}%" for v in ev[:5].tolist())
    print(f"{len(ev)} {args.method} directions; explained variance of the first: {top}")
    _report(written, "the directions and their strips")


# ---------------------------------------------------------------------------- the latent commands' direction walks

def walk_direction(g, args) -> None:
    """interpolate --directions: each base row from base − R·d to base + R·d (a straight line: lerp)."""
    (d,) = chosen_directions(g, args, [args.direction])
    z, y, names = bases(g, args)
    pairs = [(b - args.span * d, b + args.span * d) for b in z]
    names = [n.replace("#", "row").replace("seed ", "seed").replace(" [", "-").rstrip("]") for n in names]  # file names
    labels = [args.cls] * len(z) if args.cls is not None else [int(v) for v in y] if y is not None else [0] * len(z)
    stem = out_stem(args.out, runs.Run(latent.run_dir(args.checkpoint)).latent, f"interpolate-direction{args.direction}")
    written = latent.write_interpolations(g, pairs, stem, names, args.steps, "lerp", labels if g.conditional else None,
                                          video=args.video)
    _report(written, f"{len(pairs)} walk(s) along direction {args.direction} of {args.directions}, −{args.span:g} to +{args.span:g}")


def sweep_direction(g, args) -> None:
    """sweep --directions: each base row walked along one direction, −R to +R in --steps columns."""
    from ..latent import directions

    (d,) = chosen_directions(g, args, [args.direction])
    z, y, names = bases(g, args)
    if g.conditional and y is None:
        y = torch.zeros(len(z), dtype=torch.long)
    path = _png(out_stem(args.out, runs.Run(latent.run_dir(args.checkpoint)).latent, f"sweep-direction{args.direction}"))
    fig = directions.write_strip(g, path, z, d, args.span, args.steps, y if g.conditional else None,
                                 title=f"each row walks along direction {args.direction} of {Path(args.directions).name}",
                                 row_names=names)
    _report([fig["path"], fig["latents"]], f"{len(z)} walk(s) along direction {args.direction}")


def chosen_directions(g, args, index: list[int]) -> list[torch.Tensor]:
    from ..latent import directions

    d, _ = directions.load(args.directions, g.nz)
    return directions.pick(d, index, args.directions)


def bases(g, args) -> tuple[torch.Tensor, torch.Tensor | None, list[str]]:
    """The rows a direction walk starts from: --base rows, else the given file's first 8, else -n from --seed."""
    if args.base is not None or args.latents:
        z, y = _latents(args)
        index = parse_indices(args.base, "--base") if args.base is not None else list(range(min(8, len(z))))
        z, y = latent.rows(z, y, index, "--base")
        return z, y, [f"#{i}" for i in index]
    if args.n < 1:
        raise ConfigError(f"-n {args.n}: must be >= 1")
    return g.latents(args.n, args.seed), g.labels_for(args.n), [f"seed {args.seed} [{k}]" for k in range(args.n)]
