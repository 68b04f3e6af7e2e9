"""Every preset validates and is named <objective>-<dataset>; every objective has toy presets;
the papers' hyperparameters are where the presets say; and one toy preset visibly learns.

The full proof that each objective learns is benchmarks/objectives.py; this file stays fast.
"""
import pytest
import torch

import ganforge
from ganforge import assemble
from ganforge import config as C
from ganforge.metrics import toy_scores
from ganforge.objectives import OBJECTIVES

# Name prefixes that are not an objective's name, and what they promise about the config.
PREFIXES = {
    "gan": lambda c: c.objective.name == "nonsaturating",
    "dcgan": lambda c: c.model.family == "dcgan" and c.objective.name == "nonsaturating",
    "mlp": lambda c: c.model.family == "mlp" and c.objective.name == "nonsaturating",
    "hinge-sn": lambda c: c.objective.name == "hinge" and c.model.spectral_norm,
    "cgan": lambda c: c.model.conditional == "concat",
    "acgan": lambda c: c.model.conditional == "acgan",
    "projection": lambda c: c.model.conditional == "projection" and c.objective.name == "hinge" and c.model.spectral_norm,
    "sngan": lambda c: c.model.family == "resnet" and c.objective.name == "hinge" and c.model.spectral_norm,
    "sngan-projection": lambda c: c.model.family == "resnet" and c.model.conditional == "projection" and c.model.spectral_norm,
    "unpool": lambda c: c.model.family == "unpool",
    "fc": lambda c: c.model.family == "fc" and c.model.d_hidden[0] == 8192,
    "fc-half": lambda c: c.model.family == "fc" and c.model.d_hidden[0] == 4096,
    "stacked": lambda c: c.model.family == "upsample" and c.model.stage1 != "",
    "fastgan": lambda c: c.model.family == "fastgan",
    "fastgan-few": lambda c: c.model.family == "fastgan" and c.objective.ada and c.objective.ada_kimg <= 10 and c.train.batch_size <= 16,
}
FAMILY_PREFIXES = ("sngan", "sngan-projection", "unpool", "fc", "fc-half", "stacked")
TOYS = ("ring8", "grid25")


def load(name: str) -> C.Config:
    # dcgan-folder is a template: the user names the folder.
    return assemble.load(preset=name, overrides=["--data.root", "photos"] if "-folder" in name else [])


def toy_preset(objective: str, toy: str) -> str:
    return f"{'gan' if objective == 'nonsaturating' else objective}-{toy}"


@pytest.mark.parametrize("name", C.preset_names())
def test_preset_validates_and_says_what_it_is_in_one_line(name):
    cfg = load(name)
    assert cfg.description and "\n" not in cfg.description, f"{name}: description must be one line"


@pytest.mark.parametrize("name", C.preset_names())
def test_preset_is_named_objective_dash_dataset(name):
    cfg = load(name)
    stem = name.removesuffix(f"-{cfg.data.resolution}")  # dcgan-folder-256: a resolution may follow the dataset
    assert stem.endswith("-" + cfg.data.name), f"{name}: should end with its dataset, -{cfg.data.name}[-RESOLUTION]"
    prefix = stem[: -len(cfg.data.name) - 1]
    if prefix in OBJECTIVES.names():
        assert cfg.objective.name == prefix, f"{name} trains objective {cfg.objective.name!r}"
    else:
        assert prefix in PREFIXES, f"{name}: {prefix!r} is neither an objective nor a known prefix"
        assert PREFIXES[prefix](cfg), f"{name}: the config does not match its name's prefix {prefix!r}"


@pytest.mark.parametrize("objective", OBJECTIVES.names())
def test_every_objective_has_toy_presets_that_follow_the_toy_rules(objective):
    names = set(C.preset_names())
    for toy in TOYS:
        name = toy_preset(objective, toy)
        assert name in names, f"objective {objective!r} has no preset {name}"
        m = load(name).model
        assert (m.family, m.init, m.dropout, m.d_norm) == ("mlp", "default", 0.0, "none"), name


