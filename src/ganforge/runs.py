"""The run directory: the one place that knows its layout, writes it, and reads it back.

    RUN/config.yaml          the resolved config          RUN/metrics.jsonl    one row per log_every
    RUN/health.jsonl         health events, rollbacks     RUN/tensorboard/     TensorBoard events
    RUN/starts.jsonl         one line each time training starts or resumes: step, processes, threads
    RUN/samples/step-N.png   fixed-noise snapshots        RUN/samples/final.png, latents.npz
    RUN/checkpoints/step-N.pt, best.pt                    RUN/losses.png, timelapse.gif
    RUN/latent/, RUN/audit/, RUN/diagnose.png|html        written later by ganforge's commands
    RUN/stage1/, RUN/stage2/ a stacked GAN's stages, each a run of this layout

Training writes through a ``Run``; with several processes only rank 0's ``Run`` writes (the
others' writes are no-ops), so a file is never written twice or half by two processes.
Readers (``ganforge diagnose``, a dashboard) use the module-level read helpers.
Writes of whole files are atomic: a temporary file beside the target, fsynced, renamed.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Callable

import yaml

from . import dist
from .errors import ConfigError

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"
HEALTH = "health.jsonl"
STARTS = "starts.jsonl"
SAMPLES = "samples"
CHECKPOINTS = "checkpoints"
TENSORBOARD = "tensorboard"
LOSSES = "losses.png"
TIMELAPSE = "timelapse.gif"
FINAL = "final.png"  # in samples/
LATENTS = "latents.npz"  # in samples/: the snapshots' fixed noise
BEST = "best.pt"  # in checkpoints/
LATENT = "latent"  # latent-space pictures (ganforge interpolate, plane, ...)
AUDIT = "audit"  # the memorization audit's pictures
DIAGNOSE_PNG, DIAGNOSE_HTML = "diagnose.png", "diagnose.html"
STAGES = ("stage1", "stage2")  # a stacked GAN's stages: each an ordinary run inside the stack's directory
_FRAME = re.compile(r"step-(\d+)\.png$")


# ---------------------------------------------------------------------------- writing

def atomic_write(path: str | Path, write: Callable) -> None:
    """Call ``write(binary_file)`` on a temp file beside ``path``, fsync, rename into place:
    a crash leaves the previous file whole, a reader never sees half a file."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


def write_text(path: str | Path, text: str) -> None:
    atomic_write(path, lambda f: f.write(text.encode()))


def write_json(path: str | Path, obj) -> None:
    write_text(path, json.dumps(obj))


def append_jsonl(path: str | Path, row: dict) -> None:
    """One JSON line, appended with a single write (readers see whole lines)."""
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")


def read_jsonl(path: str | Path) -> list[dict]:
    """The rows of a JSONL file; a missing file has none, a torn last line (a crash mid-append) is skipped."""
    p = Path(path)
    if not p.exists():
        return []
    rows = []
    for line in p.read_text().splitlines():
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


# ---------------------------------------------------------------------------- a run

class Run:
    """A run directory's paths, and its writes (no-ops unless ``writes``: rank 0 only)."""

    def __init__(self, path: str | Path, writes: bool | None = None):
        self.path = Path(path)
        self.writes = dist.is_main() if writes is None else writes

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    # -- names --------------------------------------------------------------------------
    config = property(lambda self: self.path / CONFIG)
    metrics = property(lambda self: self.path / METRICS)
    health = property(lambda self: self.path / HEALTH)
    starts = property(lambda self: self.path / STARTS)
    samples = property(lambda self: self.path / SAMPLES)
    checkpoints = property(lambda self: self.path / CHECKPOINTS)
    tensorboard = property(lambda self: self.path / TENSORBOARD)
    losses = property(lambda self: self.path / LOSSES)
    timelapse = property(lambda self: self.path / TIMELAPSE)
    final = property(lambda self: self.path / SAMPLES / FINAL)
    latents = property(lambda self: self.path / SAMPLES / LATENTS)
    best = property(lambda self: self.path / CHECKPOINTS / BEST)
    latent = property(lambda self: self.path / LATENT)
    audit = property(lambda self: self.path / AUDIT)
    diagnose_png = property(lambda self: self.path / DIAGNOSE_PNG)
    diagnose_html = property(lambda self: self.path / DIAGNOSE_HTML)

    def frame(self, step: int) -> Path:
        return self.samples / f"step-{step:06d}.png"

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step-{step:06d}.pt"

    def frames(self) -> list[Path]:
        return frames(self.path)

    def stages(self) -> list[Path]:
        """A stack's stage run directories, stage 1 first."""
        return [self.path / name for name in STAGES]

    def exists(self) -> bool:
        return is_run(self.path)

    # -- writes (rank 0 only) -------------------------------------------------------------
    def create(self) -> None:
        if self.writes:
            self.samples.mkdir(parents=True, exist_ok=True)
            self.checkpoints.mkdir(exist_ok=True)

    def write_text(self, path: Path, text: str) -> None:
        if self.writes:
            write_text(path, text)

    def append(self, path: Path, row: dict) -> None:
        if self.writes:
            append_jsonl(path, row)

    def write(self, path: Path, write: Callable) -> None:
        """``write(binary_file)`` atomically to ``path``."""
        if self.writes:
            atomic_write(path, write)


