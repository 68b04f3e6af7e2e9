"""What the dashboard reads from run directories, and the one gate every file path goes
through: nothing outside the runs directory is ever read (no traversal, no absolute paths,
no symlink that leads out).
"""
from __future__ import annotations

import math
import re
import time
from pathlib import Path

import yaml

from .. import checkpoint, runs
from ..errors import GanforgeError

LIVE_SECONDS = 120  # a run whose metrics.jsonl changed this recently, and has no final.png, is running


class NotFound(GanforgeError):
    """A run or file that does not exist (HTTP 404)."""


class Forbidden(GanforgeError):
    """A path that leads outside the runs directory (HTTP 403)."""


def inside(root: Path, rel: str) -> Path:
    """``root/rel``, resolved, when it stays inside root; Forbidden otherwise."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise Forbidden(f"path {rel!r}: expected a relative path inside the runs directory")
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


def run_path(root: Path, name: str) -> Path:
    """The run called ``name`` (a path relative to root); what a run is, runs.is_run says."""
    p = inside(root, name)
    if not runs.is_run(p):
        raise NotFound(f"run {name!r}: no run directory (with a config.yaml or a checkpoints/ folder) "
                       "of that name under the runs directory")
    return p


def list_runs(root: Path) -> list[dict]:
    """The summaries of the runs that runs.list_runs finds under root (at any depth, nothing
    outside root), in its order: newest first."""
    root = Path(root)
    return [summary(root, p) for p in runs.list_runs(root)]


def summary(root: Path, run: Path) -> dict:
    cfg = read_config(run)
    rows = read_rows(run)
    train = [r for r in rows if "eval" not in r]
    return {"name": run.relative_to(root).as_posix(), "description": cfg.get("description", ""),
            "preset": preset_of(cfg), "step": train[-1]["step"] if train else 0,
            "steps": cfg.get("train", {}).get("steps"), "status": status(run),
            "best": best_metric(rows, cfg.get("train", {}).get("eval_metric", "auto")), "modified": modified(run)}


def preset_of(cfg: dict) -> str:
    """A short name for what the run is: data, objective, model family."""
    d, o, m = cfg.get("data", {}), cfg.get("objective", {}), cfg.get("model", {})
    return f"{o.get('name', '?')} {m.get('family', '?')} on {d.get('name', '?')}"


def modified(run: Path) -> float:
    times = [p.stat().st_mtime for p in (runs.Run(run).metrics, runs.Run(run).config) if p.exists()]
    return max(times) if times else 0.0


def status(run: Path) -> str:
    final = runs.Run(run).final
    if final.exists() and modified(run) <= final.stat().st_mtime + 1:
        return "finished"
    return "running" if time.time() - modified(run) < LIVE_SECONDS else "stopped"


def read_config(run: Path) -> dict:
    try:
        d = runs.read_config(run)
    except (OSError, yaml.YAMLError):
        return {}
    return d if isinstance(d, dict) else {}


def config_text(run: Path) -> str:
    """config.yaml as written; empty for a run that has only checkpoints."""
    try:
        return runs.Run(run).config.read_text()
    except OSError:
        return ""


def read_rows(run: Path) -> list[dict]:
    """metrics.jsonl, skipping a torn last line (a run writing it right now)."""
    return runs.read_metrics(run)


def best_metric(rows: list[dict], wanted: str = "auto") -> dict | None:
    """The best value the run's evaluations reached for train.eval_metric (auto: high_quality
    for toys, fid for images, as training picks best.pt), with its step."""
    from ..metrics.evaluate import is_better

    found = [(r.get("step"), e) for r in rows for e in r.get("eval", [])
             if isinstance(e.get("value"), (int, float)) and math.isfinite(e["value"])]
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
    from ..diagnose import read_events, report

    run = run_path(root, name)
    rows = read_rows(run)
    train = [_finite(r) for r in rows if "eval" not in r]
    evals = [{"step": r.get("step"), "results": json_safe(r["eval"])} for r in rows if "eval" in r]
    try:
        diagnosis = report(run) if train else "no metrics logged yet"
    except (GanforgeError, KeyError, ValueError) as e:
        diagnosis = f"no diagnosis: {e}"
    ckpt = checkpoint.latest(runs.Run(run).checkpoints)
    return {"name": name, "summary": summary(root, run), "config": read_config(run),
            "config_text": config_text(run), "rows": train[since:], "n_rows": len(train),
            "evals": evals, "events": json_safe(read_events(run)), "diagnosis": diagnosis, "frames": frames(run),
            "checkpoint": None if ckpt is None else ckpt.name}


def json_safe(v):
    """NaN and Inf (a reverse KL with no mode captured) become null: JSON has neither."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: json_safe(x) for k, x in v.items()}
    if isinstance(v, list):
        return [json_safe(x) for x in v]
    return v


def _finite(row: dict) -> dict:
    return {k: v for k, v in row.items() if not isinstance(v, float) or math.isfinite(v)}
