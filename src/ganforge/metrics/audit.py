"""The memorization audit: are generated images copies of training images?

For N generated samples, the nearest training image is found exactly (neighbours.knn), in
pixel space (the images' pixels in [-1, 1]) and in feature space (an extractor's features).
Alone, those distances mean little: a good generator's samples are as close to the
training set as fresh real images are. So the same search is run for held-out real images
(the test split; for a folder run, ``heldout=PATH``, a folder of fresh photos the generator never
saw; else a random 10% of the training set, left out of the search), and their
nearest-training distances set the scale.

The rule: a distance alone is fooled by blur. A blurred or washed-out sample is near many
smooth training images at once, closer to them than a sharp fresh photo is, without copying any
of them. So each image's distance to its nearest training image is divided by its mean distance
to the next ``NEIGHBOURS`` (the calibrated distance of Carlini et al. 2023, "Extracting training
data from diffusion models"): near 0 for a copy of one training image, even a blurred copy, and
near 1 for an image no closer to one training image than to the rest. In each space the
threshold is the ``quantile`` (default 1%) quantile of the held-out images' ratios; a generated
sample is *flagged* when its ratio is below it in pixel space or in feature space. The
memorization score is the fraction flagged; for comparison, the same rule flags about 1-2% of
fresh real images (``expected_for_fresh_samples``, measured on the held-out set itself). A score
well above that says the generator reproduces training images; look at ``pairs.png``. The plain
nearest distances are reported beside the ratios.

Outputs (in ``out``): audit.json (the summary), distances.png (the ratios' distributions,
thresholds marked), pairs.png (the most suspect generated/training pairs, lowest ratios first).
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from .. import runs
from ..errors import ConfigError
from . import features as feats
from .neighbours import knn

QUANTILE = 0.01
NEIGHBOURS = 10  # a nearest distance is compared with the mean distance to the next ones
PAIRS = 16
HELDOUT_FRACTION = 0.1


def flatten_pixels(images) -> torch.Tensor:
    """uint8 or [-1, 1] float images → (N, C·H·W) float32 in [-1, 1]."""
    return feats.to_float(images).reshape(len(images), -1)


def memorization(gen: dict[str, torch.Tensor], train: dict[str, torch.Tensor], heldout: dict | None = None,
                 quantile: float = QUANTILE, heldout_distances: dict[str, np.ndarray] | None = None) -> dict:
    """The audit's numbers, given each set in each space: ``{"pixels": (N, D), "features": (N, D')}``.

    The held-out images' nearest-training distances and ratios are computed from ``heldout`` or
    given as ``heldout_distances`` (``nearest_distances``' output; they do not depend on the
    generator: ``audit`` caches them). Returns per space the generated samples' nearest-training
    distances, ratios and indices, the held-out ones, the threshold on the ratio and the flags,
    and the combined score.
    """
    if not 0 < quantile < 1:
        raise ConfigError(f"quantile = {quantile}: must be in (0, 1)")
    if heldout_distances is None:
        heldout_distances = nearest_distances(heldout, train)
    spaces = {}
    for space in gen:
        d_gen, r_gen, i_gen = _nearest(gen[space], train[space])
        d_held, r_held = np.asarray(heldout_distances[space]), np.asarray(heldout_distances[space + ".ratio"])
        threshold = float(np.quantile(r_held, quantile))
        spaces[space] = {"gen": d_gen, "ratio": r_gen, "index": i_gen, "heldout": d_held, "heldout_ratio": r_held,
                         "threshold": threshold, "flagged": r_gen < threshold, "heldout_flagged": r_held < threshold}
    flagged = np.logical_or.reduce([s["flagged"] for s in spaces.values()])
    held = np.logical_or.reduce([s["heldout_flagged"] for s in spaces.values()])
    return {"spaces": spaces, "flagged": flagged, "score": float(flagged.mean()), "expected": float(held.mean())}


def nearest_distances(query: dict[str, torch.Tensor], train: dict[str, torch.Tensor]) -> dict[str, np.ndarray]:
    """Per space, ``space``: each query's distance to its nearest training image, and
    ``space.ratio``: that distance over its mean distance to the next NEIGHBOURS."""
    out = {}
    for space, q in query.items():
        out[space], out[space + ".ratio"], _ = _nearest(q, train[space])
    return out


def _nearest(query: torch.Tensor, train: torch.Tensor) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(nearest distance, its ratio to the mean distance to the next NEIGHBOURS, nearest index).
    With a single training image there is nothing to compare with: the ratio is 1."""
    d, i = knn(query, train, k=min(NEIGHBOURS + 1, len(train)))
    d = d.numpy()
    rest = d[:, 1:].mean(1) if d.shape[1] > 1 else d[:, 0]
    ratio = np.divide(d[:, 0], rest, out=np.ones_like(rest), where=rest > 0)
    return d[:, 0], np.where(d[:, 0] == 0, 0.0, ratio), i[:, 0].numpy()


