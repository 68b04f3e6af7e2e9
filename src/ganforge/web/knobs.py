"""The playground's settings: what the page may change, each with the bounds a user of that
control would expect, checked before the config's own checks (assemble.from_dict) run; and
the cost of one training step, which is bounded so that a step is always short."""
from __future__ import annotations

from .inputs import MAX_SEED, integer, number, text

# A step's cost with its frame, in multiply-adds: (3k + 2) x batch samples through the networks
# for the step, FRAME_SAMPLES for the frame (fakes, D's surface, G's manifold, the arrows). It
# is bounded so that a step and its frame (and so a Pause) take well under a second on one
# CPU thread.
MAX_COST = 6e8
FRAME_SAMPLES = 3_400

# The knobs the page turns: name -> (dotted config key, kind, low, high). width and depth set
# both networks' hidden layers. The config's own checks run after these bounds.
PARAMS = {
    "data": ("data.name", str, 0, 0), "objective": ("objective.name", str, 0, 0),
    "lr_g": ("optim.lr_g", float, 0, 1), "lr_d": ("optim.lr_d", float, 0, 1), "k": ("train.d_steps", int, 1, 20),
    "batch": ("train.batch_size", int, 1, 4096), "width": (None, int, 1, 1024), "depth": (None, int, 1, 8),
    "nz": ("model.nz", int, 1, 128), "gp_weight": ("objective.gp_weight", float, 0, 1e4),
    "r1_weight": ("objective.r1_weight", float, 0, 1e4), "label_smoothing": ("objective.label_smoothing", float, 0, 1),
    "mode_seeking": ("objective.mode_seeking", float, 0, 100), "seed": ("train.seed", int, 0, MAX_SEED),
}
MAX_WIDTH, MAX_DEPTH, MAX_BATCH = PARAMS["width"][3], PARAMS["depth"][3], PARAMS["batch"][3]


def step_cost(k: int, batch: int, width: int, depth: int, nz: int) -> float:
    """Multiply-adds of one step and its frame, roughly: k D steps on real and fake, G's step,
    then the frame's samples through both networks."""
    per_sample = width * width * max(depth - 1, 1) + width * (nz + 3)
    return ((3 * k + 2) * batch + FRAME_SAMPLES) * per_sample


def checked(name: str, value):
    """One setting through its bounds (a ConfigError names it, its key and what was expected)."""
    key, kind, lo, hi = PARAMS[name]
    label = f"{name} ({key})" if key else name
    if kind is str:
        return text(label, value, 100)
    if name == "gp_weight" and value in (None, ""):
        return None
    return number(label, value, lo, hi) if kind is float else integer(label, value, lo, hi)

