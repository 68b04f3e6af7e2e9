"""Training-step throughput: ganforge's ``training.gan_step`` against the classic DCGAN loop.

The classic loop is the widely copied reference, pytorch/examples dcgan/main.py: nn.Sequential
G and D, a Sigmoid at D's end with nn.BCELoss; D on real (backward), fake = G(noise), D on
fake.detach() (backward), D step; then G's step through D reusing the same fake, which also
computes D's weight gradients (unused). Both sides run the same architecture and init at
64x64, nc=3, ngf=ndf=64, nz=100, batch 64, with Adam(2e-4, (0.5, 0.999)), on the same
device, thread count and real batch; timed blocks alternate so drift hits both alike.

    python benchmarks/throughput.py                  # the default: about 2 minutes on 2 CPU cores
    python benchmarks/throughput.py --device cuda --steps 50
"""
from __future__ import annotations

import argparse
import itertools
import math
import os
import statistics
import time
from typing import Callable

import torch
import torch.nn as nn

from ganforge import config, models, objectives, training
from ganforge.augment import DInput
from ganforge.data.base import DataInfo
from ganforge.log import Reporter

# ---------------------------------------------------------------------------- the classic loop
# Networks and init as in pytorch/examples dcgan/main.py (written for 64x64 only).


def weights_init(m: nn.Module) -> None:
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        torch.nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        torch.nn.init.normal_(m.weight, 1.0, 0.02)
        torch.nn.init.zeros_(m.bias)


class ClassicGenerator(nn.Module):
    def __init__(self, nz: int, ngf: int, nc: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),  # 4x4
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),  # 8x8
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),  # 16x16
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),  # 32x32
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),  # 64x64
        )

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z)


class ClassicDiscriminator(nn.Module):
    def __init__(self, ndf: int, nc: int):
        super().__init__()
        self.main = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False), nn.LeakyReLU(0.2, inplace=True),  # 32x32
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 2), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 4), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False), nn.BatchNorm2d(ndf * 8), nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.main(x).view(-1, 1).squeeze(1)


