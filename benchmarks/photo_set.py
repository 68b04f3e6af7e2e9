"""Photo sets for the photo benchmarks, written outside the project from ../shared/datasets:

    python benchmarks/photo_set.py cifar10 horse /tmp/horses
        one CIFAR-10 class (1,000 photos of horses, 32x32 PNG): a second photo set for
        benchmarks/budget.py, whose judge then must not have seen that class:
        python benchmarks/budget.py --dataset folder --root /tmp/horses --judge-without horse
    python benchmarks/photo_set.py subset ../shared/datasets/flowers 100 /tmp/flowers100 --rest /tmp/flowers-fresh
        a fixed subset of a folder (the same 100 photos for every --seed 0 call), and the photos
        left out as fresh ones: a few-shot set and photos to audit its samples against
        (ganforge audit RUN --heldout /tmp/flowers-fresh)

CIFAR-10's photos are real photos of objects, shrunk to 32x32; a folder of them is trained at
64x64 like any other folder, so both sides of a comparison learn upscaled photos. Subsets are
copies of the chosen files (sub-folders kept). Nothing is written into the project: pass
folders outside it.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp"}


def fresh(out: Path) -> Path:
    if out.exists():
        sys.exit(f"photo_set.py: {out} exists; pass a new folder")
    return out


def cifar10(a) -> None:
    src = a.data_root / "cifar10" / "cifar10_test.npz"
    if not src.exists():
        sys.exit(f"photo_set.py: {src} not found; pass --data-root DIR (the folder holding cifar10/)")
    d = np.load(src)
    names = [str(n) for n in d["class_names"]]
    if a.cls not in names:
        sys.exit(f"photo_set.py: class {a.cls!r} is not in CIFAR-10; expected one of {', '.join(names)}")
    images = d["x_test"][d["y_test"] == names.index(a.cls)]
    fresh(a.out).mkdir(parents=True)
    for i, img in enumerate(images):
        Image.fromarray(img).save(a.out / f"{a.cls}-{i:04d}.png")
    print(f"{len(images)} photos of {a.cls} → {a.out}")


def subset(a) -> None:
    files = sorted(p for p in a.folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    if len(files) <= a.n:
        sys.exit(f"photo_set.py: {a.folder} holds {len(files)} photos; a subset of {a.n} needs more")
    order = np.random.default_rng(a.seed).permutation(len(files))
    parts = [(fresh(a.out), order[: a.n])] + ([(fresh(a.rest), order[a.n:])] if a.rest else [])
    for out, idx in parts:
        for i in idx:
            dest = out / files[i].relative_to(a.folder)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(files[i], dest)
        print(f"{len(idx)} photos of {a.folder} → {out}")


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "datasets")
    sub = p.add_subparsers(dest="what", required=True)
    c = sub.add_parser("cifar10", help="one CIFAR-10 class as a folder of photos")
    c.add_argument("cls", help="airplane, automobile, bird, cat, deer, dog, frog, horse, ship or truck")
    c.add_argument("out", type=Path, help="the folder to write (must not exist yet)")
    s = sub.add_parser("subset", help="a fixed random subset of a folder of photos")
    s.add_argument("folder", type=Path)
    s.add_argument("n", type=int, help="how many photos")
    s.add_argument("out", type=Path, help="the folder to write (must not exist yet)")
    s.add_argument("--rest", type=Path, help="also write the photos left out here")
    s.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    (cifar10 if a.what == "cifar10" else subset)(a)


if __name__ == "__main__":
    main()
