"""``ganforge diagnose RUN_DIR``: what happened in a run, from its metrics.jsonl and health.jsonl.

Prints a report (the conditions detected, when, why, and what to try; the state of the
last logged window against the signs of a healthy run) and writes one page of plots,
``diagnose.png`` and a self-contained ``diagnose.html``, with the events marked.
"""
from __future__ import annotations

import base64
import html
from pathlib import Path

from . import runs
from .errors import GanforgeError
from .health import CONDITIONS

PANELS = [  # (title, [(key, label)])
    ("losses", [("loss_d", "D loss"), ("loss_g", "G loss")]),
    ("D outputs", [("d_real", "D(x)"), ("d_fake", "D(G(z)) before D step"), ("d_fake_after", "after"),
                   ("acc_real", "acc real"), ("acc_fake", "acc fake")]),
    ("gradient norms", [("grad_d", "|grad D|"), ("grad_g", "|grad G|")]),
    ("diversity and modes", [("diversity", "diversity / data's"), ("pixel_std", "pixel spread in an image / data's"),
                             ("high_quality", "toy: high quality"),
                             ("class_coverage", "classes covered / all"),
                             ("w_estimate", "critic: W estimate")]),
]
HEALTHY = "a healthy run (practitioners' rule of thumb, cross-entropy losses): D loss 0.5-0.8, G loss 1-2, D accuracy 70-80%"


def read_events(run: Path) -> list[dict]:
    return runs.read_health(run)


def episodes(events: list[dict]) -> list[tuple[str, int, int | None, dict]]:
    """(condition, start step, end step or None, start event) for each time a condition held."""
    open_, out = {}, []
    for e in events:
        c = e.get("condition")
        if c is None:
            continue
        if e["status"] == "start":
            open_[c] = e
        elif c in open_:
            s = open_.pop(c)
            out.append((c, s["step"], e["step"], s))
    out += [(c, s["step"], None, s) for c, s in open_.items()]
    return sorted(out, key=lambda t: t[1])


def report(run: Path) -> str:
    rows = runs.read_metrics(run)
    if not rows:
        raise GanforgeError(f"{run} has no metrics.jsonl rows: is it a ganforge run directory?")
    events = read_events(run)
    lines = [f"run {run}: {rows[-1]['step']} steps logged"]
    eps = episodes(events)
    if not eps:
        lines.append("no failure mode detected")
    for cond, start, end, e in eps:
        span = f"steps {start}-{end}" if end is not None else f"from step {start} (still active)"
        c = CONDITIONS[cond]  # the event's own words first: a condition may come in a form with its own (health.ONE_OUTPUT)
        lines += [f"\n{e.get('title', c.title).upper()} ({span}): {e.get('detail', '')}",
                  f"  why: {e.get('explanation', c.explanation)}",
                  *[f"  try: {r}" for r in e.get("remedies", c.remedies)]]
    rollbacks = [e for e in events if e.get("event") == "rollback"]
    for e in rollbacks:
        lines.append(f"\nrollback at step {e['step']}: {e['reason']} (learning rates x{e['lr_factor']:g})")
    last = rows[-5:]
    mean = lambda k: sum(r[k] for r in last if k in r) / max(1, sum(k in r for r in last))
    keys = [k for k in ("loss_d", "loss_g", "d_real", "d_fake", "acc_real", "acc_fake", "grad_g", "grad_d", "diversity", "pixel_std",
                        "class_coverage")
            if any(k in r for r in last)]
    lines.append("\nlast logged window: " + ", ".join(f"{k} {mean(k):.3g}" for k in keys))
    lines.append(HEALTHY)
    return "\n".join(lines)


def plot(run: Path, out_png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = runs.read_metrics(run)
    eps = episodes(read_events(run))
    fig, axes = plt.subplots(2, 2, figsize=(12, 7), dpi=90)
    colours = dict(zip(CONDITIONS, ["tab:red", "tab:purple", "tab:orange", "tab:olive", "black"]))
    last_step = rows[-1]["step"]
    for ax, (title, series) in zip(axes.flat, PANELS):
        for key, label in series:
            pts = [(r["step"], r[key]) for r in rows if key in r]
            if pts:
                ax.plot(*zip(*pts), label=label, marker="." if len(pts) < 30 else None)
        for cond, start, end, _ in eps:
            ax.axvspan(start, end if end is not None else last_step, color=colours[cond], alpha=0.12)
            ax.axvline(start, color=colours[cond], lw=1)
        if title == "gradient norms" and any("grad_g" in r for r in rows):
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    handles = [plt.Rectangle((0, 0), 1, 1, color=colours[c], alpha=0.3) for c in {e[0] for e in eps}]
    if handles:
        fig.legend(handles, [CONDITIONS[c].title for c in {e[0] for e in eps}], loc="lower center", ncol=len(handles), fontsize=8)
    fig.suptitle(f"ganforge diagnose: {Path(run).name}")
    fig.tight_layout(rect=(0, 0.04, 1, 0.97))
    fig.savefig(out_png)
    plt.close(fig)


def diagnose(run: str | Path) -> tuple[str, Path, Path]:
    """Print-ready report, and the paths of the PNG and the self-contained HTML page."""
    run = Path(run)
    text = report(run)
    png, page = runs.Run(run).diagnose_png, runs.Run(run).diagnose_html
    plot(run, png)
    img = base64.b64encode(png.read_bytes()).decode()
    runs.write_text(page, f"<!doctype html><html><head><meta charset='utf-8'><title>ganforge diagnose {html.escape(run.name)}</title></head>"
                    f"<body style='font-family:sans-serif;max-width:1100px;margin:auto'><h1>ganforge diagnose: {html.escape(run.name)}</h1>"
                    f"<img style='width:100%' src='data:image/png;base64,{img}'><pre style='white-space:pre-wrap'>{html.escape(text)}</pre></body></html>")
    return text, png, page
