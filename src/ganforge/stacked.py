"""Stacked GANs: stage 1 (any registered GAN) at low resolution, then stage 2 (the upsample
family) that turns stage 1's images into high-resolution ones (LAPGAN, Denton et al. 2015;
StackGAN, Zhang et al. 2017).

A stack is a config whose ``model.stage1`` names stage 1 (a preset, a YAML file, or a
finished run directory to reuse) and whose own model is stage 2's. Each stage is an ordinary
run, trained by the one Trainer, one after the other, inside the stack's run directory:

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

from . import assemble, checkpoint, config, dist, models, runs
from .config import Config
from .data.base import DataInfo
from .errors import ConfigError
from .generator import Generator
from .training import Trainer, pick_device

# Stage 1 shares the stack's data (at the low resolution) and these run settings.
_SHARED_DATA = ("name", "root", "split", "channels", "download", "max_memory_mb", "labels")
_SHARED_TRAIN = ("seed", "device", "progress", "tensorboard", "log_every", "sample_every", "ckpt_every", "keep_ckpts", "n_samples")


def is_stack(run: str | Path) -> bool:
    return (Path(run) / "stage1").is_dir() and (Path(run) / "config.yaml").is_file()


def stage1_config(cfg: Config) -> Config:
    """Stage 1's config: its preset, YAML or run, on the stack's data at ``model.low_res``."""
    src, m = cfg.model.stage1, cfg.model
    if Path(src).is_dir():
        d = checkpoint.load(src)["config"]
    elif src.endswith((".yaml", ".yml")):
        d = config.yaml_dict(src)
    else:
        try:
            d = config.preset_dict(src)
        except ConfigError as e:
            raise ConfigError(f"model.stage1 = {src!r}: not a run directory, a YAML file or a preset ({e})") from None
    data = {k: getattr(cfg.data, k) for k in _SHARED_DATA}
    train = {k: getattr(cfg.train, k) for k in _SHARED_TRAIN}
    if m.stage1_steps:
        train["steps"] = m.stage1_steps
    d = config.merge(d, {"data": {**data, "resolution": m.low_res}, "train": train})
    if Path(src).is_dir():
        d = config.merge(d, {"model": {"stage1": "", "stage1_steps": 0}})
    return assemble.from_dict(d)


def stage2_config(cfg: Config) -> Config:
    """Stage 2 on its own: the stack's config without the stack."""
    return assemble.from_dict(config.merge(cfg.to_dict(), {"model": {"stage1": "", "stage1_steps": 0}}))


def check(cfg: Config) -> None:
    if cfg.model.family != "upsample":
        raise ConfigError(f"model.stage1 = {cfg.model.stage1!r} makes a stack, whose model is stage 2: "
                          f"model.family must be upsample, not {cfg.model.family!r}")
    s1 = stage1_config(cfg)
    if s1.data.resolution != cfg.model.low_res:
        raise ConfigError(f"model.stage1 = {cfg.model.stage1!r} trains at {s1.data.resolution}, but model.low_res is {cfg.model.low_res}")


def train_stack(cfg: Config, out=None, resume=None) -> Path:
    """Train (or continue) a stack; returns its run directory. Under torchrun every process
    calls this: each stage trains distributed (the Trainer's scheme), rank 0 alone reads and
    writes the run directory and decides what is left to train, and every process finishes
    stage 1 before any starts stage 2 (each Trainer ends at a barrier)."""
    check(cfg)
    dist.init(pick_device(cfg.train.device), cfg.train.dist_timeout)  # before runs.new: rank 0 chooses the directory
    if resume:
        run = Path(resume)
    else:
        r = runs.new(out)
        runs.create(r, lambda: r.write_text(r.config, config.to_yaml(cfg)))
        run = r.path
    for stage, stage_cfg in ((run / "stage1", stage1_config(cfg)), (run / "stage2", stage2_config(cfg))):
        reuse = cfg.model.stage1 if stage.name == "stage1" and Path(cfg.model.stage1).is_dir() else None
        todo, problem = dist.broadcast_object(progress(stage, stage_cfg.train.steps, reuse) if dist.is_main() else None)
        if problem:
            raise ConfigError(problem)
        if todo != "done":
            Trainer(stage_cfg, out=stage if todo == "new" else None, resume=stage if todo == "resume" else None).run()
    if dist.is_main():
        save_stack(run, cfg)
    dist.barrier()  # the stack's checkpoint is on disk before any process returns
    return run


