"""The points dataset: a CSV of x,y rows (what the playground's drawn and uploaded points train on)."""
import pytest
import torch

from ganforge import config as C
from ganforge import assemble, data
from ganforge.errors import ConfigError, DataError


def test_points_csv_builds_a_source(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("# my points\nx,y\n0,0\n4,0\n\n0,-2\n")
    cfg = C.from_dict({"data": {"name": "points", "root": str(f)}, "model": {"family": "mlp"}})
    src = data.build(cfg.data, seed=0)
    assert src.info.kind == "points" and src.info.centers is None and src.info.std == pytest.approx(0.04)
    x, y = next(src.batches(512, torch.device("cpu")))
    pts = x * src.info.point_scale
    assert y is None and x.abs().max() <= 1
    near = torch.cdist(pts, torch.tensor([[0.0, 0.0], [4.0, 0.0], [0.0, -2.0]])).min(1).values
    assert (near < 0.25).all()  # every draw is one of the points, moved by 1% of the extent


@pytest.mark.parametrize("text, words", [
    ("x,y\n1,2\n3\n", "line 3: expected two numbers"),
    ("1,2\n1,nan\n", "must be finite"),
    ("x,y\n1,2\n", "holds 1 points"),
    ("a,b\nc,d\n", "line 2"),
])
def test_bad_points_csv_names_the_problem(tmp_path, text, words):
    f = tmp_path / "p.csv"
    f.write_text(text)
    with pytest.raises(DataError, match=words):
        data.build(C.from_dict({"data": {"name": "points", "root": str(f)}, "model": {"family": "mlp"}}).data)


def test_points_needs_a_file(tmp_path):
    with pytest.raises(ConfigError, match="data.root: name the CSV file"):
        assemble.from_dict({"data": {"name": "points"}, "model": {"family": "mlp"}})
    with pytest.raises(DataError, match="name a CSV file"):
        data.build(C.from_dict({"data": {"name": "points", "root": str(tmp_path / "no.csv")}, "model": {"family": "mlp"}}).data)
