"""Mode scores for 2-D toys, by the protocol of VEEGAN (Srivastava et al. 2017) and PacGAN
(Lin et al. 2018, Table 1): draw 2,500 samples; a sample is *high quality* when it lies
within 3 standard deviations of its nearest mode centre; a mode is *captured* when it is
the nearest centre of at least one high-quality sample; *reverse KL* is KL(P_gen || P_real)
over the histogram of high-quality samples' nearest modes, P_real uniform over the modes.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class ToyScore:
    modes: int  # modes captured
    total_modes: int
    high_quality: float  # fraction of samples within 3 std of their nearest mode
    reverse_kl: float
    counts: list[int]  # high-quality samples per mode
    visits: list[int]  # all samples per mode, by nearest centre (how G spreads, precise or not)

    def __str__(self) -> str:
        return f"{self.modes}/{self.total_modes} modes, {100 * self.high_quality:.1f}% high quality, reverse KL {self.reverse_kl:.3f}"


def toy_scores(points: torch.Tensor, centers, std: float, n_std: float = 3.0) -> ToyScore:
    """Score (N, 2) samples, in data coordinates, against the toy's mode centres."""
    pts = torch.as_tensor(points, dtype=torch.float64)
    c = torch.as_tensor(centers, dtype=torch.float64)
    dist, nearest = torch.cdist(pts, c).min(dim=1)
    good = dist <= n_std * std
    counts = torch.bincount(nearest[good], minlength=len(c))
    captured = int((counts > 0).sum())
    if good.any():
        p = counts[counts > 0].double() / counts.sum()
        rkl = float((p * (p * len(c)).log()).sum())  # Σ p log(p / (1/M))
    else:
        rkl = float("inf")
    visits = torch.bincount(nearest, minlength=len(c))
    return ToyScore(captured, len(c), float(good.double().mean()) if len(pts) else 0.0, rkl, counts.tolist(), visits.tolist())
