"""The Fréchet distance between two Gaussians fitted to feature sets: the FID of
Heusel et al. 2017, "GANs Trained by a Two Time-Scale Update Rule Converge to a Local
Nash Equilibrium" (NeurIPS), eq. 6:

    d² = ||mu1 - mu2||² + Tr(S1 + S2 - 2 (S1 S2)^½)

The number depends entirely on the feature extractor. With Inception-v3 pool features it
is "the" FID; with any other network (e.g. ganforge.metrics.classifier) it is a different
score, not comparable with published FIDs.
"""
from __future__ import annotations

import numpy as np


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) of an (N, D) feature array, in float64 (Heusel et al. 2017)."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be an (N, D) array with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al. 2017, eq. 6).

    Tr (S1 S2)^½ is the sum of the square roots of the eigenvalues of S1 S2, as torch-fidelity
    computes it (its ``fid_statistics_to_metric``); tests/test_inception_fidelity.py checks the
    two agree. Those eigenvalues are real and >= 0 in exact arithmetic; rounding leaves tiny
    negative or complex ones, of which the square root's real part is kept. Unlike
    ``scipy.linalg.sqrtm`` (pytorch-fid), this never fails on a singular product. With fewer
    samples than feature dimensions the covariances are singular and the rounding noise of
    the ~d zero eigenvalues adds up: there FID is reproducible only to about 1e-4 relative,
    by any implementation; use more samples than dimensions for comparable numbers.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (len(mu1), len(mu1)):
        raise ValueError(f"shapes differ: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")

    diff = mu1 - mu2
    eig = np.linalg.eigvals(sigma1 @ sigma2)
    if eig.real.min(initial=0.0) < -1e-3 * max(np.abs(eig).max(initial=0.0), 1e-12):
        raise ValueError(f"frechet_distance: S1 S2 has eigenvalue {eig.real.min():.3g}: the inputs are not covariance matrices")
    tr_covmean = np.sqrt(eig.astype(np.complex128)).real.sum()
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
