"""Draw docs/images/project-digit.png (README, docs/latent.md): a digit drawn by hand (strokes on
a white canvas, as in a paint program), its projection into the main job's generator
(dcgan-digits), and an edit of it along a discovered direction.

It runs exactly the commands the page shows:

    ganforge train --preset dcgan-digits --out RUN                      # unless --run is given (~2-3 min)
    ganforge project RUN drawn-4.png --invert --starts 32 --steps 400 --out DIR/project
    ganforge directions RUN --method pca --out DIR/directions
    ganforge sweep RUN --from-latents DIR/project --directions DIR/directions --direction K --steps 7 --range 3

then puts the drawn image, the image as fitted to the model, its projection and the sweep's row
side by side.

    python docs/make_project_images.py                       # trains the main job first
    python docs/make_project_images.py --run runs/dcgan-digits
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "images" / "project-digit.png"


def ganforge(*args: str) -> None:
    cmd = [sys.executable, "-m", "ganforge", *args]
    print("$ ganforge " + " ".join(args), flush=True)
    subprocess.run(cmd, check=True)


def drawn_four(path: Path) -> None:
    """A 4 in thick dark strokes on a white 200x240 canvas: a digit as a user draws one."""
    im = Image.new("L", (200, 240), 255)
    d = ImageDraw.Draw(im)
    for a, b in (((120, 30), (45, 150)), ((45, 150), (165, 150)), ((125, 80), (125, 215))):
        d.line([a, b], fill=20, width=26)
        for x, y in (a, b):
            d.ellipse([x - 13, y - 13, x + 13, y + 13], fill=20)
    im.save(path)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--run", help="a dcgan-digits run (default: train one in a temporary folder)")
    p.add_argument("--direction", type=int, default=0, help="the pca direction to edit along (default 0)")
    args = p.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="ganforge-project-docs-"))
    run = args.run or str(tmp / "run")
    if not args.run:
        ganforge("train", "--preset", "dcgan-digits", "--out", run, "--train.progress", "false")
    drawn = tmp / "drawn-4.png"
    drawn_four(drawn)
    ganforge("project", run, str(drawn), "--invert", "--starts", "32", "--steps", "400", "--out", str(tmp / "project"))
    ganforge("directions", run, "--method", "pca", "--out", str(tmp / "directions"), "--show", "0")
    ganforge("sweep", run, "--from-latents", str(tmp / "project"), "--directions", str(tmp / "directions"),
             "--direction", str(args.direction), "--steps", "7", "--range", "3", "--out", str(tmp / "edit"))
    figure(run, drawn, tmp, args.direction)
    print(f"wrote {OUT}")


def figure(run: str, drawn: Path, tmp: Path, k: int) -> None:
    import torch

    import ganforge
    from ganforge import viz

    with np.load(tmp / "project" / "reconstructions.npz") as f:
        target, recon = f["targets"][0], f["images"][0]
    with np.load(tmp / "edit.latents.npz") as f:
        z, offsets = torch.from_numpy(f["z"]), f["offsets"]
    g = ganforge.load(run)
    walk = viz.to_uint8(g(z))
    side = target.shape[0]
    photo = np.asarray(Image.open(drawn).convert("L").resize((side * 200 // 240, side)))[..., None]
    photo = np.pad(photo, ((0, 0), (0, side - photo.shape[1]), (0, 0)), constant_values=255)
    cells = [[photo, 255 - target, target, recon, *walk]]
    labels = ["drawn", "fitted", "inverted", "projection", *[f"{a:+.0f}" for a in offsets]]
    viz.tile_figure(cells, OUT, col_labels=labels,
                    title=f"a drawn 4, its projection into dcgan-digits, and an edit along pca direction {k} "
                          "(offsets; 0 is the projection)")


if __name__ == "__main__":
    main()
