"""Import torch-fidelity (installed with ``pip install --no-deps torch-fidelity==0.4.0``) where
torchvision cannot be imported: here torchvision's only build is a CUDA one that fails with the
CPU torch. torch-fidelity's package __init__ imports modules (datasets, CLIP, DINOv2, VGG16)
that import torchvision at module level; the Inception-v3 path uses none of it. So, only when
``import torchvision`` fails, these four names are stubbed for the duration of the import.
This lives in the tests, never in the library.
"""
from __future__ import annotations

import importlib
import sys
import types

import pytest

_STUBBED = ("torchvision", "torchvision.datasets", "torchvision.transforms", "torchvision.transforms.functional")


def import_torch_fidelity():
    """torch_fidelity, or a pytest skip that says why it is unavailable."""
    try:
        import torchvision  # noqa: F401
        stub = False
    except Exception:  # not installed, or a build that does not fit this torch
        stub = True
    saved = {name: sys.modules.get(name) for name in _STUBBED}
    if stub:
        for name in _STUBBED:
            sys.modules[name] = types.ModuleType(name)
        datasets = sys.modules["torchvision.datasets"]
        for name in ("CIFAR10", "STL10", "CIFAR100"):  # subclassed at import, never used here
            setattr(datasets, name, type(name, (), {}))
    try:
        return importlib.import_module("torch_fidelity")
    except ImportError as e:
        pytest.skip(f"torch-fidelity is not importable ({e}); install it with "
                    "`pip install --no-deps torch-fidelity==0.4.0` (as .ci/run does)")
    finally:
        if stub:  # torch_fidelity keeps its references; nobody else sees the stubs
            for name, module in saved.items():
                if module is None:
                    sys.modules.pop(name, None)
                else:
                    sys.modules[name] = module
