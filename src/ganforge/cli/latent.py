"""``ganforge interpolate | latent-grid | plane | arithmetic | sweep | compare``: thin shells over
ganforge.latent. ``register(subparsers)`` adds them to the ``ganforge`` parser.

Latent points are addressed as rows of a latents file: ``--latents PATH`` (default: the run's
training-snapshot noise, RUN/samples/latents.npz, whose row i is tile i of samples/step-*.png;
any X.latents.npz that ganforge wrote beside a picture X.png works too, and so does the folder
``ganforge project`` wrote: ``--from-latents DIR`` starts from projected images), or drawn from
seeds. ``--directions FILE`` (``ganforge directions``) gives plane, sweep and interpolate
discovered directions to walk along (cli/project.py).

Output: ``--out`` is a file stem (``X`` or ``X.png``: the command writes X.png, X.latents.npz,
...) or an existing folder (or one ending in /), which gets the default names. Default:
RUN/latent/<command>... beside the run's other outputs.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from .. import latent, runs
from ..errors import ConfigError
from .latent_args import (DIRECTIONS_HELP, LATENTS_HELP, OUT_HELP, SOURCE_HELP, out_stem, parse_indices,  # noqa: F401
                          parse_pairs)
from .latent_args import latents_of as _latents
from .latent_args import png as _png
from .latent_args import report as _report


def register(sub: argparse._SubParsersAction) -> None:
    for add in (_add_interpolate, _add_latent_grid, _add_plane, _add_arithmetic, _add_sweep, _add_compare):
        add(sub)


def _add_interpolate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("interpolate", help="strips and a GIF between latent points (slerp or lerp)",
                       description="A strip PNG per pair of latent points and one GIF animating all pairs (there and back). "
                                   "Endpoints: --pairs (rows of the latents file), --seeds, or -n random pairs drawn with --seed.")
    _common(p)
    p.add_argument("--pairs", metavar="I:J,...", help="pairs of rows of the latents file, e.g. 3:17,4:9")
    p.add_argument("--seeds", metavar="S:T,...", help="pairs of seeds: z = Generator.latents(1, S)[0], e.g. 1:2,3:4")
    p.add_argument("-n", "--n", type=int, default=4, help="random pairs when neither --pairs nor --seeds is given (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random pairs (default 0)")
    p.add_argument("--steps", type=int, default=10, help="images per strip, endpoints included (default 10)")
    p.add_argument("--method", choices=sorted(latent.METHODS), default="slerp", help="slerp (default, after Tom White) or lerp")
    p.add_argument("--class", dest="cls", default=None, help="conditional models: the class of every strip "
                   "(default: the start row's class in the latents file; random pairs: classes in turn)")
    p.add_argument("--directions", metavar="FILE", help=DIRECTIONS_HELP + ": walk each --base row along "
                   "--direction, from -R to +R (lerp), instead of between pairs")
    p.add_argument("--direction", type=int, default=0, metavar="K", help="with --directions: which one (default 0, the first)")
    p.add_argument("--base", metavar="I,...", help="with --directions: rows of the latents file to walk from "
                   "(default: every row of --from-latents, at most 8; else -n latents drawn with --seed)")
    p.add_argument("--range", dest="span", type=float, default=3.0, metavar="R", help="with --directions: walk from -R to +R (default 3)")
    p.add_argument("--video", choices=["gif", "mp4"], default="gif", help="the animation: gif (default) or mp4 "
                   "(needs ganforge[video]; without it a GIF, with a warning)")
    p.set_defaults(func=cmd_interpolate)


def _add_latent_grid(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latent-grid", help="scan a 2-D latent space (nz = 2) over a square, axes labelled",
                       description="An n×n grid of G(z) over z ∈ [LO, HI]², z[0] left to right, z[1] bottom to top. "
                                   "For a 2-D points generator: the generated points coloured by their latent position.")
    _common(p, latents=False)
    p.add_argument("--range", nargs=2, type=float, default=[-2.0, 2.0], metavar=("LO", "HI"), help="default -2 2")
    p.add_argument("-n", "--n", type=int, default=16, help="points per side (default 16)")
    p.add_argument("--class", dest="cls", default=0, help="conditional models: the class (default 0)")
    p.set_defaults(func=cmd_latent_grid)


def _add_plane(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("plane", help="a grid over a 2-D plane through a latent point",
                       description="G(base + a·d1 + b·d2) for a, b ∈ step·(k − ⌊n/2⌋), k = 0..n−1 (n = 10: −5·step .. +4·step; "
                                   "the base is the cell at column ⌊n/2⌋, row n−1−⌊n/2⌋). Directions: random (two random "
                                   "orthonormal vectors, seeded), blocks (the classic ±1 block pattern, 5 blocks of "
                                   "coordinates), or i,j (coordinate axes).")
    _common(p)
    p.add_argument("--base", type=int, default=None, metavar="K", help="row K of the latents file (default: latents(1, --seed))")
    p.add_argument("--seed", type=int, default=0, help="seed of the base when --base is absent, and of --dirs random (default 0)")
    p.add_argument("--dirs", default="blocks", metavar="random|blocks|i,j", help="plane directions (default blocks)")
    p.add_argument("--step", type=float, default=0.25, help="grid step along each direction (default 0.25)")
    p.add_argument("-n", "--n", type=int, default=10, help="points per side (default 10)")
    p.add_argument("--class", dest="cls", default=None, help="conditional models: the class (default: the base row's, else 0)")
    p.add_argument("--directions", metavar="FILE", help=DIRECTIONS_HELP + ": the plane's directions are two of its rows "
                   "(instead of --dirs)")
    p.add_argument("--direction", default="0,1", metavar="K,L", help="with --directions: which two (default 0,1)")
    p.set_defaults(func=cmd_plane)


def _add_arithmetic(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("arithmetic", help="DCGAN-style vector arithmetic on group means: a − b + c",
                       description="Shows groups a, b, c (rows of the latents file), the images of their mean vectors, "
                                   "and mean(a) − mean(b) + mean(c) with a few perturbations result + sigma·N(0, I).")
    _common(p)
    for g in "abc":
        p.add_argument(f"--{g}", required=True, metavar="I,J,...", help=f"rows of the latents file for group {g}")
    p.add_argument("--perturb", type=int, default=8, help="neighbours of the result to show (default 8)")
    p.add_argument("--sigma", type=float, default=0.25, help="their standard deviation (default 0.25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the perturbations (default 0)")
    p.add_argument("--class", dest="cls", default=None, help="conditional models: class of the means and results "
                   "(default: a's first row's); members keep their own")
    p.set_defaults(func=cmd_arithmetic)


def _add_sweep(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("sweep", help="conditional models: every class at a fixed z, or a class interpolation; "
                       "any model: a walk along a direction (--directions)",
                       description="Without --from/--to: one row per fixed z, one column per class. With --from K --to L: "
                                   "the class embedding moves linearly from K's to L's at each fixed z (needs a generator "
                                   "that takes its label through one nn.Embedding, i.e. model.conditional concat, "
                                   "projection or acgan).")
    _common(p)
    p.add_argument("--base", default=None, metavar="K,...", help="rows of the latents file to hold fixed (default: -n from --seed)")
    p.add_argument("-n", "--n", type=int, default=4, help="random z's when --base is absent (default 4)")
    p.add_argument("--seed", type=int, default=0, help="seed of those (default 0)")
    p.add_argument("--from", dest="start", default=None, metavar="K", help="class (index or name) to interpolate from")
    p.add_argument("--to", dest="end", default=None, metavar="L", help="class to interpolate to")
    p.add_argument("--steps", type=int, default=8, help="columns of the class interpolation or direction walk (default 8)")
    p.add_argument("--directions", metavar="FILE", help=DIRECTIONS_HELP + ": each row walks along --direction "
                   "from -R to +R instead of through the classes (any generator)")
    p.add_argument("--direction", type=int, default=0, metavar="K", help="with --directions: which one (default 0)")
    p.add_argument("--range", dest="span", type=float, default=3.0, metavar="R", help="with --directions: walk from -R to +R (default 3)")
    p.set_defaults(func=cmd_sweep)


def _add_compare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="the same latent vectors through two runs' generators, side by side, with a score",
                       description="Puts latents(n, --seed) through both generators (same nz needed), writes A | B pairs and "
                                   "prints the mean distance of paired outputs against that of unpaired ones (all i ≠ j); "
                                   "ratio ≈ 1: the runs map the same z to unrelated outputs. Distances: Euclidean in "
                                   "--features space for images, in data coordinates for points.")
    p.add_argument("run_a", metavar="RUN_A|CKPT_A", help=SOURCE_HELP)
    p.add_argument("run_b", metavar="RUN_B|CKPT_B", help=SOURCE_HELP)
    p.add_argument("-n", "--n", type=int, default=64, help="latent vectors (default 64)")
    p.add_argument("--seed", type=int, default=0, help="their seed (default 0)")
    p.add_argument("--features", default="auto", choices=["auto", "classifier", "inception", "pixels"],
                   help="images: the space distances are measured in, as for `ganforge evaluate`: auto (labelled data: "
                        "the domain classifier, trained on RUN_A's dataset and cached; else pixels), classifier, inception, "
                        "or pixels (RMS difference of pixel values in [0, 1])")
    p.add_argument("--out", help="file stem X or X.png (writes X.png, X.json, X.latents.npz) or a folder; "
                                 "default RUN_A/latent/compare-<RUN_B>.png")
    p.add_argument("--from-latents", "--latents", dest="latents", metavar="PATH",
                   help="put these latent vectors (every row of a latents file, e.g. a projection's folder) "
                        "through both runs instead of -n drawn with --seed")
    p.set_defaults(func=cmd_compare)


def _common(p: argparse.ArgumentParser, latents: bool = True) -> None:
    p.add_argument("checkpoint", metavar="RUN|CKPT", help=SOURCE_HELP)
    if latents:
        p.add_argument("--latents", "--from-latents", dest="latents", metavar="PATH", help=LATENTS_HELP)
    p.add_argument("--out", metavar="PATH", help=OUT_HELP)


# ---------------------------------------------------------------------------- commands

def cmd_interpolate(args, extra) -> None:
    from .. import load

    g = load(args.checkpoint)
    if args.directions:
        from .project import walk_direction

        return walk_direction(g, args)
    if args.pairs and args.seeds:
        raise ConfigError("--pairs and --seeds: give one of them")
    if args.base is not None:
        raise ConfigError("--base: walks from rows along --directions; between rows use --pairs I:J")
    pairs, names, labels = [], [], []
    if args.pairs:
        z, y = _latents(args)
        for i, j in parse_pairs(args.pairs, "--pairs"):
            (a, b), yy = latent.rows(z, y, [i, j], "--pairs")
            pairs.append((a, b))
            names.append(f"{i}-{j}")
            labels.append(int(yy[0]) if yy is not None else 0)
    elif args.seeds:
        for s, t in parse_pairs(args.seeds, "--seeds"):
            pairs.append((g.latents(1, s)[0], g.latents(1, t)[0]))
            names.append(f"seed{s}-{t}")
            labels.append(len(labels) % max(1, g.info.num_classes or 1))
    elif args.latents:  # a given file, e.g. projected photos: through its rows in order, 0 → 1 → 2 ...
        z, y = _latents(args)
        if len(z) < 2:
            raise ConfigError(f"--from-latents {args.latents}: holds {len(z)} row; interpolation needs two")
        pairs = [(z[k], z[k + 1]) for k in range(min(len(z), 9) - 1)]
        names = [f"{k}-{k + 1}" for k in range(len(pairs))]
        labels = [int(y[k]) if y is not None else 0 for k in range(len(pairs))]
    else:
        if args.n < 1:
            raise ConfigError(f"-n {args.n}: must be >= 1")
        z = g.latents(2 * args.n, args.seed)
        pairs = [(z[2 * k], z[2 * k + 1]) for k in range(args.n)]
        names = [f"seed{args.seed}-{k}" for k in range(args.n)]
        labels = [k % max(1, g.info.num_classes or 1) for k in range(args.n)]
    if args.cls is not None:
        labels = [args.cls] * len(pairs)
    stem = out_stem(args.out, runs.Run(latent.run_dir(args.checkpoint)).latent, f"interpolate-{args.method}")
    written = latent.write_interpolations(g, pairs, stem, names, args.steps, args.method, labels if g.conditional else None,
                                          video=args.video)
    _report(written, f"{len(pairs)} {args.method} interpolation(s) of {args.steps} steps")




def cmd_latent_grid(args, extra) -> None:
    from .. import load

    g = load(args.checkpoint)
    lo, hi = args.range
    path = _png(out_stem(args.out, runs.Run(latent.run_dir(args.checkpoint)).latent, "latent-grid"))
    fig = latent.write_latent_grid(g, path, lo, hi, args.n, args.cls)
    _report([fig["path"], fig["latents"]], f"{args.n}×{args.n} latent grid over [{lo:g}, {hi:g}]²")


def cmd_plane(args, extra) -> None:
    from .. import load

    g = load(args.checkpoint)
    label = args.cls
    if args.base is None and args.latents:  # a given file (e.g. a projected photo): its first row
        args.base = 0
    if args.base is not None:
        z, y = _latents(args)
        (base,), yb = latent.rows(z, y, [args.base], "--base")
        src = Path(args.latents or latent.default_latents(args.checkpoint))
        where = f"row {args.base} of {src}"
        short = f"row {args.base} of {src.parent.name}/{src.name}"
        if label is None and yb is not None:
            label = int(yb[0])
    else:
        base = g.latents(1, args.seed)[0]
        where = short = f"latents(1, seed={args.seed})"
    if args.directions:
        index = parse_indices(args.direction, "--direction")
        if len(index) != 2:
            raise ConfigError(f"--direction {args.direction}: a plane needs two directions K,L")
        from .project import chosen_directions

        d1, d2 = chosen_directions(g, args, index)
        args.dirs = f"{Path(args.directions).stem} {index[0]},{index[1]}"
    else:
        d1, d2 = latent.plane_directions(args.dirs, g.nz, args.seed)
    tag = args.dirs.replace(",", "-").replace(" ", "-")
    name = f"plane-{tag}-base{args.base}" if args.base is not None else f"plane-{tag}-seed{args.seed}"
    path = _png(out_stem(args.out, runs.Run(latent.run_dir(args.checkpoint)).latent, name))
    title = f"base + a·d1 + b·d2; base = {short}, dirs {args.dirs}, step {args.step:g}"
    fig = latent.write_plane(g, path, base, d1, d2, args.step, args.n, 0 if label is None else label, title)
    _report([fig["path"], fig["latents"]], f"{args.n}×{args.n} plane through {where}, dirs {args.dirs}")


def cmd_arithmetic(args, extra) -> None:
    from .. import load

    g = load(args.checkpoint)
    z, y = _latents(args)
    groups = {}
    for name in "abc":
        groups[name] = latent.rows(z, y, parse_indices(getattr(args, name), f"--{name}"), f"--{name}")
    path = _png(out_stem(args.out, runs.Run(latent.run_dir(args.checkpoint)).latent, "arithmetic"))
    (za, ya), (zb, yb), (zc, yc) = groups["a"], groups["b"], groups["c"]
    fig = latent.write_arithmetic(g, path, za, zb, zc, ya, yb, yc, args.cls, args.perturb, args.sigma, args.seed,
                                  names=(f"a {args.a}", f"b {args.b}", f"c {args.c}"))
    _report([fig["path"], fig["latents"]], f"mean(a) − mean(b) + mean(c) and {args.perturb} perturbations")


def cmd_sweep(args, extra) -> None:
    from .. import load

    g = load(args.checkpoint)
    if args.directions:
        from .project import sweep_direction

        return sweep_direction(g, args)
    latent.class_embedding(g)  # a clear error before anything else for an unconditional G
    if args.base is None and args.latents:
        args.base = ",".join(str(i) for i in range(min(8, len(_latents(args)[0]))))
    if args.base is not None:
        z, y = _latents(args)
        index = parse_indices(args.base, "--base")
        z, _ = latent.rows(z, y, index, "--base")
        row_names = [f"#{i}" for i in index]
        tag = "base" + "-".join(map(str, index))
    else:
        if args.n < 1:
            raise ConfigError(f"-n {args.n}: must be >= 1")
        z = g.latents(args.n, args.seed)
        row_names = [f"seed {args.seed} [{k}]" for k in range(args.n)]
        tag = f"seed{args.seed}"
    where = runs.Run(latent.run_dir(args.checkpoint)).latent
    if (args.start is None) != (args.end is None):
        raise ConfigError("--from and --to: give both (a class interpolation) or neither (a class sweep)")
    if args.start is None:
        path = _png(out_stem(args.out, where, f"sweep-{tag}"))
        fig = latent.write_class_sweep(g, path, z, row_names)
        what = f"every class at {len(z)} fixed z"
    else:
        k0, k1 = latent.class_index(g, args.start), latent.class_index(g, args.end)
        path = _png(out_stem(args.out, where, f"sweep-{k0}-{k1}-{tag}"))
        fig = latent.write_class_interpolation(g, path, z, row_names, k0, k1, args.steps)
        what = f"class {args.start} → {args.end} in {args.steps} steps at {len(z)} fixed z"
    _report([fig["path"], fig["latents"]], what)


def cmd_compare(args, extra) -> None:
    from .. import load

    ga, gb = load(args.run_a), load(args.run_b)
    na, nb = latent.run_dir(args.run_a).name, latent.run_dir(args.run_b).name
    path = _png(out_stem(args.out, runs.Run(latent.run_dir(args.run_a)).latent, f"compare-{nb}"))
    z, y = latent.load_latents(args.latents) if args.latents else (None, None)
    fig = latent.compare(ga, gb, path, args.n, args.seed, names=(na, nb), features=args.features, z=z, y=y)
    s = fig["stats"]
    print(f"same z through {na} and {nb} ({s['n']} latent vectors, seed {s['seed']}; distance: {s['distance']}):")
    print(f"  paired   {s['paired']:.4f}   (mean distance of G_A(z_i) and G_B(z_i))")
    print(f"  unpaired {s['unpaired']:.4f}   (mean over i != j: unrelated outputs)")
    print(f"  ratio    {s['ratio'] or float('nan'):.3f}   (about 1: the runs map the same z to unrelated outputs; 0: identical)")
    _report([fig["path"], fig["json"], fig["latents"]], "side-by-side comparison")
