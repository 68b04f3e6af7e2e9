"""ganforge's FID Inception-v3 against torch-fidelity's FeatureExtractorInceptionV3, on shared weights.

The real weights file cannot be downloaded here, but both networks load the same state_dict.
A seeded random state_dict with exactly torch-fidelity's key set and shapes goes into both;
the same uint8 images (28x28 gray, 32x32, 64x64, 40x48, 299x299) go through both pipelines.
Equal outputs on arbitrary weights mean the same architecture, the same layer names, the
same TensorFlow quirks and the same resize; the real file then gives the same numbers too.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from fidelity_shim import import_torch_fidelity
from ganforge.metrics import fid
from ganforge.metrics.features import Inception
from ganforge.metrics.inception import resize_like_tf1

SIZES = [(1, 28, 28), (3, 32, 32), (3, 64, 64), (3, 40, 48), (3, 299, 299)]
PER_SIZE = 4


def random_state_dict(shapes: dict, seed: int = 0) -> dict:
    """Values that keep activations O(1) through 94 conv+BN+ReLU layers (He-scaled convs,
    BatchNorm statistics near identity), so a difference anywhere shows at the output."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, (shape, dtype) in shapes.items():
        if not dtype.is_floating_point:  # num_batches_tracked
            out[key] = torch.zeros(shape, dtype=dtype)
        elif key.endswith("conv.weight"):
            fan_in = int(np.prod(shape[1:]))
            out[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
        elif key.endswith("running_var") or key.endswith("bn.weight"):
            out[key] = 0.5 + torch.rand(shape, generator=g)
        elif key == "fc.weight":
            out[key] = torch.randn(shape, generator=g) / shape[1] ** 0.5
        else:  # BN bias, running_mean, fc.bias
            out[key] = 0.1 * torch.randn(shape, generator=g)
    return out


@pytest.fixture(scope="module")
def networks(tmp_path_factory):
    tf = import_torch_fidelity()
    from torch_fidelity import feature_extractor_inceptionv3 as fx

    cls = fx.FeatureExtractorInceptionV3
    tmp = tmp_path_factory.mktemp("inception")
    empty = tmp / "empty.pth"
    torch.save({}, empty)
    # Torch-fidelity's own module gives the key set and shapes; its load is skipped this once.
    real_load = cls.load_state_dict
    cls.load_state_dict = lambda self, *a, **k: None
    try:
        shapes = {k: (tuple(v.shape), v.dtype) for k, v in cls("inception-v3-compat", ["2048"], str(empty)).state_dict().items()}
    finally:
        cls.load_state_dict = real_load
    state = random_state_dict(shapes)
    path = tmp / "random-inception.pth"
    torch.save(state, path)
    theirs = cls("inception-v3-compat", ["2048", "logits_unbiased"], feature_extractor_weights_path=str(path))
    ours = Inception(torch.load(path, weights_only=True), "random", str(path))
    return tf, theirs, ours


def images(c, h, w, seed):
    return torch.randint(0, 256, (PER_SIZE, c, h, w), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


@pytest.fixture(scope="module")
def outputs(networks):
    """Per size: (ganforge features, logits), (torch-fidelity features, logits)."""
    _, theirs, ours = networks
    res = {}
    for i, (c, h, w) in enumerate(SIZES):
        x = images(c, h, w, seed=i)
        with torch.no_grad():
            f_t, l_t = theirs(x.expand(-1, 3, -1, -1) if c == 1 else x)  # gray → RGB by replication
        f_o, l_o = ours.run(x)
        res[(c, h, w)] = (torch.from_numpy(f_o), torch.from_numpy(l_o)), (f_t, l_t)
    return res


@pytest.mark.parametrize("c,h,w", SIZES)
def test_pool_features_and_logits_agree(outputs, c, h, w):
    (f_o, l_o), (f_t, l_t) = outputs[(c, h, w)]
    assert f_o.shape == f_t.shape == (PER_SIZE, 2048) and l_o.shape == l_t.shape == (PER_SIZE, 1008)
    assert f_t.abs().mean() > 1e-2 and f_t.std(0).mean() > 1e-3  # the random weights leave a live signal
    torch.testing.assert_close(f_o, f_t, rtol=0, atol=1e-5)
    torch.testing.assert_close(l_o, l_t, rtol=0, atol=1e-5)


@pytest.mark.parametrize("c,h,w", SIZES)
def test_tf1_resize_is_bit_exact(networks, c, h, w):
    tf, _, _ = networks
    from torch_fidelity.interpolate_compat_tensorflow import interpolate_bilinear_2d_like_tensorflow1x

    x = images(c, h, w, seed=100).float()
    theirs = interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    assert torch.equal(resize_like_tf1(x), theirs)


def test_fid_agrees(outputs):
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    ours = torch.cat([o[0][0] for o in outputs.values()]).numpy()
    theirs = torch.cat([o[1][0] for o in outputs.values()])
    a, b = slice(0, None, 2), slice(1, None, 2)  # two sets, every size in each
    ours_fid = fid.frechet_distance(*fid.feature_stats(ours[a]), *fid.feature_stats(ours[b]))
    theirs_fid = fid_statistics_to_metric(fid_features_to_statistics(theirs[a]), fid_features_to_statistics(theirs[b]),
                                          verbose=False)["frechet_inception_distance"]
    assert theirs_fid > 0
    # 10 samples per set: singular covariances; the agreement holds because the formula is the same.
    assert abs(ours_fid - theirs_fid) <= 1e-6 * abs(theirs_fid), (ours_fid, theirs_fid)


def test_fid_formula_agrees_on_full_rank_statistics(networks):
    """More samples than dimensions (the regime of real evaluations): well-conditioned, so the
    two formulas must agree far below 1e-6 whatever rounding each does."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    rng = np.random.default_rng(0)
    a = rng.normal(size=(1200, 256)).astype(np.float32)
    b = (a[::-1] @ rng.normal(scale=0.1, size=(256, 256)) + 0.3).astype(np.float32) + rng.normal(size=a.shape).astype(np.float32)
    ours = fid.frechet_distance(*fid.feature_stats(a), *fid.feature_stats(b))
    theirs = fid_statistics_to_metric(fid_features_to_statistics(torch.from_numpy(a)), fid_features_to_statistics(torch.from_numpy(b)),
                                      verbose=False)["frechet_inception_distance"]
    assert ours == pytest.approx(theirs, rel=1e-7)