def free(base: str | Path, taken: Callable[[Path], bool] = Path.exists) -> Path:
    """``base``, or ``base-2``, ``base-3``...: the first name that is not ``taken``."""
    base = Path(base)
    run, i = base, 1
    while taken(run):
        i += 1
        run = base.with_name(f"{base.name}-{i}")
    return run


def default(name: str = "run") -> Path:
    """``runs/NAME``, or ``runs/NAME-2``, ``-3``... if it already holds a run."""
    return free(Path("runs") / name, is_run)


def choose(out: str | Path | None) -> Path:
    """The directory for a new run: ``out`` (refused if it already holds a run: never silently
    ``out-2``), or the default."""
    if out is None:
        return default()
    out = Path(out)
    if is_run(out):
        raise ConfigError(f"--out {out} already holds a run. Continue it with: ganforge train --resume {out} "
                          f"[--train.steps N]; or choose another --out")
    return out


def new(out: str | Path | None) -> Run:
    """A new run's Run, not created yet. With several processes rank 0 chooses, and every
    process gets its choice (or its error: none waits for a broadcast that never comes)."""
    path = problem = None
    if dist.is_main():
        try:
            path = choose(out)
        except ConfigError as e:
            problem = str(e)
    path, problem = dist.broadcast_object((path, problem))
    if problem:
        raise ConfigError(problem)
    return Run(path)


def create(run: Run, write: Callable[[], None]) -> None:
    """Make the run directory (with samples/ and checkpoints/), then call ``write()`` (every
    process calls it: it may hold collectives); on failure remove all that was made, so a run
    that could not start leaves nothing behind."""
    made = [p for p in (run.path, run.samples, run.checkpoints) if not p.exists()] if run.writes else []

    def undo():
        for p in made:
            shutil.rmtree(p, ignore_errors=True)
        if run.writes and run.path not in made:
            run.config.unlink(missing_ok=True)

    problem = None
    try:
        for p in made:
            p.mkdir(parents=True)
    except OSError as e:
        undo()
        problem = f"cannot create run directory {run.path}: {e.strerror or e}"
    problem = dist.broadcast_object(problem)
    if problem:
        raise ConfigError(problem)
    try:
        write()
    except BaseException as e:
        undo()
        if isinstance(e, OSError):
            raise ConfigError(f"cannot create run directory {run.path}: {e.strerror or e}") from None
        raise


def trim(run: Run, step: int) -> None:
    """Before a run resumes from its step-``step`` checkpoint: drop the metrics and health rows
    an earlier attempt logged past it (a process killed between two checkpoints), since those
    steps are trained and logged again, and a torn last line."""
    for path in (run.metrics, run.health):
        if not (run.writes and path.is_file()):
            continue
        lines = [line for line in path.read_text().splitlines() if line.strip()]
        kept = [row for row in read_jsonl(path) if row.get("step", 0) <= step]
        if len(kept) < len(lines):
            write_text(path, "".join(json.dumps(row) + "\n" for row in kept))


def clear_unstarted(run: Run) -> None:
    """Remove what a run that never reached its first checkpoint left behind (its config.yaml
    and fixed latents, rows past step 0, temporary files in checkpoints/ and that folder if
    then empty), so that it can start there again. Anything else in the directory is left alone."""
    if not run.writes:
        return
    trim(run, 0)
    run.config.unlink(missing_ok=True)
    run.latents.unlink(missing_ok=True)
    if run.checkpoints.is_dir():
        for tmp in run.checkpoints.glob(".*.tmp"):  # atomic_write's, from a write cut short
            tmp.unlink(missing_ok=True)
        if not any(run.checkpoints.iterdir()):
            run.checkpoints.rmdir()


