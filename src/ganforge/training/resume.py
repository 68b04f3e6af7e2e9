"""How a run starts or continues: ``train(resume="auto")`` decides between continuing a run
directory and starting one there (so a command that torchrun restarts, or a batch job that is
requeued, needs no change), and ``started`` writes the start into the run's log."""
from __future__ import annotations

import time
from pathlib import Path

from .. import checkpoint, config, dist, runs
from ..config import Config
from ..errors import ConfigError, GanforgeError
from .device import choose_threads, pick_device, use_threads
from .loop import Trainer
from .state import say


def started(t: Trainer, resumed: bool) -> None:
    """A run's start, in its log: the CPU threads chosen for its networks (printed, and a line
    of starts.jsonl with the step and the number of processes). A resumed run first drops the
    rows an earlier attempt logged past the checkpoint it resumes from: it logs those steps again."""
    params = sum(p.numel() for net in (t.game.G, t.game.D) for p in net.parameters())
    threads = use_threads(choose_threads(params))
    say(f"ganforge: {threads.n} CPU thread{'s' if threads.n > 1 else ''} per process: {threads.why}")
    if resumed:
        runs.trim(t.run_dir, t.step)
    t.run_dir.append(t.run_dir.starts, {"step": t.step, "time": round(time.time(), 3), "event": "resume" if resumed else "start",
                                        "processes": dist.world(), "threads": threads.n, "threads_why": threads.why})


def continue_or_start(cfg: Config, out) -> tuple[Path | None, Path | None]:
    """``resume="auto"``: (None, out) when ``out`` holds a run to continue, else (out, None) to
    start one there. Rank 0 looks and decides; every process gets its decision (or its error).
    A directory that an earlier attempt left before its first checkpoint (its config.yaml, no
    checkpoint) has nothing to continue: the run starts there again."""
    if out is None:
        raise ConfigError("--resume auto needs --out RUN_DIR (out= from Python): the run directory to continue, "
                          "or to start when it holds no run")
    dist.init(pick_device(cfg.train.device), cfg.train.dist_timeout)  # before rank 0's decision is broadcast
    found = problem = None
    if dist.is_main():
        try:
            found = _look(cfg, Path(out))
        except GanforgeError as e:
            problem = str(e)
    found, problem = dist.broadcast_object((found, problem))
    if problem:
        raise ConfigError(problem)
    say(f"ganforge: --resume auto: continuing {out} ({found})" if found else f"ganforge: --resume auto: starting {out}")
    return (None, Path(out)) if found else (Path(out), None)


def _look(cfg: Config, out: Path) -> str | None:
    """What ``out`` holds to continue (its latest checkpoint's name, or "a stack"), or None; a
    run to continue must be of the same options but for train.*. Rank 0 alone calls this."""
    r = runs.Run(out, writes=True)
    last = checkpoint.latest(r.checkpoints) if r.checkpoints.is_dir() else None
    if last is not None or runs.is_stack(out):
        same_run(cfg, config.yaml_dict(r.config) if r.config.is_file() else checkpoint.load(last)["config"], out)
        return last.name if last is not None else "a stack"
    if runs.is_run(out):
        if r.config.is_file():
            same_run(cfg, config.yaml_dict(r.config), out)
        runs.clear_unstarted(r)
        if runs.is_run(out):
            raise ConfigError(f"--resume auto: {r.checkpoints} holds files but no checkpoint (step-N.pt) to continue "
                              f"from; move them away or choose another --out")
    return None


def same_run(cfg: Config, saved: dict, out: Path) -> None:
    """Refuse to continue a run whose config differs from ``cfg`` other than in train.*."""
    try:
        theirs = config.flat(config.from_dict(saved).to_dict())
    except ConfigError as e:
        raise ConfigError(f"--resume auto: the config of the run in {out} cannot be read ({e})") from None
    given = config.flat(cfg.to_dict())
    diff = [k for k in sorted(given.keys() | theirs.keys()) if not k.startswith("train.") and given.get(k) != theirs.get(k)]
    if diff:
        shown = "; ".join(f"{k}: {theirs.get(k)!r} in the run, {given.get(k)!r} given" for k in diff[:5])
        raise ConfigError(f"--resume auto: {out} holds a run with other options ({shown}{'; ...' if len(diff) > 5 else ''}). "
                          "Only train.* options may change when a run continues: give the run's own options, "
                          "or choose another --out")