def classic_stepper(real: torch.Tensor, nz: int, ngf: int, ndf: int) -> tuple[Callable[[], None], Callable[[], list[float]]]:
    """(one step of the reference loop body, the losses of the last step)."""
    device, nc = real.device, real.shape[1]
    netG, netD = ClassicGenerator(nz, ngf, nc).to(device), ClassicDiscriminator(ndf, nc).to(device)
    netG.apply(weights_init)
    netD.apply(weights_init)
    criterion = nn.BCELoss()
    optimizerD = torch.optim.Adam(netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
    optimizerG = torch.optim.Adam(netG.parameters(), lr=2e-4, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    last: list[torch.Tensor] = []

    def step() -> None:
        # (1) Update D: maximize log(D(x)) + log(1 - D(G(z)))
        netD.zero_grad()
        batch_size = real.size(0)
        label = torch.full((batch_size,), real_label, dtype=real.dtype, device=device)
        output = netD(real)
        errD_real = criterion(output, label)
        errD_real.backward()
        noise = torch.randn(batch_size, nz, 1, 1, device=device)
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
        # The reference reads D_x, D_G_z1, D_G_z2 and the losses with .item() and prints every
        # step; we keep detached tensors instead, as ganforge's reporter does, so neither side
        # pays a per-step device sync on CUDA (on CPU it makes no difference).
        last[:] = [(errD_real + errD_fake).detach(), errG.detach()]

    return step, lambda: [float(t) for t in last]


# ---------------------------------------------------------------------------- ganforge

def ganforge_stepper(real: torch.Tensor, nz: int, ngf: int, ndf: int) -> tuple[Callable[[], None], Callable[[], list[float]]]:
    """(one ``training.gan_step`` on a Game built as ``ganforge.train`` builds it, the losses of the last step)."""
    nc, res = real.shape[1], real.shape[-1]
    cfg = config.from_dict({"data": {"resolution": res, "channels": nc},
                            "model": {"family": "dcgan", "nz": nz, "ngf": ngf, "ndf": ndf},
                            "objective": {"name": "nonsaturating"}, "train": {"batch_size": len(real)}})
    G, D = (m.to(real.device) for m in models.build(cfg.model, DataInfo("image", (nc, res, res), 0)))
    opt_g, opt_d = training.make_optimizers(cfg, G, D)
    T, o = cfg.train, cfg.objective
    game = training.Game(G, D, objectives.build(o), opt_g, opt_d, DInput(o.diffaugment, o.instance_noise, T.steps),
                         cfg.model.nz, T.d_steps, 0)
    batches = itertools.repeat((real, None))  # the same pre-made batch, endlessly
    # The training loop reports a few scalars per step into a Reporter; so do we (their cost
    # is part of the step), and its flush gives the losses for the finiteness check.
    reporter = Reporter(None).__enter__()

    def step() -> None:
        training.gan_step(game, batches)

    def losses() -> list[float]:
        row = reporter.flush(0)
        return [row["loss_d"], row["loss_g"]]

    return step, losses


# ---------------------------------------------------------------------------- timing

def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(step: Callable[[], None], n: int, device: torch.device) -> float:
    """Seconds for n steps, the device drained before and after."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20, help="steps per timed block (default 20)")
    p.add_argument("--rounds", type=int, default=5, help="timed blocks per side, interleaved (default 5)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per side first (default 3)")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--resolution", type=int, default=64, help="64 only: the classic networks are written for 64x64")
    p.add_argument("--channels", type=int, default=3)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch intra-op threads (default: torch's own choice)")
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    if a.resolution != 64:
        p.error("--resolution: the classic DCGAN networks are 64x64 only")

    if a.threads:
        torch.set_num_threads(a.threads)
    device = torch.device(a.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # as the reference sets it; shared by both sides
    nz, ngf, ndf = 100, 64, 64
    torch.manual_seed(a.seed)
    real = (torch.rand(a.batch, a.channels, a.resolution, a.resolution) * 2 - 1).to(device)
    sides = {"classic": classic_stepper(real, nz, ngf, ndf), "ganforge": ganforge_stepper(real, nz, ngf, ndf)}

    load = os.getloadavg()[0]  # before our own work: anything here is someone else's
    if load > 0.5:
        print(f"warning: load average {load:.1f} before the start: another job is using the CPU, "
              "so these timings will be low and noisy", flush=True)
    print(f"torch {torch.__version__}, device {device}, {torch.get_num_threads()} threads; "
          f"{a.resolution}x{a.resolution}x{a.channels}, batch {a.batch}, ngf=ndf={ngf}, nz={nz}; "
          f"{a.warmup} warm-up steps, then {a.rounds} rounds x {a.steps} steps per side", flush=True)
    for name, (step, _) in sides.items():
        timed(step, a.warmup, device)
    rates: dict[str, list[float]] = {name: [] for name in sides}
    for r in range(a.rounds):
        order = list(sides) if r % 2 == 0 else list(sides)[::-1]  # alternate who goes first
        for name in order:
            rates[name].append(a.batch * a.steps / timed(sides[name][0], a.steps, device))
        print(f"  round {r + 1}: " + "  ".join(f"{n} {rates[n][-1]:7.1f} img/s" for n in sides), flush=True)

    for name, (_, losses) in sides.items():  # a fast step that computes garbage is no win
        values = losses()
        assert all(math.isfinite(v) for v in values), f"{name}: non-finite losses {values}"

    med = {n: statistics.median(v) for n, v in rates.items()}
    print(f"\n{'':10} {'median img/s':>13} {'min':>8} {'max':>8} {'steps/s':>8}")
    for n in sides:
        print(f"{n:10} {med[n]:13.1f} {min(rates[n]):8.1f} {max(rates[n]):8.1f} {med[n] / a.batch:8.2f}")
    print(f"ratio ganforge/classic: {med['ganforge'] / med['classic']:.2f}")


if __name__ == "__main__":
    main()
