"""``ganforge train | sample | export | info | diagnose | serve | presets``: thin shells over the
Python API (ganforge.train, ganforge.load, ...). ``register(subparsers)`` adds them to the
``ganforge`` parser.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import assemble, config
from ..errors import GanforgeError
from ..options import options_help


def cmd_train(args, extra: list[str]) -> int | None:
    from .. import dist, runs
    from ..training import train

    if args.resume == "auto" and not args.out:
        raise config.ConfigError("--resume auto needs --out RUN_DIR: the run directory to continue, or to start when it holds no run")
    if args.nproc > 1 and not dist.requested():
        return launch(args, extra)
    if args.resume and args.resume != "auto":  # auto: the given options, checked against the run's (training)
        cfg = resume_config(args.resume, extra)
        run = train(cfg, resume=args.resume, init=args.init)  # refused together
    else:
        cfg = assemble.load(args.config, args.preset, extra)
        name = args.preset or (Path(args.config).stem if args.config else "default")
        run = train(cfg, out=args.out or runs.default(name), resume=args.resume, init=args.init)
    if not dist.is_main():
        return None
    r = runs.Run(run)
    print(f"run directory: {run}")
    for path in (r.final, r.losses, r.timelapse, r.metrics, run / "stage1", run / "stage2"):
        if path.exists():  # a stack's curves are in its stages' runs
            print(f"  {path}")
    from ..checkpoint import latest

    print(f"  {latest(r.checkpoints)}")
    return None


def launch(args, extra: list[str]) -> int:
    """``ganforge train --nproc N``: torchrun with N processes on this machine, same arguments."""
    import subprocess

    argv = [a for a in (args.config,) if a] + [x for k in ("preset", "out", "resume", "init") if getattr(args, k)
                                                 for x in (f"--{k}", getattr(args, k))] + extra
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(args.nproc),
           "-m", "ganforge", "train", *argv]
    print("ganforge: " + " ".join(cmd[1:]), file=sys.stderr)
    return subprocess.call(cmd)


def resume_config(run: str, extra: list[str]) -> config.Config:
    """The run's own config; only train.* may change (e.g. more steps), never the networks."""
    from .. import checkpoint, runs

    over = config.parse_overrides(extra)
    if set(over) - {"train"}:
        raise config.ConfigError(f"--resume: only train.* options can change, not {', '.join(sorted(set(over) - {'train'}))}.*")
    base = config.yaml_dict(Path(run) / "config.yaml") if runs.is_stack(run) else checkpoint.load(run)["config"]
    return assemble.from_dict(config.merge(base, over))


def cmd_sample(args, extra) -> None:
    from .. import latent, load, viz

    g = load(args.checkpoint)
    out = Path(args.out)
    z = (latent.truncated_latents(args.n, g.nz, args.truncation, seed=args.seed) if args.truncation is not None
         else g.latents(args.n, seed=args.seed))
    y = g.labels_for(args.n, args.cls)
    x = g(z, y)
    out.parent.mkdir(parents=True, exist_ok=True)
    if g.info.kind == "points":
        if out.suffix == ".npz":
            np.savez(out, points=x.numpy().astype(np.float32))
        elif out.suffix == ".png":
            viz.scatter(x.numpy(), None, out, g.info.centers, f"{args.n} samples")
        else:
            raise config.ConfigError(f"--out {out}: 2-D points are written as OUT.npz or OUT.png")
    elif out.suffix == ".png":
        viz.save_grid(x, out)
    elif out.suffix == ".npz":
        np.savez(out, images=viz.to_uint8(x), **({} if y is None else {"labels": y.numpy()}))
    elif out.suffix:
        raise config.ConfigError(f"--out {out}: use OUT.png (a grid), OUT.npz (arrays) or a folder name (PNG files)")
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, im in enumerate(viz.to_uint8(x)):
            Image.fromarray(im[..., 0] if im.shape[-1] == 1 else im).save(out / f"{i:06d}.png")
    latent.save_latents(out, z, y)  # X.png, X.npz or folder X → X.latents.npz: addressable samples
    print(f"wrote {args.n} samples to {out}")


def cmd_export(args, extra) -> None:
    from ..export import export

    out = export(args.checkpoint, args.out, onnx=args.onnx)
    print(f"exported the generator to {out}: model.safetensors, config.json, README.md, samples.png"
          + (", generator.onnx" if args.onnx else ""))


def cmd_info(args, extra) -> None:
    from .. import data, models
    from ..loader import load

    if args.checkpoint:
        g = load(args.checkpoint)
        cfg, info = g.cfg, g.info
        print(f"{args.checkpoint}: step {g.step}")
    else:
        cfg = assemble.load(args.config, args.preset, extra)
        info = data.describe(cfg.data)
        if info.num_classes is None:  # a folder's classes are known once it is read
            info = data.build(cfg.data).info
    G, D = models.build(cfg.model, info)
    print(f"model {cfg.model.family}, objective {cfg.objective.name}, data {cfg.data.name} {tuple(info.shape)}")
    if cfg.model.stage1:  # a stack: these are stage 2's networks
        print(f"a stack: stage 1 is {cfg.model.stage1} at {cfg.model.low_res}x{cfg.model.low_res}; below, stage 2")
    z = torch.randn(2, cfg.model.nz)
    y = torch.zeros(2, dtype=torch.long) if cfg.model.conditional != "none" else None
    kw = models.example_kwargs(G, D.eval(), torch.rand(2, *info.shape) * 2 - 1, y) if info.kind == "image" else {}
    x = print_layers("G", G, (z, y), kw)
    print_layers("D", D, (x, y))


