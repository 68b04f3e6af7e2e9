"""Share a generator: ``ganforge export RUN_DIR|CKPT --out DIR`` writes

    DIR/model.safetensors   the generator's weights (the EMA weights when the run kept them);
                            for a stacked GAN both stages' generators, under g1. and g2.
    DIR/config.json         the run's config and data description: what rebuilds the network
                            (for a stack, each stage's too: stack.load_stack reads it as it
                            reads a stack checkpoint)
    DIR/README.md           a model card: data, objective, steps, evaluation results with
                            their protocol, and a sample grid (DIR/samples.png)
    DIR/generator.onnx      with ``--onnx``: G for onnxruntime and other ONNX tools
                            (onnx_export.py), its inputs and output described in the card

safetensors holds tensors and nothing else, so loading an export never runs code (unlike a
pickle). Anyone can read the weights with the safetensors library alone;
``ganforge.load(DIR)`` (and every command that takes a checkpoint) rebuilds the generator.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import torch

from . import checkpoint, config, models, viz
from .data.base import DataInfo
from .errors import CheckpointError, ConfigError
from .generator import Generator
from .version import __version__

FORMAT, VERSION = "ganforge-export", 1
WEIGHTS, CONFIG, CARD, GRID = "model.safetensors", "config.json", "README.md", "samples.png"
GRID_N, GRID_SEED = 64, 0


def is_export(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() and (p / WEIGHTS).is_file()


def export(path: str | Path, out: str | Path, onnx: bool = False) -> Path:
    """Write the export of a checkpoint (or a run directory's latest) to ``out``, all or nothing;
    with ``onnx`` also generator.onnx (a family that cannot export fails the whole export, saying why)."""
    from safetensors.torch import save_file

    state, src = checkpoint.load(path), checkpoint.resolve(path)
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"--out {out} already exists and is not empty: choose a new directory")
    weights, meta = generator_state(state)
    weights = {k: v.detach().contiguous().clone() for k, v in weights.items()}
    ema = meta["ema"]
    meta = {"format": FORMAT, "version": VERSION, "ganforge_version": __version__, "step": int(state["step"]),
            "source": src.name, "config": state["config"], "data_info": state["data_info"], **meta}
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        save_file(weights, str(tmp / WEIGHTS), metadata={"format": FORMAT, "step": str(meta["step"]),
                                                          "ema": ",".join(str(e).lower() for e in (ema if isinstance(ema, list) else [ema]))})
        (tmp / CONFIG).write_text(json.dumps(meta, indent=2) + "\n")
        g = load(tmp)
        sample_grid(g, tmp / GRID)
        onnx_info = None
        if onnx:
            from . import onnx_export

            onnx_info = onnx_export.write(g, tmp / onnx_export.ONNX_FILE)
        (tmp / CARD).write_text(model_card(meta, eval_rows(src), onnx_info))
        os.replace(tmp, out)  # onto a missing or empty directory: atomic
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def generator_state(state: dict) -> tuple[dict, dict]:
    """(the generator's tensors, what config.json says of them) of a checkpoint: G, its EMA
    weights when the run kept them; for a stack both stages' (``g1.*``, ``g2.*``), each
    stage's EMA weights when it kept them (its train.ema), with the stages' configs."""
    if "stages" not in state:
        ema = "G_ema" in state
        return state["G_ema" if ema else "G"], {"ema": ema}
    from .stack import stack_weights

    stages = [{"config": s["config"], "data_info": s["data_info"], "step": int(s["step"]),
               "ema": bool(s["config"]["train"]["ema"])} for s in state["stages"]]
    return stack_weights(state), {"ema": [s["ema"] for s in stages], "stages": stages}


def load(path: str | Path, device: str | torch.device = "cpu"):
    """The Generator of an export directory: the network built from config.json, then the
    weights from model.safetensors (strictly: every tensor must fit)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    p = Path(path)
    try:
        meta = json.loads((p / CONFIG).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CheckpointError(f"{p} is not a ganforge export: cannot read {CONFIG} ({e})") from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{p / CONFIG} is not a ganforge export's config (format {meta.get('format')!r})")
    if meta.get("version", 0) > VERSION:
        raise CheckpointError(f"{p} was exported by a newer ganforge (format {meta['version']}); upgrade ganforge")
    try:
        weights = load_file(str(p / WEIGHTS))
    except (SafetensorError, OSError) as e:
        raise CheckpointError(f"{p / WEIGHTS} is truncated or not a safetensors file ({e})") from None
    if "stages" in meta:  # a stacked GAN: config.json holds both stages' configs, as a stack checkpoint does
        from .stack import load_stack

        return load_stack(meta, p / WEIGHTS, device, weights)
    cfg, info = config.from_dict(meta["config"]), DataInfo.from_dict(meta["data_info"])
    G, _ = models.build(cfg.model, info)
    checkpoint.load_weights(G, weights, "generator", p / WEIGHTS)
    # source: the file loaded, as for a checkpoint; results of `evaluate` and `audit` go beside it.
    return Generator(G.to(device), cfg, info, meta["step"], p / WEIGHTS)


def eval_rows(ckpt: Path) -> list[dict]:
    """Evaluation rows of the run that wrote ``ckpt`` (its metrics.jsonl), oldest first."""
    from . import runs

    return [r for r in runs.read_metrics(runs.run_of(ckpt)) if "eval" in r]


def sample_grid(g, path: Path) -> None:
    x = g.sample(GRID_N, seed=GRID_SEED)
    if g.info.kind == "points":
        viz.scatter(x.numpy(), None, path, g.info.centers, f"{GRID_N} samples")
    else:
        viz.save_grid(x, path)


def model_card(meta: dict, evals: list[dict], onnx: dict | None = None) -> str:
    c, info = meta["config"], meta["data_info"]
    classes = f", {info['num_classes']} classes" if info.get("num_classes") else ""
    res = lambda i: "x".join(map(str, i["shape"][1:]))
    if "stages" in meta:  # a stack: what each stage is, and which weights are whose
        s1, s2 = meta["stages"]
        what = f"a stack on {c['data']['name']}: `{s1['config']['model']['family']}` {res(s1['data_info'])} → `{s2['config']['model']['family']}` {res(s2['data_info'])}"
        rows = [f"| stack | stage 1 makes {res(s1['data_info'])} images, stage 2 turns them into {res(s2['data_info'])}; "
                f"the latent is both stages' noise joined (nz {s1['config']['model']['nz']} + {s2['config']['model']['nz']}) |"]
        for i, s in enumerate(meta["stages"], 1):
            rows += generator_rows(s["config"], s["step"], s["ema"], f"stage {i} ", f" (keys `g{i}.*`)")
    else:
        what, rows = f"{c['model']['family']} on {c['data']['name']}", generator_rows(c, meta["step"], meta["ema"])
    lines = [
        f"# ganforge generator: {what}", "",
        f"![{GRID_N} samples, seed {GRID_SEED}]({GRID})", "",
        "| | |", "|---|---|",
        f"| data | `{c['data']['name']}`, {info['kind']} {tuple(info['shape'])}{classes} |",
        *rows,
        f"| exported by | ganforge {meta['ganforge_version']} from `{Path(meta['source']).name}` |", "",
        "## Evaluation", "",
    ]
    if not evals:
        lines += ["The run recorded no evaluation (`train.eval_every` was 0): run "
                  "`ganforge evaluate DIR` to score this generator.", ""]
    else:
        last = evals[-1]
        lines += [f"At step {last['step']} (the run's last evaluation; all are in its metrics.jsonl):", "",
                  "| metric | value | protocol |", "|---|---|---|"]
        for r in last["eval"]:
            proto = ", ".join(f"{k} {v}" for k, v in r.get("protocol", {}).items())
            value = f"{r['value']:.6g}" if isinstance(r.get("value"), (int, float)) else r.get("value")
            lines.append(f"| {r['metric']} | {value} | {proto} |")
        lines += ["", "Numbers are comparable only with results of the same protocol (extractor and its "
                  "weights hash, N, reference split, seed, dataset hash).", ""]
    lines += ["## Use", "", "```python", "import ganforge", "g = ganforge.load(\"DIR\")   # this directory",
              "x = g.sample(16, seed=0)    # " + ("(16, 2) points" if info["kind"] == "points" else "(16, C, H, W) in [-1, 1]"),
              *(["low, high = g.stages(g.latents(16, seed=0))   # stage 1's images and the stack's"] if "stages" in meta else []),
              "```", "", f"Without ganforge: `safetensors.torch.load_file(\"{WEIGHTS}\")` gives the state_dict; "
              + (f"`{CONFIG}` holds the config that builds each stage's network (`stages`), whose weights are "
                 "the keys under `g1.` and `g2.`." if "stages" in meta else f"`{CONFIG}` holds the config that builds the network."), ""]
    if onnx:
        lines += onnx_section(onnx)
    return "\n".join(lines)


def onnx_section(info: dict) -> list[str]:
    check = ("matches ganforge's samples in onnxruntime to within "
             f"{info['max_difference']:.2g} (largest difference over 8 latents)" if info.get("max_difference") is not None
             else "was not checked here (onnxruntime was not installed)")
    feeds = ", \"y\": y" if info["classes"] else ""
    return ["## ONNX", "", f"`{info['file']}` (opset {info['opset']}, dynamic batch) {check}.", "",
            "| | |", "|---|---|", *[f"| input | `{i}` |" for i in info["inputs"]], f"| output | `{info['output']}` |", "",
            "```python", "import numpy as np, onnxruntime as ort", f"s = ort.InferenceSession(\"{info['file']}\")",
            f"z = np.random.default_rng(0).standard_normal((16, {info['nz']})).astype(np.float32)",
            *([f"y = np.arange(16) % {info['classes']}   # the classes, int64"] if feeds else []),
            f"x = s.run(None, {{\"z\": z{feeds}}})[0]", "```", ""]


def generator_rows(c: dict, step: int, ema: bool, label: str = "", keys: str = "") -> list[str]:
    """The model card's rows for one generator (one stage of a stack: ``label`` "stage N ")."""
    cond = c["model"].get("conditional", "none")
    return [f"| {label}model | `{c['model']['family']}`, nz {c['model']['nz']}, conditional `{cond}` |",
            f"| {label}objective | `{c['objective']['name']}` |",
            f"| {label}training | {step} steps, batch {c['train']['batch_size']}, seed {c['train']['seed']} |",
            f"| {label}weights | {'EMA of G (decay ' + str(c['train']['ema']) + ')' if ema else 'G'}, `{WEIGHTS}`{keys} |"]