def _summary(d: np.ndarray) -> dict:
    q = np.quantile(d, [0.0, 0.01, 0.05, 0.5, 0.95, 1.0])
    return {"min": float(q[0]), "p1": float(q[1]), "p5": float(q[2]), "median": float(q[3]), "p95": float(q[4]),
            "max": float(q[5]), "mean": float(d.mean())}


def audit(generator, dataset=None, n: int = 10000, features: str = "auto", seed: int = 0, quantile: float = QUANTILE,
          out: str | Path | None = None, weights: str | Path | None = None, batch_size: int = 500,
          heldout: str | Path | None = None) -> dict:
    """Run the audit on a Generator (``ganforge.audit`` also takes a checkpoint path) against its training data.

    dataset: a DataConfig (default: the generator's ``cfg.data``); the held-out images are its
    test split when it has one. heldout: for a ``folder`` dataset, a folder of fresh photos the
    generator never saw (built as the training folder is); the whole training set is then
    searched. Returns the JSON summary; writes the files into ``out``
    (default RUN_DIR/audit) when ``out`` is not False.
    """
    from .. import data
    from ..data.base import Source
    from .evaluate import _version, content_hash, extractor_for, take

    if generator.info.kind != "image":
        raise ConfigError("the memorization audit compares images; a 2-D toy has no training images to copy")
    if isinstance(dataset, Source):
        raise ConfigError("audit: pass a DataConfig (it needs the training split and a held-out one), not a Source")
    cfg = generator.cfg.data if dataset is None else dataset
    train_src = data.build(dataclasses.replace(cfg, split="train"))
    if tuple(train_src.info.shape) != tuple(generator.info.shape):
        raise ConfigError(f"the data {tuple(train_src.info.shape)} does not match the generator's images {tuple(generator.info.shape)}")
    held_src, held_images, train_idx, heldout_desc = _heldout(cfg, train_src, n, seed, heldout)

    ex = extractor_for(features, train_src.info, train_src, weights)
    # Generated samples, quantized to uint8 as a saved image would be: both sides alike.
    gen_images = _generate(generator, n, seed, batch_size)
    train_images = take(train_src.images, train_idx)
    ident = [content_hash(train_src), ex.name, ex.weights_hash, ex.resize]
    train_feats = _cached("train", ident, lambda: {"features": _features(train_src.images, ex, batch_size)})["features"]
    train_sets = {"pixels": flatten_pixels(train_images), "features": torch.from_numpy(train_feats[train_idx.numpy()])}
    # The held-out side does not depend on the generator: its distances are cached with the data's.
    held = _cached("heldout", ident + ["ratio", NEIGHBOURS, heldout_desc, content_hash(held_src) if held_src is not None else None, n, seed],
                   lambda: nearest_distances({"pixels": flatten_pixels(held_images),
                                              "features": torch.from_numpy(_features(held_images, ex, batch_size))},
                                             train_sets))
    gen_sets = {"pixels": flatten_pixels(gen_images), "features": torch.from_numpy(ex.features(gen_images, batch_size))}
    m = memorization(gen_sets, train_sets, quantile=quantile, heldout_distances=held)

    closest = np.argsort(m["spaces"]["pixels"]["ratio"])[:PAIRS]  # the most suspect first
    closest_f = np.argsort(m["spaces"]["features"]["ratio"])[:PAIRS]
    protocol = {**ex.protocol(), "pixel_space": "pixels in [-1, 1] at the data's resolution (generated images quantized to uint8)",
                "seed": seed, "quantile": quantile, "dataset": cfg.name, "dataset_hash": content_hash(train_src),
                "ganforge_version": _version(), "generator_step": generator.step}
    summary = _summary_json(m, quantile, closest, train_idx, len(held_images), heldout_desc, protocol)
    if out is not False:
        _write(Path(out) if out else runs.Run(run_dir(generator)).audit, summary, m, quantile,
               gen_images, train_images, closest, closest_f)
    return summary


