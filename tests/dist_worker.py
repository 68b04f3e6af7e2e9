"""Run under torchrun by test_distributed.py: many scenarios in one launch (a launch costs seconds).

    python -m torch.distributed.run --standalone --nproc-per-node 2 tests/dist_worker.py OUT SCENARIO...

Every process writes what the test compares to OUT/<name>/rank<R>.pt (this is the test's own
output; ganforge's run directories are written by rank 0 only). float64 throughout, so the
comparison with one process is tight.
"""
from __future__ import annotations

import copy
import hashlib
import itertools
import os
import shutil
import signal
import sys
from pathlib import Path

import torch

MODEL = {"family": "mlp", "g_hidden": [16, 16], "d_hidden": [16, 16], "d_norm": "none", "dropout": 0.0, "nz": 4}
TRAIN = {"steps": 4, "batch_size": 8, "log_every": 1, "sample_every": 100, "ckpt_every": 100, "n_samples": 8,
         "progress": False, "tensorboard": False, "device": "cpu", "dist_timeout": 60}
TOY = {"data": {"name": "ring8"}, "model": MODEL, "train": TRAIN, "health": {"enabled": False}}
IMG = {"data": {"name": "digits", "resolution": 8}, "model": MODEL, "train": TRAIN, "health": {"enabled": False}}


def case(base: dict, **sections) -> dict:
    out = copy.deepcopy(base)
    for k, v in sections.items():
        out[k] = {**out.get(k, {}), **v}
    return out


# Every objective and the options the issue names; none has BatchNorm, dropout or mbstd
# (those are per process), so 2 processes must equal 1 with the same global batch.
CASES = {
    "nonsaturating-k2-ema": case(TOY, train={"d_steps": 2, "ema": 0.9}),
    "minimax-smoothing": case(TOY, objective={"name": "minimax", "label_smoothing": 0.1}),
    "wgan-clip-k3": case(TOY, objective={"name": "wgan"}, train={"d_steps": 3}, optim={"name": "rmsprop", "lr_d": 5e-3}),
    "wgan-gp": case(TOY, objective={"name": "wgan-gp"}),
    "lsgan-r1": case(TOY, objective={"name": "lsgan", "r1_weight": 1.0}),
    "hinge-sn-projection": case(IMG, objective={"name": "hinge"}, model={"spectral_norm": True, "conditional": "projection"}),
    "energy-autoencoder": case(IMG, objective={"name": "energy", "pt_weight": 0.5}, model={"d_arch": "autoencoder"}),
    "acgan-diffaugment-noise": case(IMG, model={"conditional": "acgan"},
                                    objective={"diffaugment": "color,translation,cutout", "instance_noise": 0.1}),
    "concat-mode-seeking": case(IMG, model={"conditional": "concat"}, objective={"mode_seeking": 1.0}),
    "health-eval": case(TOY, health={"enabled": True, "every": 2}, train={"eval_every": 2, "eval_n": 64}),
}
BATCHNORM = case(IMG, data={"resolution": 16}, model={"family": "dcgan", "ngf": 4, "ndf": 4, "d_norm": "batch"}, train={"steps": 3})  # channels-last too
STOP = case(TOY, train={"steps": 6, "ckpt_every": 2, "d_steps": 2})
HEALTHSTOP = case(TOY, health={"enabled": True, "action": "stop", "every": 100, "warmup": 0.0}, train={"steps": 6})
NAN = case(TOY, train={"steps": 6, "ckpt_every": 2, "max_rollbacks": 2})


def nets(t) -> dict:
    return {"G": t.game.G.state_dict(), "D": t.game.D.state_dict(),
            **({"G_ema": t.G_ema.state_dict()} if t.G_ema is not None else {})}


def fingerprint(game) -> str:
    h = hashlib.sha1()
    for net in (game.G, game.D):
        for v in net.state_dict().values():
            h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def hook(every_step=None):
    """Wrap the loop's gan_step: ``every_step(game, batches, step)`` may replace the batches."""
    from ganforge.training import loop

    real = loop._real_gan_step = getattr(loop, "_real_gan_step", loop.gan_step)

    def gan_step(game, batches):
        if every_step is not None:
            batches = every_step(game, batches, game.aug.step) or batches
        real(game, batches)

    loop.gan_step = gan_step


def train(cfg_dict: dict, out: Path, resume=False, every_step=None):
    from ganforge import config as C
    from ganforge import training

    hook(every_step)
    t = training.Trainer(C.from_dict(cfg_dict), None if resume else out, out if resume else None)
    stopped = None
    try:
        t.run()
    except training.TrainingStopped as e:
        stopped = t.step, e.signum
    except training.HealthStop:
        stopped = t.step, "health"
    return t, stopped


