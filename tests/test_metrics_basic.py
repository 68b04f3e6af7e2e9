"""The Fréchet distance against closed forms, and the metric classifier on a tiny synthetic task."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from ganforge.metrics.classifier import Classifier, as_input, load_or_train, predict, train_classifier
from ganforge.metrics.fid import feature_stats, frechet_distance


def _random_cov(rng: np.random.Generator, d: int) -> np.ndarray:
    a = rng.normal(size=(d, d))
    return a @ a.T / d + 0.1 * np.eye(d)


def _psd_sqrt(s: np.ndarray) -> np.ndarray:
    """Symmetric square root by eigendecomposition: independent of scipy.linalg.sqrtm."""
    w, v = np.linalg.eigh(s)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def test_fid_of_a_set_with_itself_is_zero():
    f = np.random.default_rng(0).normal(size=(500, 16))
    mu, sigma = feature_stats(f)
    assert mu.shape == (16,) and sigma.shape == (16, 16) and mu.dtype == np.float64
    assert abs(frechet_distance(mu, sigma, mu, sigma)) < 1e-6


def test_fid_diagonal_gaussians_closed_form():
    # Commuting (diagonal) covariances: Tr(S1 + S2 - 2 (S1 S2)^½) = Σ (√s1 - √s2)².
    rng = np.random.default_rng(1)
    m1, m2 = rng.normal(size=8), rng.normal(size=8)
    s1, s2 = rng.uniform(0.1, 3, size=8), rng.uniform(0.1, 3, size=8)
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(s1) - np.sqrt(s2)) ** 2)
    assert frechet_distance(m1, np.diag(s1), m2, np.diag(s2)) == pytest.approx(expected, rel=1e-9)
    # 1-D: (m1 - m2)² + (σ1 - σ2)².
    assert frechet_distance(np.array([1.0]), np.array([[4.0]]), np.array([-2.0]), np.array([[9.0]])) == pytest.approx(9 + 1)


def test_fid_general_gaussians_match_an_independent_computation():
    # Non-commuting covariances: Tr((S1^½ S2 S1^½)^½) via two symmetric eigendecompositions.
    rng = np.random.default_rng(2)
    d = 12
    m1, m2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = _random_cov(rng, d), _random_cov(rng, d)
    r1 = _psd_sqrt(s1)
    expected = np.sum((m1 - m2) ** 2) + np.trace(s1 + s2 - 2 * _psd_sqrt(r1 @ s2 @ r1))
    got = frechet_distance(m1, s1, m2, s2)
    assert got == pytest.approx(expected, rel=1e-8)
    assert got == pytest.approx(frechet_distance(m2, s2, m1, s1), rel=1e-8)  # symmetric


def test_fid_singular_covariances_stay_finite():
    # Fewer samples than dimensions: rank-deficient covariances, as with a small sample set.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(5, 20)), rng.normal(size=(5, 20)) + 1
    with np.errstate(all="ignore"):
        d = frechet_distance(*feature_stats(a), *feature_stats(b))
    assert np.isfinite(d) and d > 0


def test_fid_rejects_matrices_that_are_not_covariances():
    with pytest.raises(ValueError, match="not covariance matrices"):
        frechet_distance(np.zeros(2), np.eye(2), np.zeros(2), -np.eye(2))


def test_fid_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(4), np.eye(4))


def _blobs(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes of 12x12 uint8 images: a bright bar at the top, the middle or the bottom."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    x = rng.integers(0, 60, size=(n, 12, 12)).astype(np.uint8)
    for i, c in enumerate(y):
        x[i, 4 * c : 4 * c + 4] += 150
    return x, y


def test_classifier_learns_a_separable_task_deterministically(tmp_path):
    x, y = _blobs(600, seed=0)
    a = train_classifier(x, y, seed=7, epochs=3)
    b = train_classifier(x, y, seed=7, epochs=3)
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name  # same seed → bit-identical weights
    c = train_classifier(x, y, seed=8, epochs=1)
    assert not torch.equal(a.fc2.weight, c.fc2.weight)

    xt, yt = _blobs(300, seed=1)
    feats, probs = predict(a, xt)
    assert feats.shape == (300, 128) and probs.shape == (300, 3)
    assert np.allclose(probs.sum(1), 1)
    assert (probs.argmax(1) == yt).mean() > 0.95

    # Cached: the second call loads the same weights instead of training.
    m1, cached1 = load_or_train(x, y, tmp_path, seed=7, epochs=1)
    m2, cached2 = load_or_train(x, y, tmp_path, seed=7, epochs=1)
    assert (cached1, cached2) == (False, True)
    assert all(torch.equal(p, q) for p, q in zip(m1.state_dict().values(), m2.state_dict().values()))


def test_classifier_input_layouts_and_resizing():
    x, _ = _blobs(4, seed=0)
    nchw = as_input(x)
    assert nchw.shape == (4, 1, 12, 12) and nchw.min() >= -1 and nchw.max() <= 1
    assert torch.equal(as_input(x[..., None]), nchw)  # NHWC uint8
    assert torch.equal(as_input(nchw), nchw)  # float NCHW passes through
    m = Classifier(in_channels=1, num_classes=10, side=28).eval()
    with torch.no_grad():
        assert m.logits(torch.rand(2, 3, 64, 64) * 2 - 1).shape == (2, 10)  # RGB 64x64 → gray 28x28
        assert m.features(torch.rand(2, 1, 28, 28)).shape == (2, 128)
