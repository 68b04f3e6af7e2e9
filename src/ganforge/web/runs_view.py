"""What the dashboard reads from run directories, and the one gate every file path goes
through: nothing outside the runs directory is ever read (no traversal, no absolute paths,
no symlink that leads out, in a run's name or in any of its files). A run whose files
cannot be read (malformed YAML or rows, a file that is not a file) is listed as broken,
with the reason; the other runs are listed as ever.
"""
from __future__ import annotations

import math
import re
import stat
import time
from pathlib import Path

import yaml

from .. import checkpoint, runs
from ..errors import GanforgeError

LIVE_SECONDS = 120  # a run whose metrics.jsonl changed this recently, and has no final.png, is running
MAX_YAML = 1 << 20  # bytes of a config.yaml the dashboard reads


class NotFound(GanforgeError):
    """A run or file that does not exist (HTTP 404)."""


class Forbidden(GanforgeError):
    """A path that leads outside the runs directory (HTTP 403)."""


class Broken(GanforgeError):
    """A run whose files cannot be read as a run's (HTTP 422; "broken" in the list)."""
    status = 422


def inside(root: Path, rel: str) -> Path:
    """``root/rel``, resolved, when it stays inside root; Forbidden otherwise."""
    if not isinstance(rel, str) or not rel or "\x00" in rel or not _encodes(rel):
        raise Forbidden(f"path {str(rel)[:200]!r}: expected a relative path inside the runs directory")
    p = Path(rel)
    if p.is_absolute() or rel.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", rel):
        raise Forbidden(f"path {rel!r}: absolute paths are refused; give a path relative to the runs directory")
    if ".." in p.parts or "\\" in rel:
        raise Forbidden(f"path {rel!r}: '..' and backslashes are refused")
    base = root.resolve()
    full = (base / p).resolve()  # follows symlinks: a link out of the runs directory lands outside
    if full != base and base not in full.parents:
        raise Forbidden(f"path {rel!r} leads outside the runs directory")
    return full


def within(root: Path, path: Path) -> Path:
    """``path`` (a file the library found in a run), resolved, when it stays inside root."""
    base, full = root.resolve(), Path(path).resolve()
    if base not in full.parents:
        rel = Path(path).relative_to(base) if Path(path).is_relative_to(base) else Path(path).name
        raise Forbidden(f"{rel} is a symlink that leads outside the runs directory: refused")
    return full


# A run's files that the dashboard, the diagnosis and the explorer read: each must be what
# it claims (a file, a folder) and stay inside the runs directory.
_FILES = (runs.CONFIG, runs.METRICS, runs.HEALTH)
_FOLDERS = (runs.CHECKPOINTS, runs.SAMPLES)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")  # a lone surrogate is no file name
        return True
    except UnicodeEncodeError:
        return False


def run_path(root: Path, name: str) -> Path:
    """The run called ``name`` (a path relative to root); what a run is, runs.is_run says.
    Its own files are checked too (``check_files``): Forbidden or Broken when they fail."""
    if not isinstance(name, str) or len(name) > 1000:
        raise Forbidden("run: expected a run's name, a path relative to the runs directory")
    p = inside(root, name)
    if not runs.is_run(p):
        raise NotFound(f"run {name!r}: no run directory (with a config.yaml or a checkpoints/ folder) "
                       "of that name under the runs directory")
    check_files(root, p)
    return p


def check_files(root: Path, run: Path) -> None:
    for name in _FILES + _FOLDERS:
        p = run / name
        if not (p.exists() or p.is_symlink()):
            continue
        within(root, p)
        mode = p.stat().st_mode
        if not (stat.S_ISDIR(mode) if name in _FOLDERS else stat.S_ISREG(mode)):
            raise Broken(f"{name} is not a {'folder' if name in _FOLDERS else 'regular file'}")


def list_runs(root: Path) -> list[dict]:
    """The summaries of the runs that runs.list_runs finds under root (at any depth, nothing
    outside root), in its order: newest first."""
    root = Path(root)
    out = []
    for p in runs.list_runs(root):
        try:
            check_files(root, p)
            out.append(summary(root, p))
        except (GanforgeError, OSError, RecursionError) as e:
            out.append(broken(root, p, e))
    return out


def broken(root: Path, run: Path, e: Exception) -> dict:
    reason = str(e) if isinstance(e, GanforgeError) else f"cannot read it ({getattr(e, 'strerror', None) or type(e).__name__})"
    return {"name": run.relative_to(root).as_posix(), "description": reason, "preset": "?", "step": 0,
            "steps": None, "status": "broken", "reason": reason, "best": None, "modified": 0.0}


def summary(root: Path, run: Path) -> dict:
    cfg = read_config(run)
    rows = read_rows(run)
    train = [r for r in rows if "eval" not in r]
    section = lambda name: cfg.get(name) if isinstance(cfg.get(name), dict) else {}
    stopped = stop_of(run, train)
    step = train[-1].get("step", 0) if train else 0
    out = {"name": run.relative_to(root).as_posix(), "description": str(cfg.get("description", "")),
           "preset": preset_of(cfg), "step": step, "steps": section("train").get("steps"),
           "status": "stopped" if stopped else status(run),
           "best": best_metric(rows, str(section("train").get("eval_metric", "auto"))), "modified": modified(run)}
    if stopped:  # Ctrl-C or SIGTERM: it wrote its checkpoint at this step and exited
        out.update(step=max(stopped["step"], step if isinstance(step, int) else 0), stopped_at=stopped["step"],
                   stopped_by=str(stopped.get("signal", "")))
    return out


