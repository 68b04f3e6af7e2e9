"""``ganforge export ... --onnx``: the generator as ``generator.onnx``, to run outside Python.

Inputs ``z`` float32 (batch, nz) and, for conditional models, ``y`` int64 (batch,); output
``images`` float32 (batch, C, H, W) in [-1, 1] (for 2-D toys ``points`` (batch, 2) in the
data's coordinates); the batch is dynamic. What G keeps from training to sample alone (the
unpool family's pooling indices, an upsample stage's low-resolution conditions) goes in as
constants, used in turn as ``ganforge.load(...)`` uses them.

It is written with torch's own exporter, ``torch.onnx.export(..., dynamo=True)`` (torch.export,
then onnxscript's translations), at opset 18: it runs offline and is the exporter torch
maintains. The TorchScript exporter (``dynamo=False``) is not used: it bakes ``len(z)`` into
reshapes as a constant, so the mlp and resnet families lost their dynamic batch, and its
translation of the output layer's weight gather gave wrong values. After export the file is
run in onnxruntime (when installed) on a few latents and must match ganforge's samples.
"""
from __future__ import annotations

import contextlib
import io
import logging
import warnings
from pathlib import Path

import torch
import torch.nn as nn

from .errors import ConfigError

ONNX_FILE, OPSET, TOLERANCE = "generator.onnx", 18, 1e-4


class Exportable(nn.Module):
    """g.net as ONNX sees it: (z[, y]) → G's output, stored state as constants."""

    def __init__(self, g):
        super().__init__()
        from .models.unpool import UnpoolGenerator
        from .models.upsample import UpsampleGenerator

        self.net, self.scale = g.net, float(g.info.point_scale) if g.info.kind == "points" else 1.0
        self.kind = "plain"
        if isinstance(g.net, UnpoolGenerator):
            self.kind = "unpool"
            for i, idx in enumerate(g.net._stored()):
                self.register_buffer(f"idx{i}", idx.clone())
        elif isinstance(g.net, UpsampleGenerator):
            self.kind = "upsample"
            self.register_buffer("low", g.net._condition(int(g.net.banked)).clone())

    def forward(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        turn = torch.arange(z.shape[0], device=z.device)
        if self.kind == "unpool":
            idx = [getattr(self, f"idx{i}") for i in range(4)]
            x = self.net(z, y, indices=[i[turn % i.shape[0]] for i in idx])
        elif self.kind == "upsample":
            x = self.net(z, y, low=self.low[turn % self.low.shape[0]])
        else:
            x = self.net(z, y)
        return x * self.scale if self.scale != 1.0 else x


def write(g, path: str | Path) -> dict:
    """Export ``g`` to ``path``; returns what the model card says of it (inputs, output, check)."""
    path = Path(path)
    module = Exportable(g).eval()
    dyn = torch.export.Dim.DYNAMIC
    z = g.latents(3, 0).to(g.device)
    args, names, shapes = (z,), ["z"], ({0: dyn},)
    if g.conditional:
        args, names, shapes = (z, g.labels_for(3).to(g.device)), ["z", "y"], ({0: dyn}, {0: dyn})
    out_name = "points" if g.info.kind == "points" else "images"
    try:
        import onnxscript  # noqa: F401  (the dynamo exporter's translations)
    except ImportError as e:
        raise ConfigError(f"--onnx needs onnx and onnxscript ({e.name} is missing): pip install \"ganforge[onnx]\"") from None
    try:
        with _quiet():
            torch.onnx.export(module, args, str(path), input_names=names, output_names=[out_name], opset_version=OPSET,
                              dynamo=True, dynamic_shapes=shapes, external_data=False, optimize=True)
    except Exception as e:  # the exporter raises many types; the user needs the family and the op
        raise ConfigError(f"--onnx: model.family {g.cfg.model.family} cannot be exported to ONNX: {failing_op(e)}") from None
    k = g.info.num_classes or 0
    info = {"file": path.name, "opset": OPSET, "nz": g.nz, "classes": k if g.conditional else 0,
            "inputs": [f"z float32 (batch, {g.nz})"] + ([f"y int64 (batch,): the class, 0..{k - 1}"] if g.conditional else []),
            "output": f"{out_name} float32 (batch, {', '.join(map(str, g.info.shape))})"
            + (" in [-1, 1]" if g.info.kind == "image" else " in the data's coordinates")}
    info["max_difference"] = check(g, path)
    return info


def check(g, path: Path, n: int = 8) -> float | None:
    """Max |onnxruntime − ganforge| over n latents (None without onnxruntime); over TOLERANCE raises."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    z = g.latents(n, 1)
    feed = {"z": z.numpy()}
    y = g.labels_for(n)
    if y is not None:
        feed["y"] = y.numpy()
    got = torch.from_numpy(session.run(None, feed)[0])
    diff = float((got - g(z, y)).abs().max())
    if not diff <= TOLERANCE:
        raise ConfigError(f"--onnx: {path.name} differs from ganforge's samples by {diff:.3g} (> {TOLERANCE}) in "
                          f"onnxruntime for model.family {g.cfg.model.family}; the file is not usable")
    return diff


def failing_op(e: BaseException) -> str:
    """The part of an exporter error that names what failed: an aten op when one is named."""
    import re

    text = f"{type(e).__name__}: {e}"
    for cause in (e.__cause__, e.__context__):
        if cause is not None:
            text += f" | {type(cause).__name__}: {cause}"
    ops = sorted(set(re.findall(r"aten[.:]+\w+(?:\.\w+)?", text)))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and "pytorch.org" not in ln and "step 1/3" not in ln]
    head = next((ln for ln in lines if "Error" in ln or "error" in ln or "unsupported" in ln.lower()), lines[0] if lines else text)
    return (f"no ONNX translation for {', '.join(ops)} ({head[:300]})" if ops else head[:400])


@contextlib.contextmanager
def _quiet():
    """The exporter logs and prints its progress and graph dumps; a CLI user needs only the result."""
    loggers = [logging.getLogger(n) for n in ("torch.onnx", "torch.export", "torch._dynamo", "torch.fx", "torch._export")]
    levels = [lg.level for lg in loggers]
    sink = io.StringIO()
    try:
        for lg in loggers:
            lg.setLevel(logging.ERROR)
        with warnings.catch_warnings(), contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            warnings.simplefilter("ignore")
            yield
    finally:
        for lg, lv in zip(loggers, levels):
            lg.setLevel(lv)
