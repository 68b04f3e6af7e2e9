"""``ganforge.evaluate(generator, dataset, metrics=[...])``: scores with the protocol that made them.

    results = evaluate(ganforge.load("runs/mnist"), metrics=["fid", "kid", "pr"], n=10000)
    # [{"metric": "fid", "value": 3.1, "protocol": {"extractor": "classifier", "weights_hash": ..., ...}}, ...]

Every result carries its ``protocol``: the extractor with its weights hash and resize rule,
N real and N generated, the reference split, the seed, the dataset's content hash and the
ganforge version. Two numbers are comparable only when their protocols agree.

Real-data features (with their mean and covariance, and their k-NN radii for
precision/recall/density/coverage) are cached on disk under $GANFORGE_CACHE/eval, keyed by the
dataset's content hash, the extractor and its weights hash, N and the seed, and kept in memory
for the process, so periodic evaluation during training pays for them once.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from ..config import DataConfig
from .. import runs
from ..errors import ConfigError
from ..registry import Registry, unknown_name_message
from ..version import __version__
from . import features as feats
from . import scores
from .toy import toy_scores

TOY_SAMPLES, TOY_N_STD = 2500, 3.0  # the VEEGAN/PacGAN protocol
LOWER_IS_BETTER = frozenset({"fid", "kid", "reverse_kl"})


# ---------------------------------------------------------------------------------- metrics

@dataclass
class Inputs:
    """What the metrics read: real and generated features, generated logits, toy points."""

    real: np.ndarray | None = None
    real_stats: tuple[np.ndarray, np.ndarray] | None = None
    real_radii: Callable[[], dict] | None = None  # computed (and cached) on first use
    gen: np.ndarray | None = None
    gen_logits: np.ndarray | None = None
    points: np.ndarray | None = None  # toy samples in data coordinates
    info: object = None
    seed: int = 0


@dataclass(frozen=True)
class Metric:
    outputs: tuple[str, ...]  # result names; each is also accepted as a name for the metric
    compute: Callable[[Inputs], list[dict]]
    uses: str = "features"  # "features" (real and generated), "logits" (generated), or "points" (toys)


METRICS: Registry[Metric] = Registry("metric")


def _fid(x: Inputs):
    return [{"metric": "fid", "value": scores.fid(x.real_stats, x.gen)}]


def _kid(x: Inputs):
    mean, std, size = scores.kid(x.real, x.gen, seed=x.seed)
    return [{"metric": "kid", "value": mean, "std": std,
             "params": {"subsets": scores.KID_SUBSETS, "subset_size": size, "kernel": "(x·y/d + 1)^3", "estimator": "unbiased"}}]


def _is(x: Inputs):
    mean, std = scores.inception_score(x.gen_logits, seed=x.seed)
    return [{"metric": "is", "value": mean, "std": std, "params": {"splits": scores.IS_SPLITS}}]


def _pr(x: Inputs):
    s = scores.manifold_scores(x.real, x.gen, x.real_radii())
    return [{"metric": m, "value": s[m], "params": {"k": scores.PR_K}} for m in ("precision", "recall")]


def _dc(x: Inputs):
    s = scores.manifold_scores(x.real, x.gen, x.real_radii())
    return [{"metric": m, "value": s[m], "params": {"k": scores.DC_K}} for m in ("density", "coverage")]


def _toy(x: Inputs):
    s = toy_scores(torch.as_tensor(x.points), x.info.centers, x.info.std, TOY_N_STD)
    params = {"n_std": TOY_N_STD, "total_modes": s.total_modes, "std": x.info.std}
    return [{"metric": "modes", "value": s.modes, "params": params},
            {"metric": "high_quality", "value": s.high_quality, "params": params},
            {"metric": "reverse_kl", "value": s.reverse_kl, "params": params}]


METRICS.register("fid")(Metric(("fid",), _fid))
METRICS.register("kid")(Metric(("kid",), _kid))
METRICS.register("is")(Metric(("is",), _is, uses="logits"))
METRICS.register("pr")(Metric(("precision", "recall"), _pr))
METRICS.register("dc")(Metric(("density", "coverage"), _dc))
METRICS.register("toy")(Metric(("modes", "high_quality", "reverse_kl"), _toy, uses="points"))


def metric_names() -> list[str]:
    """Every accepted name: the groups (fid, kid, is, pr, dc, toy) and each result they give."""
    return sorted(set(METRICS.names()) | {o for n in METRICS.names() for o in METRICS.get(n).outputs})


def resolve_metrics(names, info, features: str = "auto") -> list[str]:
    """Metric names (groups or their results, a list or "fid,kid") → groups, in order, checked
    against the data (``info``: a DataInfo, e.g. ``data.describe(cfg.data)``) and the extractor:
    call it to validate a config before training."""
    if names is None:  # every metric that applies
        logits = info.kind == "image" and (features == "inception" or
                                           (features in ("auto", "classifier") and (info.num_classes or 0) >= 2))
        names = (["toy"] if info.kind == "points" and info.centers else []) + ["fid", "kid", "pr", "dc"] + (["is"] if logits else [])
    if isinstance(names, str):
        names = [n for n in names.split(",") if n.strip()]
    groups: list[str] = []
    for name in (n.strip().lower() for n in names):
        group = name if name in METRICS else next((g for g in METRICS.names() if name in METRICS.get(g).outputs), None)
        if group is None:
            raise ConfigError(unknown_name_message("metric", name, metric_names()))
        uses = METRICS.get(group).uses
        if uses == "points" and (info.kind != "points" or not info.centers):
            raise ConfigError(f"metric {name!r}: the mode scores need a 2-D toy with mode centres (ring8, grid25)")
        if uses == "logits" and (features == "pixels" or info.kind != "image"
                              or (features in ("auto", "classifier") and info.num_classes == 0)):
            raise ConfigError(f"metric {name!r}: the Inception Score needs class logits: labelled images with "
                              "features auto or classifier, or features inception")
        if group not in groups:
            groups.append(group)
    if not groups:
        raise ConfigError("no metrics named (valid: " + ", ".join(metric_names()) + ")")
    return groups


def best_value(results: list[dict], metric: str) -> float | None:
    """The value of ``metric`` in a list of results (None if absent), e.g. to keep a best checkpoint."""
    return next((float(r["value"]) for r in results if r["metric"] == metric), None)


def is_better(metric: str, new: float, old: float | None) -> bool:
    """Whether ``new`` beats ``old`` (None: nothing yet) for ``metric``: the one comparison that
    training's best.pt and the dashboard's best value both use."""
    return old is None or (new < old if metric in LOWER_IS_BETTER else new > old)


# ----------------------------------------------------------------------------------- data

_hashes: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def content_hash(source) -> str:
    """SHA-256 (16 hex digits) of a source's content: image bytes, shape and labels; for 2-D
    toys, their definition (mode centres, std, scale). Memoized per source object."""
    if source in _hashes:
        return _hashes[source]
    h = hashlib.sha256()
    info = source.info
    images = getattr(source, "images", None)
    if images is not None:
        h.update(f"images {tuple(images.shape)} {images.dtype}".encode())
        step = max(1, (64 << 20) // max(1, int(np.prod(images.shape[1:]))))
        for i in range(0, len(images), step):  # chunks: memory-mapped sets larger than memory
            h.update(np.ascontiguousarray(np.asarray(images[i : i + step])).tobytes())
        labels = getattr(source, "labels", None)
        if labels is not None:
            h.update(np.ascontiguousarray(np.asarray(labels, dtype=np.int64)).tobytes())
    else:
        h.update(json.dumps(info.to_dict(), sort_keys=True).encode())
    _hashes[source] = h.hexdigest()[:16]
    return _hashes[source]


def has_test_split(name: str) -> bool:
    from ..data import DATASETS
    from ..data.arrays import SPLITS

    return DATASETS.get(name).kind == "points" or "test" in SPLITS.get(name, ())


def sources(generator, dataset, reference: str):
    """(reference source, the training source or a function that builds it, dataset name)."""
    from .. import data
    from ..data.base import Source

    if reference not in ("train", "test"):
        raise ConfigError(f"reference = {reference!r}: must be train or test")
    if isinstance(dataset, Source):
        return dataset, dataset, generator.cfg.data.name
    cfg = generator.cfg.data if dataset is None else dataset
    if not isinstance(cfg, DataConfig):
        raise ConfigError(f"dataset must be a Source, a DataConfig or None, got {type(dataset).__name__}")
    if reference == "test" and not has_test_split(cfg.name):
        raise ConfigError(f"--reference test: {cfg.name} has no test split; use --reference train")
    if cfg.split not in ("train", "test"):  # stl10's unlabeled splits: the reference is train or test
        cfg = dataclasses.replace(cfg, split="train")
    is_toy = data.DATASETS.get(cfg.name).kind == "points"
    if reference == "train" or is_toy:
        ref = data.build(dataclasses.replace(cfg, split="train"))
        return ref, ref, cfg.name
    ref = data.build(dataclasses.replace(cfg, split="test"))
    built: list = []

    def train():  # built only if an extractor needs it (the classifier trains on it)
        if not built:
            built.append(data.build(dataclasses.replace(cfg, split="train")))
        return built[0]

    return ref, train, cfg.name


def real_batches(source, n: int, seed: int, batch: int, reference: str = "train"):
    """n real samples, in batches: uint8 images (the same rows ``real_samples(n, seed)`` picks)
    or toy points in data coordinates (test: a different seed, so fresh draws)."""
    images = getattr(source, "images", None)
    if images is None:
        pts, _ = source.real_samples(n, seed if reference == "train" else seed + 1)
        pts = pts * source.info.point_scale
        for i in range(0, n, batch):
            yield pts[i : i + batch]
        return
    idx = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]
    for i in range(0, len(idx), batch):
        yield take(images, idx[i : i + batch])


def take(images, idx: torch.Tensor) -> torch.Tensor:
    """Rows of a uint8 tensor or memory-mapped array (read in sorted order, returned as asked)."""
    if isinstance(images, torch.Tensor):
        return images[idx]
    order = idx.sort()
    rows = torch.from_numpy(np.ascontiguousarray(images[order.values.numpy()]))
    return rows[order.indices.argsort()]


# -------------------------------------------------------------------------- extractors, cache

_extractors: "OrderedDict[tuple, feats.Extractor]" = OrderedDict()
_real: "OrderedDict[str, dict]" = OrderedDict()


def _remember(store: OrderedDict, key, value, keep: int = 4):
    store[key] = value
    store.move_to_end(key)
    while len(store) > keep:
        store.popitem(last=False)
    return value


def extractor_for(name: str, info, train, weights=None) -> feats.Extractor:
    """The extractor ``name`` (or ``auto``) for data described by ``info``, built once per process
    for a (name, training data, weights file) triple. ``train`` is the training Source, or a
    function that builds it (called only when the classifier needs it)."""
    name = feats.auto_name(info) if name == "auto" else name
    src = (train() if callable(train) else train) if name == "classifier" else None
    key = (name, content_hash(src) if src is not None else tuple(info.shape), str(weights) if weights else None)
    if key not in _extractors:
        _remember(_extractors, key, feats.build(name, info, train=src, weights=weights))
    return _extractors[key]


def _cache_path(key: str) -> Path:
    return feats.cache_dir() / "eval" / f"real-{key}.npz"


def real_features(source, extractor: feats.Extractor, n: int, seed: int, reference: str = "train",
                  batch_size: int | None = None) -> tuple[dict, bool]:
    """Features of n real samples with their mean and covariance: from memory, the disk cache,
    or computed (and cached). Returns (entry, whether it came from a cache)."""
    key = hashlib.sha256(json.dumps([content_hash(source), extractor.name, extractor.weights_hash, extractor.resize,
                                     n, seed, reference if source.info.kind == "points" else ""]).encode()).hexdigest()[:24]
    if key in _real:
        return _real[key], True
    path = _cache_path(key)
    if path.is_file():
        try:
            with np.load(path, allow_pickle=False) as z:
                entry = {k: z[k] for k in z.files}
            return _remember(_real, key, {**entry, "key": key, "path": path}), True
        except (OSError, ValueError, KeyError):
            pass  # a damaged cache file is recomputed and replaced
    bs = batch_size or extractor.batch_size
    f = np.concatenate([extractor.features(b, bs) for b in real_batches(source, n, seed, bs, reference)])
    mu, sigma = scores.stats(f)
    entry = {"features": f.astype(np.float32), "mu": mu, "sigma": sigma}
    _atomic_savez(path, entry)
    return _remember(_real, key, {**entry, "key": key, "path": path}), False


def real_radii(entry: dict) -> dict[int, np.ndarray]:
    """The real set's k-NN radii (k = 3 and 5), computed once per cache entry and stored beside it."""
    if "radii3" not in entry:
        path = entry["path"].with_name(entry["path"].stem + "-radii.npz")
        try:
            with np.load(path, allow_pickle=False) as z:
                entry["radii3"], entry["radii5"] = z["radii3"], z["radii5"]
        except (OSError, ValueError, KeyError):
            r = scores.real_radii(entry["features"])
            entry["radii3"], entry["radii5"] = r[scores.PR_K], r[scores.DC_K]
            _atomic_savez(path, {"radii3": entry["radii3"], "radii5": entry["radii5"]})
    return {scores.PR_K: entry["radii3"], scores.DC_K: entry["radii5"]}