def _generate(generator, n: int, seed: int, batch_size: int) -> torch.Tensor:
    z, y = generator.latents(n, seed), generator.labels_for(n)
    return torch.cat([_to_uint8(generator(z[i : i + batch_size], None if y is None else y[i : i + batch_size]))
                      for i in range(0, n, batch_size)])


def _summary_json(m: dict, quantile: float, closest: np.ndarray, train_idx: torch.Tensor, n_heldout: int,
                  heldout_desc: str, protocol: dict) -> dict:
    """audit.json: the score and its rule, per space the threshold and the ratio and distance
    summaries, the most suspect pairs (training indices in the whole training split) and the protocol."""
    return {
        "rule": (f"a generated sample is flagged when its distance to the nearest training image, over its mean "
                 f"distance to the next {NEIGHBOURS}, is below the {quantile:.0%} quantile of the same ratio for "
                 f"held-out real images, in pixel space or in feature space"),
        "memorization_score": m["score"],
        "expected_for_fresh_samples": m["expected"],
        "n_flagged": int(m["flagged"].sum()),
        "n_generated": len(m["flagged"]), "n_train": int(len(train_idx)), "n_heldout": int(n_heldout),
        "heldout": heldout_desc,
        "spaces": {s: {"threshold": v["threshold"], "flagged_fraction": float(v["flagged"].mean()),
                       "ratio": {"generated": _summary(v["ratio"]), "heldout": _summary(v["heldout_ratio"])},
                       "distance": {"generated": _summary(v["gen"]), "heldout": _summary(v["heldout"])}}
                   for s, v in m["spaces"].items()},
        "closest_pairs": [{"generated": int(i), "train": int(train_idx[m["spaces"]["pixels"]["index"][i]]),
                           "pixel_distance": float(m["spaces"]["pixels"]["gen"][i]),
                           "pixel_ratio": float(m["spaces"]["pixels"]["ratio"][i]),
                           "feature_distance": float(m["spaces"]["features"]["gen"][i]),
                           "flagged": bool(m["flagged"][i])} for i in closest],
        "protocol": protocol,
    }


def _heldout(cfg, train_src, n: int, seed: int, folder: str | Path | None = None):
    """(held-out Source or None, held-out images, indices of the training images searched, a
    description): the fresh photos in ``folder`` or the test split's images, up to n of them
    (a seeded random subset); else a slice of the training set left out of the search."""
    from .. import data
    from .evaluate import has_test_split, take

    train_idx = torch.arange(len(train_src.images))
    if folder is not None or has_test_split(cfg.name):
        held_src = _heldout_folder(cfg, folder) if folder is not None else data.build(dataclasses.replace(cfg, split="test"))
        perm = torch.randperm(len(held_src.images), generator=torch.Generator().manual_seed(seed))
        held_images = take(held_src.images, perm[:n].sort().values)
        if folder is None:
            return held_src, held_images, train_idx, f"{len(held_images)} images of the test split"
        of = f" of {len(held_src.images)}" if len(held_images) < len(held_src.images) else ""
        return held_src, held_images, train_idx, f"{len(held_images)}{of} photos from {Path(folder).resolve()} (never trained on)"
    perm = torch.randperm(len(train_idx), generator=torch.Generator().manual_seed(seed))
    k = max(2, int(round(HELDOUT_FRACTION * len(train_idx))))
    return (None, take(train_src.images, perm[:k].sort().values), perm[k:].sort().values,
            f"{k} training images ({HELDOUT_FRACTION:.0%}) left out of the search (no test split; the generator did see them)")


def _heldout_folder(cfg, folder: str | Path):
    """The Source of a folder of fresh photos, built as the run's training folder is (same
    resolution, channels and layout rules); refused unless the run is a folder run and the
    folder is a folder of images apart from the training one."""
    from .. import data
    from ..errors import DataError
    from .evaluate import has_test_split

    if cfg.name != "folder":
        has = (f"{cfg.name} has a test split, which the audit uses as its held-out images" if has_test_split(cfg.name)
               else f"{cfg.name} has none: the audit leaves {HELDOUT_FRACTION:.0%} of its training images out of the search")
        raise ConfigError(f"--heldout {folder}: only a folder run can take a folder of fresh photos, and this run's "
                          f"dataset is {cfg.name}; datasets with a test split use it ({has})")
    path = Path(folder).expanduser()
    if not path.exists():
        raise ConfigError(f"--heldout {folder}: no such folder; expected a folder of fresh photos the generator never saw")
    if not path.is_dir():
        raise ConfigError(f"--heldout {folder}: is a file, not a folder; expected a folder of fresh photos")
    path, root = path.resolve(), data.data_root(cfg).resolve()
    if path == root or root in path.parents or path in root.parents:
        where = "is" if path == root else ("is inside" if root in path.parents else "holds")
        raise ConfigError(f"--heldout {folder}: {where} the training folder {root}; the held-out photos must be "
                          f"fresh ones the generator never saw, in a folder of their own")
    try:
        return data.build(dataclasses.replace(cfg, root=str(path)))
    except DataError as e:  # no images in it: the data's own words, without its leading path
        raise ConfigError(f"--heldout {folder}: {str(e).removeprefix(f'{path}: ')}") from e