def stop_of(run: Path, train: list[dict]) -> dict | None:
    """The run's last "stopped" record (training writes one when a signal ends it), unless it
    trained on after it (a resumed run logs later steps)."""
    stops = [e for e in read_health(run) if e.get("event") == "stopped"
             and isinstance(e.get("step"), int)]
    if not stops:
        return None
    last = max((r["step"] for r in train if isinstance(r.get("step"), int)), default=0)
    return stops[-1] if stops[-1]["step"] >= last else None


def preset_of(cfg: dict) -> str:
    """A short name for what the run is: data, objective, model family."""
    get = lambda name, key: (cfg.get(name) if isinstance(cfg.get(name), dict) else {}).get(key, "?")
    return f"{get('objective', 'name')} {get('model', 'family')} on {get('data', 'name')}"


def modified(run: Path) -> float:
    times = [p.stat().st_mtime for p in (runs.Run(run).metrics, runs.Run(run).config) if p.exists()]
    return max(times) if times else 0.0


def status(run: Path) -> str:
    final = runs.Run(run).final
    if final.exists() and modified(run) <= final.stat().st_mtime + 1:
        return "finished"
    return "running" if time.time() - modified(run) < LIVE_SECONDS else "stopped"


class _NoAliases(yaml.SafeLoader):
    """YAML without aliases: ganforge never writes them, and a few hundred bytes of nested
    aliases expand to gigabytes."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise Broken("config.yaml uses YAML aliases (*name), which the dashboard does not read")
        return super().compose_node(parent, index)


def config_text(run: Path) -> str:
    """config.yaml as written (at most MAX_YAML bytes); empty for a run that has only checkpoints."""
    p = runs.Run(run).config
    if not p.is_file():
        return ""
    if p.stat().st_size > MAX_YAML:
        raise Broken(f"config.yaml is over {MAX_YAML:,} bytes")
    try:
        return p.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise Broken("config.yaml is not UTF-8 text") from None


def read_config(run: Path) -> dict:
    text = config_text(run)
    try:
        d = yaml.load(text, Loader=_NoAliases) if text else {}
    except yaml.YAMLError as e:
        raise Broken(f"config.yaml is not valid YAML ({str(e).splitlines()[0][:120]})") from None
    if not isinstance(d, (dict, type(None))):
        raise Broken(f"config.yaml holds a {type(d).__name__}, not a mapping of settings")
    return d or {}


def read_rows(run: Path) -> list[dict]:
    """metrics.jsonl's rows (objects only), skipping a torn last line (a run writing it right now)."""
    return _objects(runs.read_metrics, run, runs.METRICS)


def read_health(run: Path) -> list[dict]:
    return _objects(runs.read_health, run, runs.HEALTH)


def _objects(read, run: Path, name: str) -> list[dict]:
    try:
        return [r for r in read(run) if isinstance(r, dict)]
    except (ValueError, RecursionError, UnicodeDecodeError):  # numbers of thousands of digits, deep nesting
        raise Broken(f"{name} holds lines that are not rows as ganforge writes them") from None


def best_metric(rows: list[dict], wanted: str = "auto") -> dict | None:
    """The best value the run's evaluations reached for train.eval_metric (auto: high_quality
    for toys, fid for images, as training picks best.pt), with its step."""
    from ..metrics.evaluate import is_better

    found = [(r.get("step"), e) for r in rows for e in (r.get("eval") if isinstance(r.get("eval"), list) else [])
             if isinstance(e, dict) and isinstance(e.get("value"), (int, float)) and math.isfinite(e["value"])
             and isinstance(e.get("metric"), str)]
    names = [e["metric"] for _, e in found]
    if wanted == "auto":
        wanted = next((m for m in ("high_quality", "fid") if m in names), names[0] if names else None)
    best = None
    for step, e in found:
        if e["metric"] != wanted:
            continue
        if is_better(wanted, e["value"], None if best is None else best["value"]):
            best = {"metric": wanted, "value": e["value"], "step": step}
    return best


def frames(run: Path) -> list[dict]:
    """The fixed-noise snapshots over time: [{step, path}] by step."""
    return [{"step": runs.frame_step(p), "path": f"{runs.SAMPLES}/{p.name}"} for p in runs.frames(run)]


def detail(root: Path, name: str, since: int = 0) -> dict:
    """One run: config, metric rows from row ``since`` on, evaluations, health, frames."""
    from ..diagnose import report

    run = run_path(root, name)
    rows = read_rows(run)
    train = [_finite(r) for r in rows if "eval" not in r]
    evals = [{"step": r.get("step"), "results": json_safe(r["eval"])} for r in rows if "eval" in r]
    try:
        diagnosis = report(run).replace(str(run), name) if train else "no metrics logged yet"
    except Exception:  # the diagnosis is a courtesy: malformed rows or events leave it out, not the page
        diagnosis = "no diagnosis: the run's metrics or health rows are not as ganforge writes them"
    ckpt = checkpoint.latest(runs.Run(run).checkpoints)
    events = read_health(run)
    return {"name": name, "summary": summary(root, run), "config": json_safe(read_config(run)),
            "config_text": config_text(run), "rows": train[since:], "n_rows": len(train),
            "evals": evals, "events": json_safe(events), "diagnosis": diagnosis, "frames": frames(run),
            "checkpoint": None if ckpt is None else ckpt.name}


def json_safe(v):
    """NaN and Inf (a reverse KL with no mode captured) become null: JSON has neither; what
    JSON cannot hold at all (a YAML date, a tuple key) becomes its text."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k if isinstance(k, str) else str(k): json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_safe(x) for x in v]
    if v is None or isinstance(v, (str, int, bool)):
        return v
    return str(v)


def _finite(row: dict) -> dict:
    return {k: v for k, v in row.items() if not isinstance(v, float) or math.isfinite(v)}