def _atomic_savez(path: Path, arrays: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    runs.atomic_write(path, lambda f: np.savez(f, **arrays))


def evaluate(generator, dataset=None, metrics=None, n: int = 10000, features: str = "auto", reference: str = "train",
             seed: int = 0, batch_size: int | None = None, weights: str | Path | None = None) -> list[dict]:
    """Score a generator against real data; every result dict carries its protocol.

    generator: a ``Generator`` (``ganforge.load(path)``; ``ganforge.evaluate`` also takes the path).
    dataset: a Source (used as it is: the reference, and the classifier's training data),
        a DataConfig, or None for the generator's own ``cfg.data``; with a config, the
        reference is its ``reference`` split and the classifier trains on its train split.
    metrics: groups fid, kid, is, pr (precision, recall), dc (density, coverage), toy (modes,
        high_quality, reverse_kl), or any of their result names; default: every one that applies.
    n: generated samples (and real ones, up to the reference's size). The toy scores always use
        2,500 samples (the PacGAN protocol).
    features: auto (toys: the points; labelled images: classifier; others: pixels), pixels,
        classifier or inception (``weights``: its weights file, else the cache or a download).
    seed: the generator's latents and the real subset are drawn from it.
    """
    if n < 2:
        raise ConfigError(f"n = {n}: evaluation needs at least 2 samples")
    info = generator.info
    groups = resolve_metrics(metrics, info, features)
    ref, train, dataset_name = sources(generator, dataset, reference)
    if ref.info.kind != info.kind or (info.kind == "image" and tuple(ref.info.shape) != tuple(info.shape)):
        raise ConfigError(f"the data ({ref.info.kind} {tuple(ref.info.shape)}) does not match what the generator "
                          f"makes ({info.kind} {tuple(info.shape)})")
    base = {"reference": reference, "seed": seed, "dataset": dataset_name, "dataset_hash": content_hash(ref),
            "ganforge_version": _version(), "generator_step": generator.step}

    results: list[dict] = []
    for g in (g for g in groups if METRICS.get(g).uses == "points"):
        pts = generator.sample(TOY_SAMPLES, seed=seed).numpy()
        proto = {"extractor": "points", "weights_hash": None, "resize": "none", "n_real": 0, "n_generated": TOY_SAMPLES}
        results += _with_protocol(METRICS.get(g).compute(Inputs(points=pts, info=info)), {**proto, **base})
    feature_groups = [g for g in groups if METRICS.get(g).uses != "points"]
    if feature_groups:
        ex = extractor_for(features, info, train, weights).to(generator.device)
        if not ex.has_logits and any(METRICS.get(g).uses == "logits" for g in feature_groups):
            raise ConfigError(f"metric is: the {ex.name} extractor has no class logits; use --features classifier "
                              "(labelled data) or --features inception")
        n_real = n if info.kind == "points" else min(n, len(ref.images))
        entry, _ = real_features(ref, ex, n_real, seed, reference, batch_size)
        gen, logits = generated_features(generator, ex, n, seed, batch_size)
        x = Inputs(real=entry["features"], real_stats=(entry["mu"], entry["sigma"]), real_radii=lambda: real_radii(entry),
                   gen=gen, gen_logits=logits, info=info, seed=seed)
        proto = {**ex.protocol(), "n_real": n_real, "n_generated": n}
        for g in feature_groups:
            results += _with_protocol(METRICS.get(g).compute(x), {**proto, **base})
    return results


@torch.no_grad()
def generated_features(generator, extractor: feats.Extractor, n: int, seed: int, batch_size: int | None = None):
    """Features (and logits) of n samples drawn with ``seed``, generated and extracted in
    batches, so no more than a batch of images is ever held."""
    z = generator.latents(n, seed)
    y = generator.labels_for(n)
    bs = batch_size or 500
    out_f, out_l = [], []
    for i in range(0, n, bs):
        f, lg = extractor.run(generator(z[i : i + bs], None if y is None else y[i : i + bs], batch_size=bs), bs)
        out_f.append(f)
        if lg is not None:
            out_l.append(lg)
    return np.concatenate(out_f), (np.concatenate(out_l) if out_l else None)


def _with_protocol(rows: list[dict], protocol: dict) -> list[dict]:
    out = []
    for r in rows:
        params = r.pop("params", None)
        out.append({**r, "protocol": {**protocol, **({"params": params} if params else {})}})
    return out


def _version() -> str:
    return __version__


def append_results(run_dir: str | Path, results: list[dict], step: int) -> Path:
    """Append ``{"step": step, "time": ..., "eval": results}`` as one line of RUN/metrics.jsonl."""
    run = runs.Run(run_dir, writes=True)
    run.append(run.metrics, {"step": int(step), "time": round(time.time(), 3), "eval": results})
    return run.metrics