def print_layers(name: str, net: torch.nn.Module, inputs, kwargs: dict | None = None) -> torch.Tensor:
    """A table of the leaf layers with their output shapes and parameter counts."""
    rows, hooks = [], []
    for lname, m in net.named_modules():
        if not list(m.children()):
            hooks.append(m.register_forward_hook(
                lambda mod, i, o, lname=lname: rows.append((lname, type(mod).__name__, tuple(o.shape[1:]), sum(p.numel() for p in mod.parameters())))))
    net.eval()
    with torch.no_grad():
        out = net(*inputs, **(kwargs or {}))
    for h in hooks:
        h.remove()
    total = sum(p.numel() for p in net.parameters())
    print(f"\n{name}: {total:,} parameters")
    print(f"  {'layer':<14}{'type':<20}{'output':<22}{'params':>12}")
    for lname, typ, shape, n in rows:
        print(f"  {lname:<14}{typ:<20}{str(shape):<22}{n:>12,}")
    return out


def cmd_diagnose(args, extra) -> None:
    from ..diagnose import diagnose

    text, png, page = diagnose(args.run)
    print(text)
    print(f"\nplots: {png}\npage:  {page}")


def cmd_serve(args, extra) -> None:
    try:
        from ..web.server import serve
    except ImportError as e:
        raise GanforgeError(f"ganforge serve needs the web extra ({e.name} is missing): pip install 'ganforge[web]'") from None
    serve(args.runs, args.host, args.port, args.threads, no_token=args.no_token)


def cmd_presets(args, extra) -> None:
    names = config.preset_names()
    width = max(map(len, names))
    for n in names:
        print(f"{n:<{width}}  {config.preset_dict(n).get('description', '')}")


def register(sub: argparse._SubParsersAction) -> None:
    _register_train(sub)
    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("checkpoint", metavar="RUN_DIR|CKPT")
    s.add_argument("-n", type=int, default=64, help="number of samples")
    s.add_argument("--out", required=True, help="OUT.png (grid), OUT.npz (arrays) or OUT (a folder of PNGs)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="cls", type=int, default=None, help="conditional models: draw this class")
    s.add_argument("--truncation", type=float, default=None, metavar="PSI",
                   help="truncation trick: redraw latent coordinates with |z| > PSI (e.g. 0.7)")
    s.set_defaults(func=cmd_sample)

    e = sub.add_parser("export", help="write the generator as model.safetensors + config.json + a model card")
    e.add_argument("checkpoint", metavar="RUN_DIR|CKPT")
    e.add_argument("--out", required=True, help="a new directory (EMA weights when the run has them)")
    e.add_argument("--onnx", action="store_true", help="also write generator.onnx (dynamic batch; inputs z and, for "
                   "conditional models, y); needs ganforge[onnx]")
    e.set_defaults(func=cmd_export)

    i = sub.add_parser("info", help="layers and parameter counts of a run's networks (or of a preset's)")
    i.add_argument("checkpoint", nargs="?", metavar="RUN_DIR|CKPT")
    i.add_argument("--preset")
    i.add_argument("--config")
    i.set_defaults(func=cmd_info, accepts_dotted=True)

    d = sub.add_parser("diagnose", help="report a run's failure modes and plot its health (PNG and HTML)")
    d.add_argument("run", metavar="RUN_DIR")
    d.set_defaults(func=cmd_diagnose)

    w = sub.add_parser("serve", help="the workbench in the browser: playground, run dashboard, latent explorer")
    w.add_argument("--runs", default="runs", help="the run directories to show (default runs/)")
    w.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1, this machine only; any other is reachable from other machines)")
    w.add_argument("--port", type=int, default=8765, help="port (default 8765; 0 picks a free one)")
    w.add_argument("--threads", type=int, default=1, help="CPU threads for the playground's training (default 1)")
    w.add_argument("--no-token", action="store_true",
                   help="serve without the token the printed URL carries (127.0.0.1 only): every user of this machine can then use it")
    w.set_defaults(func=cmd_serve)

    pr = sub.add_parser("presets", help="list the presets")
    pr.set_defaults(func=cmd_presets)


def _register_train(sub: argparse._SubParsersAction) -> None:
    t = sub.add_parser("train", help="train a GAN", epilog=options_help(), formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Configuration: dataclass defaults, then a preset or CONFIG.yaml, then --section.key VALUE overrides.")
    t.add_argument("config", nargs="?", help="a YAML config file (it may start with `preset: NAME`)")
    t.add_argument("--preset", help="a named preset (see `ganforge presets`)")
    t.add_argument("--out", help="run directory; one that already holds a run is refused, but with --resume auto "
                   "(default runs/PRESET, or -2, -3... if that holds one)")
    t.add_argument("--resume", metavar="RUN_DIR|auto", help="continue a run from its latest checkpoint; auto: continue --out "
                   "if it holds a run, else start it there (for torchrun --max-restarts and requeued jobs; "
                   "the options must be the run's, train.* aside)")
    t.add_argument("--init", metavar="RUN|CKPT|EXPORT", help="fine-tune: start a new run from the trained weights of a run directory, "
                   "checkpoint or export (G, D and the EMA where present; the networks' options must match)")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train with N processes on this machine (starts torchrun; one GPU each on CUDA)")
    t.set_defaults(func=cmd_train, accepts_dotted=True)