def progress(stage: Path, steps: int, reuse: str | None = None) -> tuple[str, str | None]:
    """("new" | "resume" | "done", a problem): where a stage of ``steps`` steps stands, read by
    rank 0 alone. A finished run to ``reuse`` (model.stage1) is copied in first."""
    if reuse and not stage.exists():
        try:
            shutil.copytree(reuse, stage)
        except OSError as e:
            shutil.rmtree(stage, ignore_errors=True)
            return "new", f"cannot copy the stage-1 run {reuse} into {stage}: {e.strerror or e}"
    last = checkpoint.latest(stage / "checkpoints") if (stage / "checkpoints").is_dir() else None
    if last is None:
        return "new", None
    return ("done" if int(checkpoint.load(last)["step"]) >= steps else "resume"), None


def save_stack(run: Path, cfg: Config) -> Path:
    """RUN/checkpoints/step-N.pt: both generators (EMA weights when kept) with their configs;
    and RUN/samples/final.png: 8 of stage 1's samples above the stack's, from the same latents."""
    from . import viz

    stages = []
    for name in ("stage1", "stage2"):
        state = checkpoint.load(run / name)
        stages.append({"config": state["config"], "data_info": state["data_info"], "step": state["step"],
                       "G": state.get("G_ema", state["G"])})
    state = {"config": cfg.to_dict(), "data_info": stages[1]["data_info"], "step": stages[1]["step"], "stages": stages}
    r = runs.Run(run)
    path = checkpoint.save(r.checkpoint(stages[1]["step"]), state)
    checkpoint.prune(r.checkpoints, cfg.train.keep_ckpts)
    g = load_stack(state, path)
    z = g.latents(min(8, cfg.train.n_samples), seed=cfg.train.seed + 1)
    low, high = g.stages(z, g.labels_for(len(z)))
    r.samples.mkdir(exist_ok=True)
    viz.save_grid(torch.cat([nn.functional.interpolate(low, size=high.shape[-1], mode="nearest"), high]), r.final, nrow=len(z))
    return path


class Stack(nn.Module):
    """z = [z1 | z2] → stage 1 → stage 2: one G(z, y) for sample, interpolate, evaluate, audit."""

    def __init__(self, g1: nn.Module, g2: nn.Module, nz1: int):
        super().__init__()
        self.g1, self.g2, self.nz1 = g1, g2, nz1

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None, low_too: bool = False):
        low = self.g1(z[:, : self.nz1], y)
        high = self.g2(z[:, self.nz1 :], y, low=low)
        return (low, high) if low_too else high


class StackedGenerator(Generator):
    """A Generator whose latent is both stages' noise joined: nz = nz1 + nz2."""

    def __init__(self, net: Stack, cfg: Config, info: DataInfo, nz: int, step: int = 0, source: Path | None = None):
        super().__init__(net, cfg, info, step, source)
        self._nz = nz

    @property
    def nz(self) -> int:
        return self._nz

    @torch.no_grad()
    def stages(self, z: torch.Tensor, y: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(stage 1's low-res images, the stack's high-res images) for latents z."""
        low, high = self.net(z.to(self.device), None if y is None else y.to(self.device), low_too=True)
        return low.float().cpu(), high.float().cpu()


def stack_weights(state: dict) -> dict[str, torch.Tensor]:
    """Both generators' weights of a stack checkpoint as one state_dict of ``Stack``
    (stage 1's under ``g1.``, stage 2's under ``g2.``): what an export writes."""
    return {f"g{i}.{k}": v for i, s in enumerate(state["stages"], 1) for k, v in s["G"].items()}


def load_stack(state: dict, path: Path, device="cpu", weights: dict | None = None) -> StackedGenerator:
    """Both generators from one stack checkpoint (the state ``checkpoint.load`` read), or from
    an export's config.json (the same keys, less the weights) and its ``weights`` (``stack_weights``)."""
    nets, nzs = [], []
    for i, s in enumerate(state["stages"], 1):
        cfg_i, info_i = config.from_dict(s["config"]), DataInfo.from_dict(s["data_info"])
        G, _ = models.build(cfg_i.model, info_i)
        if weights is None:
            checkpoint.load_weights(G, s["G"], f"stage-{i} generator", path)
        nets.append(G)
        nzs.append(cfg_i.model.nz)
    net = Stack(*nets, nzs[0])
    if weights is not None:
        checkpoint.load_weights(net, weights, "stacked generator (g1: stage 1, g2: stage 2)", path)
    cfg, info = config.from_dict(state["config"]), DataInfo.from_dict(state["data_info"])
    return StackedGenerator(net.to(device), cfg, info, sum(nzs), int(state["step"]), Path(path))