@pytest.mark.parametrize("dataset", ["mnist", "cifar10"])
def test_every_objective_has_image_presets(dataset):
    names = set(C.preset_names())
    for objective in OBJECTIVES.names():
        if objective == "nonsaturating":
            continue  # dcgan-<dataset>
        name = f"{'hinge-sn' if objective == 'hinge' else objective}-{dataset}"
        assert name in names, f"objective {objective!r} has no preset {name}"
    for name in names:
        cfg = load(name)
        if cfg.data.name == dataset and name != "mlp-mnist" and not name.startswith(FAMILY_PREFIXES):
            assert cfg.model.family == "dcgan" and cfg.data.resolution == {"mnist": 28, "cifar10": 32}[dataset]
        if cfg.data.name == "cifar10" and name != "dcgan-cifar10":
            assert cfg.data.split == "train", name


def test_conditional_presets_exist_and_are_conditional():
    for name in ("cgan-mnist", "cgan-fashion-mnist", "acgan-mnist", "acgan-cifar10", "projection-cifar10"):
        assert load(name).model.conditional != "none", name


def test_image_presets_use_their_papers_hyperparameters():
    for name in ("wgan-mnist", "wgan-cifar10"):
        c = load(name)
        assert (c.optim.name, c.optim.lr_g, c.optim.lr_d, c.train.d_steps, c.objective.clip) == ("rmsprop", 5e-5, 5e-5, 5, 0.01)
    for name in ("wgan-gp-mnist", "wgan-gp-cifar10"):
        c = load(name)
        assert (c.optim.name, c.optim.lr_g, c.optim.lr_d, c.optim.beta1, c.optim.beta2) == ("adam", 1e-4, 1e-4, 0.0, 0.9)
        assert (c.train.d_steps, c.objective.gp_weight, c.model.d_norm) == (5, 10.0, "layer")
    c = load("hinge-sn-mnist")  # TTUR
    assert (c.optim.lr_d, c.optim.lr_g, c.optim.beta1, c.optim.beta2, c.model.spectral_norm) == (4e-4, 1e-4, 0.0, 0.9, True)
    for name in ("hinge-sn-cifar10", "projection-cifar10"):  # SNGAN's n_dis 5
        c = load(name)
        assert (c.optim.lr_d, c.optim.lr_g, c.optim.beta1, c.optim.beta2, c.train.d_steps) == (2e-4, 2e-4, 0.0, 0.9, 5)
    for name in ("lsgan-mnist", "lsgan-cifar10"):
        c = load(name)
        assert (c.optim.lr_g, c.optim.lr_d, c.optim.beta1) == (2e-4, 2e-4, 0.5)


def test_a_toy_preset_learns(tmp_path):
    """Smoke test: a shortened gan-ring8 moves its samples from one blob onto the ring's modes."""
    over = {"train": {"steps": 1500, "ema": 0.0, "progress": False, "tensorboard": False, "device": "cpu",
                      "sample_every": 1500, "ckpt_every": 1500, "n_samples": 100}}
    cfg = C.load(preset="gan-ring8", overrides=over)
    run = ganforge.train(cfg, out=tmp_path / "run")
    g = ganforge.load(run)
    after = toy_scores(g.sample(2500, seed=0), g.info.centers, g.info.std)
    init = ganforge.train(C.load(preset="gan-ring8", overrides={**over, "train": {**over["train"], "steps": 1}}),
                          out=tmp_path / "init")
    before = ganforge.load(init).sample(2500, seed=0)
    dist = lambda x: torch.cdist(x.double(), torch.tensor(g.info.centers).double()).min(1).values.median()
    assert dist(g.sample(2500, seed=0)) < dist(before) / 5
    assert after.modes >= 6 and after.high_quality > 0.1, str(after)
