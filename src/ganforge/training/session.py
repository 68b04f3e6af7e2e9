"""Training driven step by step from other code: the browser playground is one such client.

    s = Session(cfg)                 # networks, optimizers, data: as every run builds them
    values = s.step_once()           # one gan_step ("d" or "g": that network's update alone)
    s.rows, s.events                 # a row of means every train.log_every steps; health events
    s.reconfigure(new_cfg)           # learning rates, k, objective in place; new networks if needed
    s.save("runs/mine")              # a run directory: sample, diagnose and train --resume take it

A Session keeps its state in memory and writes nothing until ``save``, which hands the state
to a Trainer (``Trainer.adopt``): the run directory it writes is the one ``ganforge train``
writes. Health is judged as in training (watch.Watch): probes every ``health.every`` steps,
events from each logged row; a Session never rolls back or stops by itself.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import torch

from .. import assemble, config, data, runs, viz
from ..config import Config
from ..errors import ConfigError
from ..log import Reporter
from .build import make_game
from .device import seed_everything
from .loop import Trainer, gan_step
from .watch import Watch

# A change to any of these needs new networks or data: the session starts again.
REBUILD = ("model.", "data.", "train.seed")


class _Held:
    """An optimizer whose step does nothing: a one-network step is gan_step with the
    other network's update held, so every step goes through the library's own loop."""

    def __init__(self, opt):
        self.opt = opt

    @property
    def param_groups(self):  # which parameters the network trains (Game.train_d reads them)
        return self.opt.param_groups

    def zero_grad(self, set_to_none: bool = True):
        self.opt.zero_grad(set_to_none=set_to_none)

    def step(self):
        pass


class Session:
    def __init__(self, cfg: Config, device: str | torch.device = "cpu"):
        self.cfg, self.device = cfg, torch.device(device)
        seed_everything(cfg.train.seed)
        self.source = data.build(cfg.data, cfg.train.seed)
        self.game = make_game(cfg, self.source.info, self.device)
        self.batches = self.source.batches(cfg.train.batch_size, self.device)
        self.watch = Watch(cfg, None, self.source, self.game, self.device)
        self.step = 0
        self.rows: list[dict] = []  # one per train.log_every steps: the metrics.jsonl of a saved run
        self.events: list[dict] = []  # health events, and the client's own notes
        self._window: dict[str, list[float]] = {}

    @property
    def info(self) -> data.DataInfo:
        return self.source.info

    def step_once(self, which: str = "full") -> dict:
        """One step: "full" (k D updates, then G's), "d" or "g" (one update of that network
        alone; the step count does not move). Returns the values the step reported."""
        g = self.game
        if which == "d":
            g = dataclasses.replace(g, opt_g=_Held(g.opt_g), k=1)
        elif which == "g":
            g = dataclasses.replace(g, opt_d=_Held(g.opt_d), k=1)
        elif which != "full":
            raise ConfigError(f"step {which!r}: expected full, d or g")
        with Reporter(None) as rep:
            gan_step(g, self.batches)
            values = {k: v for k, v in rep.flush(self.step).items() if k not in ("step", "time")}
        for k, v in values.items():
            self._window.setdefault(k, []).append(v)
        if which == "full":
            self.step += 1
            self._watch()
        return values

    def _watch(self) -> None:
        """Health at the training cadence: a probe every health.every steps, and every
        train.log_every steps a row of the window's means, judged."""
        h, T = self.cfg.health, self.cfg.train
        if h.enabled and self.step % h.every == 0:
            for k, v in self.watch.probe(self.game.G, self.step).items():
                self._window.setdefault(k, []).append(v)
        if self.step % T.log_every == 0:
            row = {"step": self.step, "time": round(time.time(), 3),
                   **{k: sum(v) / len(v) for k, v in self._window.items()}}
            self._window = {}
            self.rows.append(row)
            self.events.extend(self.watch.decide(self.step, row).events)

    def note(self, event: dict) -> None:
        """An event of the client's own (e.g. it paused on a divergence), kept with health's."""
        self.events.append({"step": self.step, **event})

    def reconfigure(self, cfg: Config) -> bool:
        """Take a new config while training: learning rates and k in place, a new objective
        (and a fresh health history) when the objective changes, new batches for a new batch
        size. A change to the networks or the data needs a new Session: False then, and
        nothing is changed."""
        flat = lambda c: {f"{s}.{k}": v for s, sec in c.to_dict().items() if isinstance(sec, dict) for k, v in sec.items()}
        old, new = flat(self.cfg), flat(cfg)
        changed = {k for k in new if old.get(k) != new[k]}
        if any(k.startswith(REBUILD) for k in changed):
            return False
        self.cfg, g = cfg, self.game
        if any(k.startswith("objective.") for k in changed):
            from .. import objectives

            g.obj = objectives.build(cfg.objective)
            self.watch = Watch(cfg, None, self.source, g, self.device)
        for opt, lr in ((g.opt_g, cfg.optim.lr_g), (g.opt_d, cfg.optim.lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr
        g.k = cfg.train.d_steps
        if "train.batch_size" in changed:
            self.batches = self.source.batches(cfg.train.batch_size, self.device)
        return True

    def state(self) -> dict:
        """What a Trainer adopts: the networks, optimizers, step and health history."""
        g, monitor = self.game, self.watch.monitor
        return {"G": g.G.state_dict(), "D": g.D.state_dict(), "opt_g": g.opt_g.state_dict(),
                "opt_d": g.opt_d.state_dict(), "step": self.step, **({"health": monitor.state_dict()} if monitor else {})}

    def save(self, out: str | Path, overrides: dict | None = None) -> Path:
        """A run directory at ``out`` (new, or empty) as ``ganforge train`` writes it, from this
        state: config.yaml (with ``overrides`` merged in, and room to train 1,000 steps more),
        checkpoints, a snapshot, metrics.jsonl and health.jsonl from the rows and events."""
        if not self.rows:
            raise ConfigError(f"train at least {self.cfg.train.log_every} steps before saving (nothing logged yet)")
        d = config.merge(self.cfg.to_dict(), {"train": {"steps": max(self.cfg.train.steps, self.step + 1000),
                                                        "progress": True, "tensorboard": False}})
        trainer = Trainer(assemble.from_dict(config.merge(d, overrides or {})), out=out)
        trainer.adopt(self.state())
        trainer.save()
        trainer.snapshot()
        r = trainer.run_dir
        runs.write_text(r.metrics, "".join(json.dumps(_finite(row)) + "\n" for row in self.rows))
        runs.write_text(r.health, "".join(json.dumps(e) + "\n" for e in self.events))
        viz.finish(r)
        return trainer.dir


def _finite(row: dict) -> dict:
    """JSON has no NaN or Inf: those become null."""
    return {k: (v if not isinstance(v, float) or math.isfinite(v) else None) for k, v in row.items()}
