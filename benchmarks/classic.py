"""The classic loops ganforge is measured against, written out as users copy them.

Images: pytorch/examples ``dcgan/main.py`` (Radford et al. 2016): nn.Sequential G and D, a
Sigmoid at D's end with nn.BCELoss, N(0, 0.02) init; D on real (backward), fake = G(noise),
D on fake.detach() (backward), D step; then G's step through D reusing the same fake, which
also computes D's weight gradients (unused). The reference is written for 64x64; at 32x32
(MNIST padded, as people train it) the same nets lose one level: G 1.07M and D 0.66M
parameters for nc = 1, ngf = ndf = 64.

2-D points: the same loop with MLPs (Goodfellow et al. 2014's game as GAN Lab and most
tutorials write it): G z → hidden (ReLU) → 2, D 2 → hidden (LeakyReLU 0.2) → 1, Sigmoid, BCE.

Each ``*_stepper`` returns (one step of the loop body, the losses of the last step).
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn as nn

Stepper = tuple[Callable[[], None], Callable[[], list[float]]]


def weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


def _levels(resolution: int) -> int:
    n = int(math.log2(resolution // 4))
    if 4 * 2**n != resolution:
        raise ValueError(f"the classic DCGAN nets need a side of 4·2^k (32, 64), not {resolution}")
    return n


def generator(nz: int, ngf: int, nc: int, resolution: int = 64) -> nn.Sequential:
    """64x64: nz → ngf*8 (4x4) → *4 → *2 → *1 → nc; 32x32 drops the ngf*8 level."""
    n = _levels(resolution)
    ch = [ngf * 2 ** (n - 1 - i) for i in range(n)]
    layers: list[nn.Module] = [nn.ConvTranspose2d(nz, ch[0], 4, 1, 0, bias=False), nn.BatchNorm2d(ch[0]), nn.ReLU(True)]
    for a, b in zip(ch, ch[1:]):
        layers += [nn.ConvTranspose2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.ReLU(True)]
    return nn.Sequential(*layers, nn.ConvTranspose2d(ch[-1], nc, 4, 2, 1, bias=False), nn.Tanh())


def discriminator(ndf: int, nc: int, resolution: int = 64) -> nn.Sequential:
    n = _levels(resolution)
    ch = [ndf * 2**i for i in range(n)]
    layers: list[nn.Module] = [nn.Conv2d(nc, ch[0], 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True)]
    for a, b in zip(ch, ch[1:]):
        layers += [nn.Conv2d(a, b, 4, 2, 1, bias=False), nn.BatchNorm2d(b), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers, nn.Conv2d(ch[-1], 1, 4, 1, 0, bias=False), nn.Sigmoid(), nn.Flatten(0))


def mlp_generator(nz: int, hidden: list[int], dim: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip([nz] + hidden, hidden):
        layers += [nn.Linear(a, b), nn.ReLU(True)]
    return nn.Sequential(*layers, nn.Linear(hidden[-1], dim))


def mlp_discriminator(hidden: list[int], dim: int = 2) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in zip([dim] + hidden, hidden):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.2, inplace=True)]
    return nn.Sequential(*layers, nn.Linear(hidden[-1], 1), nn.Sigmoid(), nn.Flatten(0))


def loop(netG: nn.Module, netD: nn.Module, real: torch.Tensor, noise_shape: tuple[int, ...],
         lr: float = 2e-4, betas: tuple[float, float] = (0.5, 0.999)) -> Stepper:
    """The reference loop body over a fixed real batch, noise drawn from torch's global RNG."""
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=lr, betas=betas)
    optimizerG = torch.optim.Adam(netG.parameters(), lr=lr, betas=betas)
    real_label, fake_label = 1.0, 0.0
    last: list[torch.Tensor] = []

    def step() -> None:
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        batch_size = real.size(0)
        label = torch.full((batch_size,), real_label, dtype=real.dtype, device=real.device)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        noise = torch.randn(batch_size, *noise_shape, dtype=real.dtype, device=real.device)
        fake = netG(noise)
        label.fill_(fake_label)
        output = netD(fake.detach())
        errD_fake = criterion(output, label)
        errD_fake.backward()
        optimizerD.step()
        # (2) Update G: maximize log(D(G(z))), through D with its weight gradients computed
        netG.zero_grad()
        label.fill_(real_label)
        output = netD(fake)
        errG = criterion(output, label)
        errG.backward()
        optimizerG.step()
        # The reference reads the losses with .item() and prints every step; we keep detached
        # tensors, as ganforge's reporter does, so neither side pays a per-step device sync.
        last[:] = [(errD_real + errD_fake).detach(), errG.detach()]

    return step, lambda: [float(t) for t in last]


def dcgan_stepper(real: torch.Tensor, nz: int = 100, ngf: int = 64, ndf: int = 64) -> tuple[Stepper, nn.Module, nn.Module]:
    """The image loop at the real batch's resolution: (stepper, netG, netD)."""
    nc, res = real.shape[1], real.shape[-1]
    netG = generator(nz, ngf, nc, res).to(real.device, real.dtype)
    netD = discriminator(ndf, nc, res).to(real.device, real.dtype)
    netG.apply(weights_init)
    netD.apply(weights_init)
    return loop(netG, netD, real, (nz, 1, 1)), netG, netD


def mlp_stepper(real: torch.Tensor, nz: int, g_hidden: list[int], d_hidden: list[int]) -> tuple[Stepper, nn.Module, nn.Module]:
    """The 2-D loop, PyTorch's default init: (stepper, netG, netD)."""
    netG = mlp_generator(nz, g_hidden, real.shape[1]).to(real.device, real.dtype)
    netD = mlp_discriminator(d_hidden, real.shape[1]).to(real.device, real.dtype)
    return loop(netG, netD, real, (nz,)), netG, netD
