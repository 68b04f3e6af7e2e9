import pytest

from ganforge import assemble
from ganforge import config as C
from ganforge.errors import ConfigError


def test_defaults_are_valid_and_every_preset_validates():
    assemble.from_dict({})
    for name in C.preset_names():
        # folder presets are templates: the user names the folder.
        cfg = assemble.load(preset=name, overrides=["--data.root", "photos"] if "-folder" in name else [])
        assert cfg.description, f"preset {name} has no description"


def test_required_presets_exist():
    assert {"dcgan-digits", "gan-ring8", "mlp-mnist", "dcgan-mnist", "dcgan-fashion-mnist",
            "dcgan-cifar10", "dcgan-folder"} <= set(C.preset_names())


def test_merge_order_defaults_then_preset_then_overrides(tmp_path):
    cfg = C.load(preset="gan-ring8", overrides=["--train.steps", "7", "--optim.lr_d=0.001"])
    assert cfg.data.name == "ring8"  # from the preset
    assert cfg.train.steps == 7 and cfg.optim.lr_d == 0.001  # overrides win
    assert cfg.train.d_steps == 1 and "d_steps" not in C.preset_dict("gan-ring8")["train"]  # a default the preset leaves alone
    y = tmp_path / "c.yaml"
    y.write_text("preset: gan-ring8\ntrain: {steps: 11}\n")
    cfg = C.load(config=y, overrides=["--train.batch_size", "32"])
    assert (cfg.data.name, cfg.train.steps, cfg.train.batch_size) == ("ring8", 11, 32)


def test_override_types_are_converted():
    cfg = C.load(overrides=["--optim.lr_g", "1e-4", "--model.g_hidden", "32,64", "--train.progress", "false", "--data.root", "null"])
    assert cfg.optim.lr_g == 1e-4 and cfg.model.g_hidden == [32, 64]
    assert cfg.train.progress is False and cfg.data.root is None
    assert C.load(overrides=["--model.d_hidden", "128"]).model.d_hidden == [128]  # one layer


@pytest.mark.parametrize("args, fragment", [
    (["--train.steps", "0"], "train.steps = 0: must be > 0"),
    (["--train.batch_size", "-3"], "train.batch_size = -3: must be > 0"),
    (["--optim.lr_d", "-1e-3"], "optim.lr_d = -0.001: must be > 0"),
    (["--train.steps", "many"], "train.steps = 'many': expected an integer"),
    (["--model.g_hidden", "wide"], "model.g_hidden = 'wide': expected a list of integers (e.g. 256,512)"),
    (["--train.stepz", "5"], "did you mean 'train.steps'"),
    (["--objective.name", "nonsaturatng"], "did you mean 'nonsaturating'"),
    (["--model.family", "resnet9"], "unknown model family 'resnet9'"),
    (["--data.name", "mnistt"], "did you mean 'mnist'"),
    (["--data.resolution", "48"], "data.resolution = 48: dcgan supports 16, 28, 32"),
    (["--data.name", "ring8", "--model.family", "mlp", "--model.conditional", "concat"], "the dataset has no labels"),
    (["--data.name", "folder"], "data.root"),
    (["--train.device", "tpu"], "train.device = 'tpu'"),
])
def test_bad_values_name_the_key_and_what_is_valid(args, fragment):
    with pytest.raises(ConfigError) as e:
        assemble.load(overrides=args)
    assert fragment in str(e.value)
    assert "\n" not in str(e.value)


def test_yaml_that_does_not_parse_names_the_file_and_line(tmp_path):
    y = tmp_path / "broken.yaml"
    y.write_text("train:\n  steps: [1, 2\n")
    with pytest.raises(ConfigError, match=r"broken.yaml: not valid YAML at line"):
        C.load(config=y)


def test_folder_preset_without_a_folder_says_which_key():
    with pytest.raises(ConfigError, match="data.root: name the image folder"):
        assemble.load(preset="dcgan-folder")


def test_unknown_preset_and_missing_file():
    with pytest.raises(ConfigError, match="did you mean 'gan-ring8'"):
        C.load(preset="gan-ring")
    with pytest.raises(ConfigError, match="does not exist"):
        C.load(config="nope.yaml")


def test_config_round_trips_through_plain_data():
    cfg = C.load(preset="dcgan-mnist")
    assert C.from_dict(cfg.to_dict()) == cfg
    import yaml
    assert C.from_dict(yaml.safe_load(C.to_yaml(cfg))) == cfg


def test_every_key_has_help():
    rows = C.describe_keys()
    assert len(rows) == len(C.all_keys()) and all(h for _, _, h in rows)


def test_config_imports_nothing_above_it():
    """config is plain data: the registries import it, never the other way round. Each of the
    package's files may import its siblings and ganforge.errors, nothing else of ganforge."""
    import ast
    from pathlib import Path

    files = sorted(Path(C.__file__).parent.glob("*.py"))
    assert [f.name for f in files] == ["__init__.py", "schema.py"]
    for path in files:
        tree = ast.parse(path.read_text())
        local = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0]
        above = [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 1]
        absolute = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        absolute += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0]
        assert set(above) <= {"errors"}, (path.name, above)
        assert set(local) - set(above) <= {"schema"}, (path.name, local)
        assert not [m for m in absolute if m.split(".")[0] == "ganforge"], (path.name, absolute)


def test_help_names_every_registered_dataset_family_objective_metric_and_condition():
    """Help texts hold placeholders that ganforge.options fills from the registries, so a new
    registry entry shows up in `ganforge train --help` and the docs' option table by itself."""
    import re

    from ganforge import data, models, objectives
    from ganforge.health import CONDITIONS
    from ganforge.metrics.evaluate import METRICS
    from ganforge.options import describe_options, options_help

    registered = {"data.name": data.DATASETS.names(), "model.family": models.MODELS.names(),
                  "objective.name": objectives.OBJECTIVES.names(),
                  "train.eval_metric": [out for name in METRICS.names() for out in METRICS.get(name).outputs],
                  "health.conditions": list(CONDITIONS)}
    rows = {k: h for k, _, h in describe_options()}
    lines = {line.split()[0][2:]: line for line in options_help().splitlines()[1:]}
    for key, names in registered.items():
        assert names, key
        for name in names:
            for text in (rows[key], lines[key]):
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", text), (key, name, text)
    assert not re.search(r"\{\w+\}", options_help())  # every placeholder filled
    assert "{datasets}" in dict((k, h) for k, _, h in C.describe_keys())["data.name"]  # config alone leaves them


def test_health_conditions_are_checked_against_the_monitor_s_own():
    from ganforge.health import CONDITIONS

    toy = {"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}}
    assemble.validate(C.from_dict(C.merge(toy, {"health": {"conditions": list(CONDITIONS)}})))  # every one, new ones too
    with pytest.raises(C.ConfigError, match="health.conditions: 'latice' is not a condition; expected any of d_wins"):
        assemble.validate(C.from_dict(C.merge(toy, {"health": {"conditions": ["lattice", "latice"]}})))


def test_eval_metric_names_one_result_that_fits_the_data():
    toy = {"data": {"name": "ring8"}, "model": {"family": "mlp", "d_norm": "none"}}
    assemble.validate(C.from_dict(C.merge(toy, {"train": {"eval_metric": "high_quality"}})))  # a toy knows its modes
    for group, results in (("toy", "modes, high_quality, reverse_kl"), ("pr", "precision, recall")):
        with pytest.raises(C.ConfigError, match=f"'{group}' is a group of results; name one of them: {results}"):
            assemble.validate(C.from_dict(C.merge(toy, {"train": {"eval_metric": group}})))
