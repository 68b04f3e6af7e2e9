"""Several processes, one run: the few torch.distributed calls training needs (a leaf module).

Launched by ``torchrun`` (RANK, WORLD_SIZE, LOCAL_RANK in the environment), ``init`` joins
the process group: gloo on CPU, nccl on CUDA with one GPU per LOCAL_RANK. Without that
environment every function here is the single-process identity, so a plain run is exactly
what it was.

The scheme is StyleGAN's (NVlabs stylegan3, training/training_loop.py), not DDP: every
process holds the same weights (broadcast once), draws the same *global* random numbers
and keeps its slice, and before each optimizer step the gradients are flattened into one
buffer, all-reduced and divided by the world size. The loop is unchanged, and it works
with double-backward penalties and with D frozen during G's step.
"""
from __future__ import annotations

import atexit
import datetime
import gc
import os
from contextlib import contextmanager

import torch
import torch.distributed as tdist

_owned = False  # True when init() created the process group (and shutdown() ends it)
_device = torch.device("cpu")  # where collectives' tensors live: CPU for gloo, this GPU for nccl


class PeerLost(RuntimeError):
    """A collective failed: another process died, or did not answer within the timeout."""


def requested() -> bool:
    """torchrun's environment asks for more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def active() -> bool:
    return tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1


def rank() -> int:
    return tdist.get_rank() if active() else int(os.environ.get("RANK", "0")) if requested() else 0


def world() -> int:
    return tdist.get_world_size() if active() else 1


def local_rank() -> int:
    return int(os.environ.get("LOCAL_RANK", "0")) if requested() else 0


def is_main() -> bool:
    return rank() == 0


def init(device: torch.device, timeout_s: float = 900.0) -> torch.device:
    """Join torchrun's process group (once); returns the device this process trains on:
    on CUDA, the GPU of its LOCAL_RANK."""
    global _owned, _device
    if device.type == "cuda" and requested():
        device = torch.device("cuda", local_rank() % torch.cuda.device_count())
        torch.cuda.set_device(device)
    if requested() and not tdist.is_initialized():
        # Imported before the group exists, never after: torch.distributed.nn.functional takes
        # group.WORLD as its functions' default argument when it is first imported (torch.optim
        # imports it, through torch._dynamo, with the first optimizer). A group held there
        # outlives destroy_process_group: its gloo threads ran on until the interpreter's own
        # teardown freed it, which now and then aborted the process ("terminate called without
        # an active exception") after a run had finished.
        from torch.distributed import nn as _  # noqa: F401

        backend = "nccl" if device.type == "cuda" else "gloo"
        timeout = datetime.timedelta(seconds=timeout_s)
        kw = {"device_id": device} if backend == "nccl" else {}
        tdist.init_process_group(backend, timeout=timeout, **kw, **_attempt_store(timeout))
        _owned = True
    if active():
        _device = device if tdist.get_backend() == "nccl" else torch.device("cpu")
    return device


def _attempt_store(timeout: datetime.timedelta) -> dict:
    """torchrun's store, under a prefix of its own for each attempt (--max-restarts). Workers that
    torchrun restarts get the first attempt's store, keys included: the new group's rendezvous
    then read the dead workers' addresses and failed ("connection refused") or hung. Empty
    (torch's own rendezvous) when torchrun's agent does not host the store."""
    if os.environ.get("TORCHELASTIC_USE_AGENT_STORE") != "True":
        return {}
    store = tdist.TCPStore(os.environ["MASTER_ADDR"], int(os.environ["MASTER_PORT"]), is_master=False, timeout=timeout)
    attempt = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    return {"store": tdist.PrefixStore(f"ganforge/attempt-{attempt}", store), "rank": rank(),
            "world_size": int(os.environ["WORLD_SIZE"])}


def shutdown() -> None:
    """Leave the process group, if init() created it: while the interpreter is whole, so that
    its threads stop here and not in the interpreter's teardown. train() calls it; atexit too,
    for code that trains through the Trainer itself."""
    global _owned
    if _owned and tdist.is_initialized():
        tdist.destroy_process_group()
        gc.collect()  # drop collectives' work objects now, not during interpreter teardown
    _owned = False


atexit.register(shutdown)


def _collective(what: str, fn, *args, **kw):
    try:
        return fn(*args, **kw)
    except RuntimeError as e:  # gloo/nccl errors (DistBackendError, timeouts) are RuntimeErrors
        first = (str(e).strip().splitlines() or ["no detail"])[0]
        raise PeerLost(f"process {rank()} of {world()}: {what} failed ({first}); another process probably "
                       "died or hung: see its output") from None


# ---------------------------------------------------------------------------- gradients and weights

def average_grads(params) -> None:
    """Average the gradients over processes in one flat all-reduce (parameters without a
    gradient, e.g. D's while it is frozen, are left out: the same on every process)."""
    if not active():
        return
    params = [p for p in params if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params]).to(_device)  # a no-op but for gloo with MPS
    _collective("the gradient all-reduce", tdist.all_reduce, flat)
    flat /= world()
    for p, g in zip(params, flat.split([p.numel() for p in params])):
        p.grad.copy_(g.view(p.shape))  # copy_: the gradient keeps its memory format (channels-last)


def broadcast_module(*modules) -> None:
    """Rank 0's parameters and buffers to every process."""
    if not active():
        return
    tensors = [t for m in modules if m is not None for t in (*m.parameters(), *m.buffers())]
    for dtype in dict.fromkeys(t.dtype for t in tensors):  # one flat buffer per dtype, in the same order everywhere
        group = [t for t in tensors if t.dtype == dtype]
        flat = torch.cat([t.detach().flatten() for t in group]).to(_device)
        _collective("the weight broadcast", tdist.broadcast, flat, 0)
        with torch.no_grad():
            for t, v in zip(group, flat.split([t.numel() for t in group])):
                t.copy_(v.view(t.shape))


def sync_buffers(*modules) -> None:
    """Make buffers equal everywhere: floating ones (BatchNorm statistics, spectral-norm
    vectors) averaged over processes, the others (batch counters) from rank 0."""
    if not active():
        return
    bufs = [b for m in modules if m is not None for b in m.buffers()]
    floats = [b for b in bufs if b.is_floating_point()]
    if floats:
        flat = torch.cat([b.detach().flatten() for b in floats]).to(_device).double()  # (no float64 on MPS)
        _collective("the buffer all-reduce", tdist.all_reduce, flat)
        flat /= world()
        for b, v in zip(floats, flat.split([b.numel() for b in floats])):
            b.data.copy_(v.view(b.shape))
    for b in bufs:
        if not b.is_floating_point():
            _collective("the buffer broadcast", tdist.broadcast, b.data, 0)


# ---------------------------------------------------------------------------- global draws, sliced

def _slice(t: torch.Tensor) -> torch.Tensor:
    n = len(t) // world()
    return t[rank() * n : (rank() + 1) * n]


def randn(n: int, *shape, **kw) -> torch.Tensor:
    """``torch.randn(n, *shape)`` for this process's slice of a global batch: every process
    draws the whole batch's numbers (so its RNG stays in step) and keeps its own rows."""
    return _slice(torch.randn(n * world(), *shape, **kw))


def rand(n: int, *shape, **kw) -> torch.Tensor:
    return _slice(torch.rand(n * world(), *shape, **kw))


def randint(low: int, high: int, n: int, *shape, **kw) -> torch.Tensor:
    return _slice(torch.randint(low, high, (n * world(), *shape), **kw))


def whole_batch(t: torch.Tensor) -> torch.Tensor:
    """The global batch, of which ``t`` is this process's slice, for a loss term that couples
    samples (mode seeking's pairs, EBGAN's pulling-away). Every process computes the same
    value; gradients flow into the local slice only, scaled by the world size so that the
    average over processes is the whole-batch gradient."""
    if not active():
        return t
    parts = [torch.empty(t.shape, dtype=t.dtype, device=_device) for _ in range(world())]
    _collective("an all-gather", tdist.all_gather, parts, t.detach().to(_device).contiguous())
    parts = [p.to(t.device) for p in parts]
    parts[rank()] = _ScaleGrad.apply(t, float(world())) if t.requires_grad else t
    return torch.cat(parts)


class _ScaleGrad(torch.autograd.Function):
    """The identity, whose gradient is multiplied by ``factor``."""

    @staticmethod
    def forward(ctx, t, factor):
        ctx.factor = factor
        return t.view_as(t)

    @staticmethod
    def backward(ctx, grad):
        return grad * ctx.factor, None


# ---------------------------------------------------------------------------- shared decisions

def any_true(flag: bool) -> bool:
    """True on every process when it is true on any: a NaN or a signal on one stops all."""
    return max_int(int(bool(flag))) > 0


def max_int(value: int) -> int:
    if not active():
        return int(value)
    t = torch.tensor([int(value)], dtype=torch.int64, device=_device)
    _collective("a shared decision", tdist.all_reduce, t, op=tdist.ReduceOp.MAX)
    return int(t.item())


def mean_values(values: dict[str, float]) -> dict[str, float]:
    """Each value averaged over processes (keys must be the same everywhere)."""
    if not active() or not values:
        return values
    keys = sorted(values)
    t = torch.tensor([float(values[k]) for k in keys], dtype=torch.float64, device=_device)
    _collective("the metrics all-reduce", tdist.all_reduce, t)
    t /= world()
    return {**values, **dict(zip(keys, t.tolist()))}


def broadcast_object(obj):
    """Rank 0's (picklable) object, on every process."""
    if not active():
        return obj
    box = [obj if is_main() else None]
    _collective("a broadcast from rank 0", tdist.broadcast_object_list, box, 0, device=_device)
    return box[0]


def barrier() -> None:
    if active():
        _collective("a barrier", tdist.barrier, **({"device_ids": [_device.index]} if _device.type == "cuda" else {}))


@contextmanager
def local_main_first():
    """The first process of each machine does the body first (e.g. a download), then the rest."""
    first = local_rank() == 0
    if not first:
        barrier()
    try:
        yield
    finally:
        if first:
            barrier()