def _write(out: Path, summary: dict, m: dict, quantile: float, gen_images, train_images, closest, closest_f) -> None:
    """OUT/distances.png, OUT/pairs.png and OUT/audit.json (the summary, with the files' names added)."""
    out.mkdir(parents=True, exist_ok=True)
    plot_distances(m, out / "distances.png", quantile)
    pix_idx = m["spaces"]["pixels"]["index"]
    feat_idx = m["spaces"]["features"]["index"]
    save_pairs([gen_images[closest], train_images[torch.as_tensor(pix_idx[closest])],
                gen_images[closest_f], train_images[torch.as_tensor(feat_idx[closest_f])]], out / "pairs.png")
    summary["files"] = {"summary": str(out / "audit.json"), "distances": str(out / "distances.png"),
                        "pairs": str(out / "pairs.png"),
                        "pairs_rows": "1: the generated samples nearest to one training image for their distance "
                                      "to the rest (the lowest ratios) in pixel space; 2: those "
                                      "training images; 3 and 4: the same in feature space"}
    runs.write_text(out / "audit.json", json.dumps(summary, indent=2))


def _to_uint8(x: torch.Tensor) -> torch.Tensor:
    return ((x.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def _features(images, ex, batch_size: int) -> np.ndarray:
    return np.concatenate([ex.features(torch.as_tensor(np.asarray(images[i : i + batch_size])), batch_size)
                           for i in range(0, len(images), batch_size)])


def _cached(kind: str, ident: list, compute) -> dict[str, np.ndarray]:
    """Arrays that depend on the data and the extractor only: memory, then $GANFORGE_CACHE/eval, else computed."""
    import hashlib

    from .evaluate import _atomic_savez, _real, _remember

    key = f"{kind}-" + hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:20]
    if key in _real:
        return _real[key]
    path = feats.cache_dir() / "eval" / f"{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, KeyError):
        arrays = compute()
        _atomic_savez(path, arrays)
    return _remember(_real, key, arrays)


def run_dir(generator) -> Path:
    return runs.run_of(generator.source) if generator.source else Path(".")


def plot_distances(m: dict, path: Path, quantile: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    spaces = m["spaces"]
    fig, axes = plt.subplots(1, len(spaces), figsize=(5 * len(spaces), 3.4), dpi=90)
    for ax, (name, s) in zip(np.atleast_1d(axes), spaces.items()):
        hi = float(max(s["ratio"].max(), s["heldout_ratio"].max()))
        bins = np.linspace(0, hi * 1.02 or 1, 60)
        ax.hist(s["heldout_ratio"], bins=bins, alpha=0.55, density=True, label="held-out real → train")
        ax.hist(s["ratio"], bins=bins, alpha=0.55, density=True, label="generated → train")
        ax.axvline(s["threshold"], color="k", lw=1, ls="--", label=f"{quantile:.0%} held-out quantile")
        ax.set_title(f"{name}: {s['flagged'].mean():.1%} flagged", fontsize=10)
        ax.set_xlabel(f"nearest training image's distance / mean of the next {NEIGHBOURS}")
        ax.legend(fontsize=7)
    fig.suptitle(f"memorization score {m['score']:.2%} (fresh real images: {m['expected']:.2%})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def save_pairs(rows: list[torch.Tensor], path: Path) -> None:
    """uint8 (k, C, H, W) rows → one grid PNG, a row each."""
    from .. import viz

    k = max(len(r) for r in rows)
    tiles = []
    for r in rows:
        r = r.permute(0, 2, 3, 1).numpy()
        if len(r) < k:
            r = np.concatenate([r, np.zeros((k - len(r), *r.shape[1:]), np.uint8)])
        tiles.append(r)
    images = np.concatenate(tiles)
    viz.save_image(viz.grid(images, nrow=k), path, scale=max(1, 64 // images.shape[1]))
