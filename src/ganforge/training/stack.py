"""Training a stacked GAN (the model: stack.py), stage by stage.

A stack is a config whose ``model.stage1`` names stage 1 (a preset, a YAML file, or a
finished run directory to reuse) and whose own model is stage 2's (assemble.stage1_config,
stage2_config). Each stage is an ordinary run, trained by the one Trainer, one after the
other, inside the stack's run directory (runs.STAGES):

    RUN/config.yaml            the stack's config
    RUN/stage1/                stage 1's run (samples, curves, health, checkpoints)
    RUN/stage2/                stage 2's run: it learns from real images and their downsampled
                               versions, never from stage 1's output
    RUN/checkpoints/step-N.pt  the stack: both generators with their configs, written when
                               stage 2 finishes; ``ganforge sample RUN`` needs only this file
    RUN/samples/final.png      stage 1's samples (top row, enlarged) above the stack's, same latents

A stage that finished is not trained again: ``ganforge train --resume RUN`` continues
where the stack stopped (stage 1, or stage 2). Under torchrun each stage trains on every
process; rank 0 alone writes (the stack's directory, checkpoint and picture) and decides.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import torch
import torch.nn as nn

from .. import assemble, checkpoint, config, dist, runs, viz
from ..config import Config
from ..errors import ConfigError
from ..stack import load_stack
from .device import pick_device
from .loop import Trainer


def train_stack(cfg: Config, out=None, resume=None) -> Path:
    """Train (or continue) a stack; returns its run directory. Under torchrun every process
    calls this: each stage trains distributed (the Trainer's scheme), rank 0 alone reads and
    writes the run directory and decides what is left to train, and every process finishes
    stage 1 before any starts stage 2 (each Trainer ends at a barrier)."""
    dist.init(pick_device(cfg.train.device), cfg.train.dist_timeout)  # before runs.new: rank 0 chooses the directory
    if resume:
        r = runs.Run(resume)
    else:
        r = runs.new(out)
        runs.create(r, lambda: r.write_text(r.config, config.to_yaml(cfg)))
    stage1, stage2 = r.stages()
    for stage, stage_cfg in ((stage1, assemble.stage1_config(cfg)), (stage2, assemble.stage2_config(cfg))):
        reuse = cfg.model.stage1 if stage == stage1 and Path(cfg.model.stage1).is_dir() else None
        todo, problem = dist.broadcast_object(progress(stage, stage_cfg.train.steps, reuse) if dist.is_main() else None)
        if problem:
            raise ConfigError(problem)
        if todo != "done":
            Trainer(stage_cfg, out=stage if todo == "new" else None, resume=stage if todo == "resume" else None).run()
    if dist.is_main():
        save_stack(r, cfg)
    dist.barrier()  # the stack's checkpoint is on disk before any process returns
    return r.path


def progress(stage: Path, steps: int, reuse: str | None = None) -> tuple[str, str | None]:
    """("new" | "resume" | "done", a problem): where a stage of ``steps`` steps stands, read by
    rank 0 alone. A finished run to ``reuse`` (model.stage1) is copied in first."""
    if reuse and not stage.exists():
        try:
            shutil.copytree(reuse, stage)
        except OSError as e:
            shutil.rmtree(stage, ignore_errors=True)
            return "new", f"cannot copy the stage-1 run {reuse} into {stage}: {e.strerror or e}"
    last = checkpoint.latest(stage / runs.CHECKPOINTS) if (stage / runs.CHECKPOINTS).is_dir() else None
    if last is None:
        return "new", None
    return ("done" if int(checkpoint.load(last)["step"]) >= steps else "resume"), None


def save_stack(r: runs.Run, cfg: Config) -> Path:
    """RUN/checkpoints/step-N.pt: both generators (EMA weights when kept) with their configs;
    and RUN/samples/final.png: 8 of stage 1's samples above the stack's, from the same latents."""
    stages = []
    for stage in r.stages():
        state = checkpoint.load(stage)
        stages.append({"config": state["config"], "data_info": state["data_info"], "step": state["step"],
                       "G": state.get("G_ema", state["G"])})
    state = {"config": cfg.to_dict(), "data_info": stages[1]["data_info"], "step": stages[1]["step"], "stages": stages}
    path = checkpoint.save(r.checkpoint(stages[1]["step"]), state)
    checkpoint.prune(r.checkpoints, cfg.train.keep_ckpts)
    g = load_stack(state, path)
    z = g.latents(min(8, cfg.train.n_samples), seed=cfg.train.seed + 1)
    low, high = g.stages(z, g.labels_for(len(z)))
    r.samples.mkdir(exist_ok=True)
    viz.save_grid(torch.cat([nn.functional.interpolate(low, size=high.shape[-1], mode="nearest"), high]), r.final, nrow=len(z))
    return path
