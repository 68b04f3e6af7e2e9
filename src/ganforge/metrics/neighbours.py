"""Exact, batched nearest-neighbour search in torch, shared by precision/recall, density/coverage
and the memorization audit.

Distances come from ||a||² + ||b||² − 2 a·b: one matrix multiply per chunk of queries, so a
10,000 × 60,000 search at 784 dimensions is a few dense GEMMs rather than 600 million
vector differences. The expansion loses precision when two points are close (it subtracts
large, nearly equal numbers), so ``knn`` takes a few extra candidates from the fast float32
pass and recomputes their distances directly, in float64, from the vectors' differences:
the distances it returns are exact, and so is the order, unless a true neighbour lies
outside the candidates, which needs a float32 rounding error larger than the gap between
the k-th and the (k + ``spare``)-th neighbour.
"""
from __future__ import annotations

import numpy as np
import torch

CHUNK_BYTES = 128 * 2**20  # per query chunk's distance block: bounds memory at any dataset size


def as_matrix(x, dtype=torch.float32) -> torch.Tensor:
    """(N, ...) array or tensor → contiguous (N, D) tensor of ``dtype``."""
    t = torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x)
    return t.reshape(len(t), -1).to(dtype).contiguous()


def rows_per_chunk(n_ref: int, itemsize: int = 4) -> int:
    return max(1, CHUNK_BYTES // max(1, n_ref * itemsize))


def sq_distances(a: torch.Tensor, b: torch.Tensor, b_sq: torch.Tensor | None = None) -> torch.Tensor:
    """Squared Euclidean distances (len(a), len(b)), clamped at 0 against rounding."""
    if b_sq is None:
        b_sq = (b * b).sum(1)
    d = (a * a).sum(1, keepdim=True) + b_sq[None, :] - 2.0 * (a @ b.T)
    return d.clamp_(min=0)


def knn(query, ref, k: int = 1, exclude_self: bool = False, spare: int = 4, chunk: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The k nearest rows of ``ref`` for every row of ``query``: (distances float64 (Nq, k), indices (Nq, k)).

    ``exclude_self``: query and ref are the same set; each point's own row is skipped (by
    index, so exact duplicates elsewhere in the set still count as neighbours).
    """
    q, r = as_matrix(query), as_matrix(ref)
    if q.shape[1] != r.shape[1]:
        raise ValueError(f"knn: query has {q.shape[1]} dimensions, ref has {r.shape[1]}")
    n_cand = min(len(r), k + spare + int(exclude_self))
    if k + int(exclude_self) > len(r):
        raise ValueError(f"knn: asked for {k} neighbours among {len(r) - int(exclude_self)} points")
    r_sq = (r * r).sum(1)
    chunk = chunk or rows_per_chunk(len(r))
    out_d = torch.empty(len(q), k, dtype=torch.float64)
    out_i = torch.empty(len(q), k, dtype=torch.long)
    for s in range(0, len(q), chunk):
        qc = q[s : s + chunk]
        d = sq_distances(qc, r, r_sq)
        if exclude_self:
            rows = torch.arange(len(qc))
            d[rows, rows + s] = float("inf")
        cand = d.topk(n_cand, dim=1, largest=False).indices  # (c, n_cand)
        del d
        exact = _exact_sq(qc, r, cand)
        if exclude_self:
            exact[cand == (torch.arange(len(qc)) + s)[:, None]] = float("inf")
        best = exact.topk(k, dim=1, largest=False)
        out_d[s : s + chunk] = best.values.sqrt()
        out_i[s : s + chunk] = cand.gather(1, best.indices)
    return out_d, out_i


def _exact_sq(q: torch.Tensor, r: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
    """Squared distances from each q row to its candidate rows of r, from float64 differences."""
    out = torch.empty(cand.shape, dtype=torch.float64)
    step = max(1, (32 * 2**20) // (cand.shape[1] * q.shape[1] * 8))  # bound the (rows, cand, D) block
    for s in range(0, len(q), step):
        diff = q[s : s + step].double()[:, None, :] - r[cand[s : s + step]].double()
        out[s : s + step] = diff.pow_(2).sum(-1)
    return out


def kth_neighbour_radii(x, ks: tuple[int, ...]) -> dict[int, np.ndarray]:
    """For each k in ``ks``: the distance from every point of ``x`` to its k-th nearest other
    point of ``x`` (the k-NN ball radius of Kynkäänniemi et al. 2019 and Naeem et al. 2020)."""
    d, _ = knn(x, x, k=max(ks), exclude_self=True)
    return {k: d[:, k - 1].numpy() for k in ks}


def ball_statistics(gen, real, pr_radii: np.ndarray, dc_radii: np.ndarray, gen_radii: np.ndarray,
                    chunk: int | None = None) -> dict[str, np.ndarray]:
    """One pass over the generated × real distance matrix, in float64, for the manifold metrics.

    Per generated sample j: ``in_real``, inside some real ball B(x_i, pr_radii[i]) with its
    boundary (precision), and ``real_count``, how many balls B(x_i, dc_radii[i]) contain it
    strictly (density). Per real sample i: ``in_gen``, inside some generated ball
    B(y_j, gen_radii[j]) with its boundary (recall), and ``covered``, whether its ball
    B(x_i, dc_radii[i]) strictly contains a generated sample (coverage). Boundaries included
    follow Kynkäänniemi et al.'s code; strict ones follow Naeem et al.'s (prdc).
    """
    g, r = as_matrix(gen, torch.float64), as_matrix(real, torch.float64)
    # Compared squared: no square roots of a (chunk, n_real) block.
    pr2 = torch.as_tensor(pr_radii, dtype=torch.float64).square()
    dc2 = torch.as_tensor(dc_radii, dtype=torch.float64).square()
    gr2 = torch.as_tensor(gen_radii, dtype=torch.float64).square()
    r_sq = (r * r).sum(1)
    in_real = torch.zeros(len(g), dtype=torch.bool)
    count = torch.zeros(len(g), dtype=torch.long)
    in_gen = torch.zeros(len(r), dtype=torch.bool)
    covered = torch.zeros(len(r), dtype=torch.bool)
    chunk = chunk or rows_per_chunk(len(r), 8)
    for s in range(0, len(g), chunk):
        d2 = sq_distances(g[s : s + chunk], r, r_sq)  # (c, n_real)
        in_real[s : s + chunk] = (d2 <= pr2[None, :]).any(1)
        inside = d2 < dc2[None, :]
        count[s : s + chunk] = inside.sum(1)
        covered |= inside.any(0)
        in_gen |= (d2 <= gr2[s : s + chunk, None]).any(0)
    return {"in_real": in_real.numpy(), "real_count": count.numpy(), "in_gen": in_gen.numpy(), "covered": covered.numpy()}