def run_of(path: str | Path) -> Path:
    """The run directory of a run directory, its checkpoints/ folder, or a checkpoint file in it."""
    p = Path(path)
    if p.is_dir():
        return p.parent if p.name == CHECKPOINTS else p
    return p.parent.parent if p.parent.name == CHECKPOINTS else p.parent


def is_run(path: str | Path) -> bool:
    """A run directory: one with a config.yaml, or with a checkpoints/ folder. Every run
    ganforge writes has both; a checkpoints/ folder alone (weights copied from elsewhere)
    still counts, because ``sample``, ``--resume`` and the latent explorer need nothing more
    (a checkpoint holds its whole config), and ``train --out`` must not write over it."""
    p = Path(path)
    return (p / CONFIG).is_file() or (p / CHECKPOINTS).is_dir()


def is_stack(path: str | Path) -> bool:
    """A stacked GAN's run directory: its own config, and stage 1's run inside."""
    p = Path(path)
    return (p / STAGES[0]).is_dir() and (p / CONFIG).is_file()


# ---------------------------------------------------------------------------- reading

# A run's own folders hold files, never runs: the walk below does not look inside them.
_NOT_RUNS = (SAMPLES, CHECKPOINTS, TENSORBOARD, LATENT, AUDIT)


def list_runs(root: str | Path = "runs") -> list[Path]:
    """The run directories under ``root`` (``is_run``), at any depth (a stack's stages too),
    as ``root/...`` paths, newest first by last change; ``root`` itself is not listed.

    Only what lies inside ``root``: a symlink that leads out of it is neither listed nor
    followed, so a dashboard serving this list shows nothing from elsewhere. A symlink to a
    directory inside ``root`` is followed, and each directory is listed once (under its own
    name when it is reached both ways). Hidden directories (.git, temporary ones) are skipped."""
    root = Path(root)
    if not root.is_dir():
        return []
    base = root.resolve()
    seen, found, todo, links = set(), [], [root], []
    while todo or links:
        d = todo.pop() if todo else links.pop()  # symlinks last: a run is listed by its own name
        real = d.resolve()
        if real in seen or (d != root and base not in real.parents):
            continue
        seen.add(real)
        run = is_run(d)
        if run and d != root:
            found.append(d)
        for p in _subdirs(d):
            if not (run and p.name in _NOT_RUNS):
                (links if p.is_symlink() else todo).append(p)
    return sorted(found, key=_changed, reverse=True)


def _subdirs(d: Path) -> list[Path]:
    try:
        entries = sorted(d.iterdir(), reverse=True)  # reversed: popped from the end, visited in name order
    except OSError:  # unreadable: nothing to list there
        return []
    return [p for p in entries if not p.name.startswith(".") and p.is_dir()]


def _changed(run: Path) -> float:
    """The latest modification time of the run directory and its entries (a file may vanish
    while this looks: an atomic write's temporary file renamed)."""
    try:
        entries = [run, *run.iterdir()]
    except OSError:
        entries = [run]
    times = [0.0]
    for p in entries:
        try:
            times.append(p.stat().st_mtime)
        except OSError:
            continue
    return max(times)


def read_metrics(run: str | Path) -> list[dict]:
    """metrics.jsonl rows: training rows ({"step", "time", "loss_d", ...}) and evaluation rows ({"eval": [...]})."""
    return read_jsonl(_in(run, METRICS))


def read_health(run: str | Path) -> list[dict]:
    return read_jsonl(_in(run, HEALTH))


def read_config(run: str | Path) -> dict:
    p = _in(run, CONFIG)
    return yaml.safe_load(p.read_text()) if p.exists() else {}


def frames(run: str | Path) -> list[Path]:
    """The snapshot PNGs in step order."""
    return sorted((Path(run) / SAMPLES).glob("step-*.png"), key=frame_step)


def frame_step(path: Path) -> int:
    m = _FRAME.search(Path(path).name)
    return int(m.group(1)) if m else -1


def _in(run: str | Path, name: str) -> Path:
    p = Path(run)
    return p if p.name == name else p / name
