"""The sample-quality scores, each a pure function of feature arrays (or 2-D points).

| score                | paper                                   | needs                           | better |
|----------------------|-----------------------------------------|---------------------------------|--------|
| FID                  | Heusel et al. 2017 (fid.py)             | real and generated features     | lower  |
| KID                  | Bińkowski et al. 2018                   | real and generated features     | lower  |
| Inception Score      | Salimans et al. 2016                    | generated class logits          | higher |
| precision, recall    | Kynkäänniemi et al. 2019 (k = 3)        | real and generated features     | higher |
| density, coverage    | Naeem et al. 2020 (k = 5)               | real and generated features     | higher |
| modes, high quality  | VEEGAN / PacGAN (toy.py)                | 2-D points and the mode centres | higher |

All use float64 for the arithmetic; random subsets are drawn from a seeded generator, so a
score is a function of its inputs and its seed.
"""
from __future__ import annotations

import contextlib
import math
import warnings

import numpy as np
import torch

from .fid import feature_stats, frechet_distance
from .neighbours import as_matrix, ball_statistics, kth_neighbour_radii

PR_K = 3  # Kynkäänniemi et al. 2019, sec. 3: "we use k = 3"
DC_K = 5  # Naeem et al. 2020, sec. 4: k = 5 with M = N = 10,000
KID_SUBSETS, KID_SUBSET_SIZE = 100, 1000  # Bińkowski et al.'s (and torch-fidelity's) defaults
IS_SPLITS = 10  # Salimans et al. 2016


@contextlib.contextmanager
def single_threaded_blas():
    """SciPy/NumPy linear algebra on one thread. OpenBLAS's worker threads spin while they
    wait for each other: on a machine whose cores are busy with other jobs, sqrtm of a 2048²
    matrix took 130 s on 2 threads and 16 s on one (128²: 1.7 s against 8 ms)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, BLAS keeps its threads
        yield
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield


def stats(features) -> tuple[np.ndarray, np.ndarray]:
    """(mean, covariance) in float64, via fid.feature_stats."""
    with single_threaded_blas():
        return feature_stats(np.asarray(features, dtype=np.float64))


def fid(real_stats: tuple[np.ndarray, np.ndarray], gen_features) -> float:
    """Fréchet distance between the real statistics and the generated features' Gaussian."""
    mu, sigma = stats(gen_features)
    with single_threaded_blas():
        return frechet_distance(real_stats[0], real_stats[1], mu, sigma)


def polynomial_kernel(x: torch.Tensor, y: torch.Tensor, degree: int = 3, coef0: float = 1.0) -> torch.Tensor:
    """k(x, y) = (x·y / d + coef0)^degree, the kernel of Bińkowski et al. 2018 (gamma = 1/d)."""
    k = torch.addmm(torch.full((), coef0, dtype=x.dtype), x, y.T, alpha=1.0 / x.shape[1])  # one pass, no temporaries
    return k.pow_(degree)


def mmd2_unbiased(x: torch.Tensor, y: torch.Tensor) -> float:
    """The unbiased estimator of MMD² (Gretton et al. 2012, eq. 3) with the cubic kernel:
    within-set sums leave out the diagonal, the cross term keeps all m·n pairs."""
    m, n = len(x), len(y)
    kxx = polynomial_kernel(x, x)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (m * (m - 1))
    del kxx
    kyy = polynomial_kernel(y, y)
    syy = (kyy.sum() - kyy.diagonal().sum()) / (n * (n - 1))
    del kyy
    return float(sxx + syy - 2 * polynomial_kernel(x, y).sum() / (m * n))


def kid(real_features, gen_features, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 0) -> tuple[float, float, int]:
    """Kernel Inception Distance (Bińkowski et al. 2018): the unbiased MMD² with the cubic
    polynomial kernel, averaged over ``subsets`` random subsets of ``subset_size`` drawn
    without replacement from each set. Returns (mean, std over subsets, the subset size used).

    With fewer samples than ``subset_size`` in either set, the size is clipped to the
    smaller set (with a warning): the estimate stays unbiased, only noisier.
    """
    r, g = as_matrix(real_features, torch.float64), as_matrix(gen_features, torch.float64)
    size = min(subset_size, len(r), len(g))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set, got {len(r)} real and {len(g)} generated")
    if size < subset_size:
        warnings.warn(f"KID: subset size clipped from {subset_size} to {size} "
                      f"({len(r)} real, {len(g)} generated samples)", stacklevel=2)
    gen = torch.Generator().manual_seed(seed)
    values = []
    for _ in range(subsets):
        i = torch.randperm(len(r), generator=gen)[:size]
        j = torch.randperm(len(g), generator=gen)[:size]
        values.append(mmd2_unbiased(r[i], g[j]))
    return float(np.mean(values)), float(np.std(values)), size


def inception_score(logits, splits: int = IS_SPLITS, seed: int = 0) -> tuple[float, float]:
    """exp E_x KL(p(y|x) || p(y)) (Salimans et al. 2016), mean and std over ``splits`` parts,
    the samples shuffled first (as torch-fidelity does; p(y) is estimated per part)."""
    lg = torch.as_tensor(np.asarray(logits), dtype=torch.float64)
    if lg.ndim != 2 or len(lg) < splits:
        raise ValueError(f"inception_score: need (N, classes) logits with N >= {splits} splits, got {tuple(lg.shape)}")
    lg = lg[torch.randperm(len(lg), generator=torch.Generator().manual_seed(seed))]
    log_p = lg.log_softmax(1)
    scores = []
    for part in torch.tensor_split(log_p, splits):
        log_py = part.exp().mean(0).log()
        kl = (part.exp() * (part - log_py)).sum(1).mean()
        scores.append(math.exp(float(kl)))
    return float(np.mean(scores)), float(np.std(scores))


def real_radii(real_features) -> dict[int, np.ndarray]:
    """k-NN radii of the real set for precision/recall (k = 3) and density/coverage (k = 5):
    they depend on the real features only, so evaluate caches them with them."""
    return kth_neighbour_radii(real_features, (PR_K, DC_K))


def manifold_scores(real_features, gen_features, radii: dict[int, np.ndarray] | None = None) -> dict[str, float]:
    """Improved precision and recall (Kynkäänniemi et al. 2019, k = 3) and density and coverage
    (Naeem et al. 2020, k = 5), in one pass over the real × generated distances.

    precision: fraction of generated samples inside the real manifold, the union of balls
        around each real sample reaching its k-th nearest real neighbour;
    recall: fraction of real samples inside the generated manifold (the same with roles swapped);
    density: the number of real balls (k = 5) containing each generated sample, averaged, / k:
        about 1 when the two distributions match, above 1 where samples crowd the real modes;
    coverage: fraction of real samples whose ball (k = 5) contains at least one generated sample.
    """
    radii = radii or real_radii(real_features)
    gen_r3 = kth_neighbour_radii(gen_features, (PR_K,))[PR_K]
    b = ball_statistics(gen_features, real_features, radii[PR_K], radii[DC_K], gen_r3)
    return {
        "precision": float(b["in_real"].mean()),
        "recall": float(b["in_gen"].mean()),
        "density": float(b["real_count"].mean() / DC_K),
        "coverage": float(b["covered"].mean()),
    }
