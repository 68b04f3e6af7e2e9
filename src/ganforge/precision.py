"""The GPU fast path's numerics: mixed precision (train.amp), TF32, torch.compile.

- ``bf16``: forward passes under ``torch.autocast(dtype=bfloat16)``; same exponent range as
  float32, so no loss scaling. ``fp16``: autocast to float16 with a gradient scaler per
  optimizer (the loss is scaled up so small gradients do not flush to zero; a step with an
  Inf/NaN gradient is skipped and the scale lowered). Weights, optimizer state, penalties
  (their inner gradient is not loss-scaled, so they run in float32) and everything outside the
  training step stay float32.
- With several processes the gradients are averaged *before* the scaler unscales them, so
  every process sees the same Inf/NaN and skips, or takes, the same step.
"""
from __future__ import annotations

from contextlib import nullcontext

import torch

from . import dist

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class Precision:
    def __init__(self, amp: str = "off", device: torch.device | str = "cpu"):
        self.device_type = torch.device(device).type
        self.dtype = DTYPES.get(amp)
        self._scalers: dict[int, torch.amp.GradScaler] = {}
        self.fp16 = amp == "fp16"

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype) if self.dtype is not None else nullcontext()

    def _scaler(self, opt) -> torch.amp.GradScaler:
        if id(opt) not in self._scalers:
            self._scalers[id(opt)] = torch.amp.GradScaler(self.device_type)
        return self._scalers[id(opt)]

    def backward(self, loss: torch.Tensor, opt) -> None:
        (self._scaler(opt).scale(loss) if self.fp16 else loss).backward()

    def gradients_ready(self, opt, params) -> bool:
        """Average over processes (one flat all-reduce), then unscale: true gradients in .grad.
        False when fp16 overflowed, so the scaler will skip this step (and lower its scale):
        an expected event, not a divergence. The check costs no extra sync: the scaler's step
        reads the same flag."""
        dist.average_grads(params)
        if not self.fp16:
            return True
        scaler = self._scaler(opt)
        scaler.unscale_(opt)
        return not any(bool(v.item()) for v in scaler._found_inf_per_device(opt).values())

    def step(self, opt) -> None:
        if self.fp16:
            scaler = self._scaler(opt)
            scaler.step(opt)
            scaler.update()
        else:
            opt.step()

    def state_dict(self, *opts) -> list:
        return [self._scaler(o).state_dict() for o in opts] if self.fp16 else []

    def load_state_dict(self, states: list, *opts) -> None:
        for o, s in zip(opts, states if self.fp16 else []):
            self._scaler(o).load_state_dict(s)


def set_tf32(enabled: bool) -> None:
    """TensorFloat-32 for float32 matmuls and convolutions on CUDA (Ampere and newer)."""
    torch.backends.cuda.matmul.allow_tf32 = enabled
    torch.backends.cudnn.allow_tf32 = enabled


def compile_nets(G: torch.nn.Module, D: torch.nn.Module, double_backward: bool) -> None:
    """torch.compile in place (state_dict keys unchanged). D is left eager when a penalty
    differentiates through its gradient: compiled graphs do not support double backward."""
    G.compile()
    if not double_backward:
        D.compile()