def save(out: Path, rank: int, obj: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    torch.save(obj, out / f"rank{rank}.pt")


def scenario_cases(out: Path, rank: int, names=None) -> None:
    for name in names or CASES:
        t, _ = train(CASES[name], out / "runs" / name)
        save(out / name, rank, {"nets": nets(t), "step": t.step})


def scenario_every_step(out: Path, rank: int) -> None:
    """A fingerprint of G and D after every step, to compare across processes."""
    from ganforge import config as C
    from ganforge import training

    hook()
    real, prints = training.loop._real_gan_step, []

    def after(game, batches):
        real(game, batches)
        prints.append(fingerprint(game))

    training.loop.gan_step = after
    training.Trainer(C.from_dict(CASES["acgan-diffaugment-noise"]), out / "runs" / "every-step").run()
    save(out / "every-step", rank, {"fingerprints": prints})


def scenario_batchnorm(out: Path, rank: int) -> None:
    t, _ = train(BATCHNORM, out / "runs" / "batchnorm")
    save(out / "batchnorm", rank, {"nets": nets(t), "run": str(t.dir)})


def scenario_stop(out: Path, rank: int) -> None:
    """Uninterrupted 6 steps; and SIGTERM to rank 1 only at step 3, then resume to 6."""
    a, _ = train(STOP, out / "runs" / "straight")
    save(out / "straight", rank, {"nets": nets(a)})

    def sigterm(game, batches, step):
        if rank == 1 and step == 3:
            os.kill(os.getpid(), signal.SIGTERM)

    b, stopped = train(STOP, out / "runs" / "stopped", every_step=sigterm)
    if rank == 0:  # the 1-process resume in the test starts from a copy of the stopped run
        shutil.copytree(b.dir, out / "runs" / "stopped-copy")
    from ganforge import dist

    dist.barrier()
    c, _ = train(STOP, b.dir, resume=True)
    save(out / "stopped", rank, {"nets": nets(c), "stopped": stopped, "run": str(b.dir)})


def scenario_nan(out: Path, rank: int) -> None:
    """A NaN in rank 1's data at step 3 only: every process rolls back at the same step."""
    fired = []

    def poison(game, batches, step):
        if rank == 1 and step == 3 and not fired:
            fired.append(step)
            x, y = next(batches)
            return itertools.chain([(x * float("nan"), y)], batches)

    t, _ = train(NAN, out / "runs" / "nan", every_step=poison)
    save(out / "nan", rank, {"nets": nets(t), "rollbacks": t.rollbacks, "run": str(t.dir)})


def scenario_healthstop(out: Path, rank: int) -> None:
    """health.action stop: rank 0's monitor (the only one) sees a condition at step 3; all stop there."""
    from ganforge import health

    real = health.HealthMonitor.observe

    def observe(self, step, row):
        forced = [{"step": step, "condition": "d_wins", "status": "start", "title": "D wins (forced by the test)",
                   "detail": "test", "remedies": ["none"]}] if step == 3 else []
        return real(self, step, row) + forced

    health.HealthMonitor.observe = observe
    try:
        t, stopped = train(HEALTHSTOP, out / "runs" / "healthstop")
    finally:
        health.HealthMonitor.observe = real
    save(out / "healthstop", rank, {"stopped": stopped, "has_monitor": t.watch.monitor is not None, "run": str(t.dir)})


def scenario_indivisible(out: Path, rank: int) -> None:
    """A global batch that does not split over the processes is refused, by every process."""
    from ganforge import config as C
    from ganforge import training
    from ganforge.errors import ConfigError

    try:
        training.Trainer(C.from_dict(case(TOY, train={"batch_size": 7})), out / "runs" / "indivisible")
    except ConfigError as e:
        save(out / "indivisible", rank, {"error": str(e), "exists": (out / "runs" / "indivisible").exists()})


def scenario_teardown(out: Path, rank: int) -> None:
    """training.train() leaves the process group (last: the launch's group ends here): gloo's
    threads must be gone when it returns. A group kept alive past it (torch.distributed.nn
    holds the one that exists when it is imported) was freed in the interpreter's teardown,
    which aborted a process now and then."""
    from ganforge import config as C
    from ganforge import training

    training.train(C.from_dict(case(TOY, train={"steps": 2})), out / "runs" / "teardown")
    tasks = Path("/proc/self/task")
    threads = sorted((t / "comm").read_text().strip() for t in tasks.iterdir()) if tasks.is_dir() else None
    save(out / "teardown", rank, {"threads": threads})


def scenario_die(out: Path, rank: int, hang: bool = False) -> None:
    """Rank 1 dies (or hangs) at step 3; rank 0 must stop with a clear error (no torchrun agent
    here: it would kill the survivor itself), a hung peer within train.dist_timeout."""
    import time

    from ganforge import config as C
    from ganforge import training
    from ganforge.errors import GanforgeError

    started = []

    def die(game, batches, step):
        if step == 3 and not started:
            started.append(time.monotonic())
            if rank == 1:
                time.sleep(15) if hang else os._exit(3)

    hook(die)
    try:
        training.train(C.from_dict(case(TOY, train={"steps": 50, "dist_timeout": 4})), out / "runs" / f"die{rank}")
    except GanforgeError as e:
        (out / f"error-rank{rank}.txt").write_text(f"{time.monotonic() - started[0]:.1f}\n{e}")


def scenario_hang(out: Path, rank: int) -> None:
    scenario_die(out, rank, hang=True)


def main() -> None:
    torch.set_num_threads(1)
    torch.set_default_dtype(torch.float64)
    out, names = Path(sys.argv[1]), sys.argv[2:]
    from ganforge import dist

    if names not in (["die"], ["hang"]):  # the other scenarios share one process group; Trainer joins it
        dist.init(torch.device("cpu"), timeout_s=60)
    rank = dist.rank()
    for name in names:
        if name.startswith("case:"):
            scenario_cases(out, rank, name[5:].split(","))
        else:
            globals()[f"scenario_{name}"](out, rank)
        print(f"rank {rank}: {name} done", flush=True)
    dist.shutdown()  # before the interpreter's teardown (atexit would too)


if __name__ == "__main__":
    main()
