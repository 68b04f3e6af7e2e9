"""Watching a run: the health monitor's probes and verdicts, and the periodic evaluation
that keeps checkpoints/best.pt. Rank 0 looks and judges; every process gets the same values
and the same Decision (health.decide), which the loop carries out."""
from __future__ import annotations

import math

import torch

from .. import config, dist, health, runs
from ..config import Config
from ..generator import Generator
from ..health import OVERFIT_EPOCHS, OVERFIT_SET, Decision, HealthMonitor
from . import state
from .state import keep_rng, say


def overfit_from(images: int | None, batch: int) -> int | None:
    """The step from which D may be judged to overfit: once a small set of images has been seen
    OVERFIT_EPOCHS times (never for a set over OVERFIT_SET images, nor for points: None)."""
    return None if images is None or images > OVERFIT_SET else math.ceil(OVERFIT_EPOCHS * images / batch)


class Watch:
    def __init__(self, cfg: Config, run_dir: runs.Run, source, game, device: torch.device):
        self.cfg, self.source, self.game, self.device = cfg, source, game, device
        h = cfg.health
        self.monitor = HealthMonitor(run_dir, h.window, game.obj, int(h.warmup * cfg.train.steps), source.info.kind,
                                     config.flat(cfg.to_dict()), overfit_from(len(source) if source.info.kind == "image" else None,
                                                            cfg.train.batch_size * dist.world())) \
            if h.enabled and dist.is_main() else None
        with keep_rng():
            self.classes = self.classifier() if self.monitor is not None else None

    def classifier(self):
        """health.classes: the domain classifier that counts the classes G covers, when the data
        is labelled images and one is cached (auto) or may be trained (train)."""
        mode, src = self.cfg.health.classes, self.source
        if mode == "off" or src.info.kind != "image" or getattr(src, "labels", None) is None:
            return None
        if mode == "auto" and not isinstance(src.images, torch.Tensor):
            return None  # memory-mapped: hashing it to find a cached classifier could take minutes
        from ..metrics.features import domain_classifier

        if mode == "train":
            say("ganforge: training the domain classifier for health.classes (cached for later runs)")
        model, _ = domain_classifier(src, train=mode == "train")
        return model

    def probe(self, G: torch.nn.Module, step: int) -> dict:
        """Health's periodic look at the samples: a fixed batch through G (the EMA copy if kept),
        on rank 0; every process gets the same values to report."""
        dist.sync_buffers(G)
        values = None
        if self.monitor is not None:
            gen = torch.Generator().manual_seed(self.cfg.train.seed + 2)
            z = torch.randn(256, self.cfg.model.nz, generator=gen).to(self.device)
            k = self.game.num_classes
            y = torch.arange(256, device=self.device) % k if k else None
            was_training = G.training
            G.eval()
            with torch.no_grad(), keep_rng():
                fake = G(z, y).float().cpu()
                real, _ = self.source.real_samples(256, seed=0)
                values = self.monitor.probe(step, fake, real, self.source.info, self.classes)
            G.train(was_training)
        return dist.broadcast_object(values)

    def decide(self, step: int, row: dict) -> Decision:
        """The health events of a logged row and what to do about them, the same on every process."""
        h = self.cfg.health
        events = self.monitor.observe(step, row) if self.monitor is not None else []
        decision = health.decide(step, row, events, h.action, h.conditions) if dist.is_main() else None
        return dist.broadcast_object(decision)

    def evaluate(self, t) -> None:
        """Periodic evaluation of the trainer ``t``'s sampler: results, with their protocol, go to
        metrics.jsonl, and checkpoints/best.pt keeps the best step by train.eval_metric (FID often
        peaks early, then degrades). Rank 0 evaluates; the value, and so the decision, is shared.
        A non-finite value or non-finite weights never become "best"."""
        from ..metrics.evaluate import append_results, best_value, evaluate, is_better

        T, G = self.cfg.train, t.sampler
        name = T.eval_metric if T.eval_metric != "auto" else ("high_quality" if self.source.info.kind == "points" else "fid")
        dist.sync_buffers(G)
        value = None
        if dist.is_main():
            was_training = G.training
            try:
                with keep_rng():
                    results = evaluate(Generator(G, self.cfg, self.source.info), self.source, metrics=[name], n=T.eval_n, seed=T.seed)
            finally:
                G.train(was_training)  # Generator() puts the net in eval mode
            append_results(t.run_dir.path, results, t.step)
            value = best_value(results, name)
        value = dist.broadcast_object(value)
        if value is not None and math.isfinite(value) and is_better(name, value, t.best) and state.finite(t):
            t.best = value
            t.save(t.run_dir.best)
            say(f"ganforge: step {t.step}: {name} {value:.4g}, the best so far (checkpoints/{runs.BEST})")
