"""``ganforge evaluate | audit``: thin shells over ganforge.metrics.evaluate and .audit.
``register(subparsers)`` adds them to the ``ganforge`` parser.

The dotted options ``--features.weights PATH`` and ``--data.root DIR`` reach these commands
through cli.main's ``extra`` list (cli.split_overrides takes every ``--a.b`` option out
before argparse runs); ``dotted_options`` reads them, and refuses any other.
"""
from __future__ import annotations

import argparse
import dataclasses
import math

from .. import runs
from ..errors import ConfigError

SOURCE_HELP = "a run directory (its latest checkpoint) or a checkpoint file"
ALLOWED = {"evaluate": ("features.weights", "data.root"), "audit": ("features.weights", "data.root")}


def register(sub: argparse._SubParsersAction) -> None:
    from ..metrics.evaluate import metric_names

    p = sub.add_parser(
        "evaluate", help="score a generator (FID, KID, precision/recall, density/coverage, IS, toy modes) with its protocol",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Scores N generated samples against the real data, prints a table, and appends the results, each "
                    "with its protocol (extractor and weights hash, resize, N real/generated, reference split, seed, "
                    "dataset hash, version), to the run's metrics.jsonl.",
        epilog="dotted options:\n"
               "  --features.weights PATH  the inception extractor's weights file (pt_inception-2015-12-05-6726825d.pth)\n"
               "  --data.root DIR          where the run's dataset is (default: the run's data.root)\n\n"
               "metrics: " + ", ".join(metric_names()))
    p.add_argument("checkpoint", metavar="RUN_DIR|CKPT", help=SOURCE_HELP)
    p.add_argument("--metrics", default=None, help="comma list, e.g. fid,kid,pr,dc,is (default: all that apply)")
    p.add_argument("-n", "--n", type=int, default=10000, help="generated samples (and real ones, up to the split's size); default 10000")
    p.add_argument("--features", default="auto", help="auto (toys: points; labelled images: classifier; else pixels), "
                                                      "pixels, classifier or inception")
    p.add_argument("--reference", choices=("train", "test"), default="train", help="the real split to compare with (default train)")
    p.add_argument("--seed", type=int, default=0, help="seed of the latents and of the real subset (default 0)")
    p.add_argument("--batch-size", type=int, default=None, help="batch size of generation and feature extraction")
    p.add_argument("--no-append", action="store_true", help="print only; do not append to metrics.jsonl")
    p.set_defaults(func=cmd_evaluate, accepts_dotted=True)

    p = sub.add_parser(
        "audit", help="memorization audit: generated samples' nearest training images against held-out real images'",
        description="Finds the nearest training image of N generated samples (exact search, pixel and feature space) and "
                    "flags those closer than the 1%% quantile of held-out real images' nearest-training distances. "
                    "Writes audit.json, distances.png and pairs.png.",
        epilog="dotted options: --features.weights PATH, --data.root DIR (as for evaluate)")
    p.add_argument("checkpoint", metavar="RUN_DIR|CKPT", help=SOURCE_HELP)
    p.add_argument("-n", "--n", type=int, default=10000, help="generated samples (default 10000)")
    p.add_argument("--features", default="auto", help="feature space: auto (classifier for labelled data, else pixels), "
                                                      "pixels, classifier or inception")
    p.add_argument("--quantile", type=float, default=0.01, help="flagging threshold: this quantile of the held-out distances (default 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="output folder (default RUN_DIR/audit)")
    p.add_argument("--heldout", default=None, metavar="PATH",
                   help="a folder run: a folder of fresh photos the generator never saw, as the held-out real images "
                        "(default: the test split; without one, 10%% of the training images left out of the search)")
    p.set_defaults(func=cmd_audit, accepts_dotted=True)


def dotted_options(command: str, extra: list[str]) -> dict[str, str]:
    """['--features.weights', 'P', '--data.root=D'] → {'features.weights': 'P', 'data.root': 'D'}."""
    out, i = {}, 0
    while i < len(extra):
        key, eq, value = extra[i].lstrip("-").partition("=")
        if key not in ALLOWED[command]:
            raise ConfigError(f"{command}: unknown option --{key} (dotted options here: "
                              + ", ".join(f"--{k}" for k in ALLOWED[command]) + ")")
        if not eq:
            if i + 1 >= len(extra):
                raise ConfigError(f"--{key} needs a value")
            value, i = extra[i + 1], i + 1
        out[key] = value
        i += 1
    return out


def _data_config(generator, opts: dict):
    return dataclasses.replace(generator.cfg.data, root=opts["data.root"]) if "data.root" in opts else None


def cmd_evaluate(args, extra) -> None:
    from .. import load
    from ..metrics.audit import run_dir
    from ..metrics.evaluate import append_results, evaluate

    opts = dotted_options("evaluate", extra)
    g = load(args.checkpoint)
    results = evaluate(g, _data_config(g, opts), metrics=args.metrics, n=args.n, features=args.features,
                       reference=args.reference, seed=args.seed, batch_size=args.batch_size,
                       weights=opts.get("features.weights"))
    print(format_table(results))
    if not args.no_append:
        path = append_results(run_dir(g), results, g.step)
        print(f"appended to {path}")


def format_table(results: list[dict]) -> str:
    """The scores, then the protocol they share (and where they differ, per row)."""
    rows = [("metric", "value", "± std", "features")]
    for r in results:
        p = r["protocol"]
        feat = p["extractor"] + (f"@{p['weights_hash'][:8]}" if p.get("weights_hash") else "")
        rows.append((r["metric"], _num(r["value"]), _num(r["std"]) if "std" in r else "", feat))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    lines = ["  ".join(c.ljust(w) if i != 1 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    shown = ("n_real", "n_generated", "reference", "seed", "dataset", "dataset_hash", "resize", "generator_step")
    for p in {json_key(r["protocol"], shown): r["protocol"] for r in results}.values():
        lines.append("protocol: " + ", ".join(f"{k} {p[k]}" for k in shown if k in p))
    notes = {r["protocol"].get("note") for r in results} - {None}
    lines += [f"note: {n}" for n in sorted(notes)]
    return "\n".join(lines)


def json_key(p: dict, keys) -> tuple:
    return tuple(str(p.get(k)) for k in keys)


def _num(v) -> str:
    if isinstance(v, int):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"


def cmd_audit(args, extra) -> None:
    from .. import load
    from ..metrics.audit import audit, run_dir

    opts = dotted_options("audit", extra)
    g = load(args.checkpoint)
    s = audit(g, _data_config(g, opts), n=args.n, features=args.features, seed=args.seed, quantile=args.quantile,
              out=args.out or runs.Run(run_dir(g)).audit, weights=opts.get("features.weights"), heldout=args.heldout)
    print(f"memorization score {s['memorization_score']:.2%} of {s['n_generated']} generated samples flagged "
          f"(fresh real images: {s['expected_for_fresh_samples']:.2%})")
    print(f"rule: {s['rule']}")
    print(f"held-out: {s['heldout']}; training images searched: {s['n_train']}")
    for space, v in s["spaces"].items():
        r, d = v["ratio"], v["distance"]
        print(f"  {space:<9} threshold {v['threshold']:.3f}  flagged {v['flagged_fraction']:.2%}  median ratio: generated "
              f"{r['generated']['median']:.3f}, held-out {r['heldout']['median']:.3f}; median distance: generated "
              f"{d['generated']['median']:.4g}, held-out {d['heldout']['median']:.4g}")
    for k in ("summary", "distances", "pairs"):
        print(f"  {s['files'][k]}")
