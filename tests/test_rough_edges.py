"""What a new user meets first: runs that cannot start, --out reuse, dict overrides, warnings, small folders."""
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import ganforge
from ganforge.cli import main
from ganforge.errors import ConfigError

TINY = ["--preset", "dcgan-folder", "--data.resolution", "16", "--model.ngf", "4", "--model.ndf", "4", "--model.nz", "8",
        "--train.steps", "2", "--train.log_every", "2", "--train.sample_every", "2", "--train.ckpt_every", "2",
        "--train.n_samples", "4", "--train.progress", "false", "--train.tensorboard", "false", "--train.device", "cpu"]


def folder(path, n, broken=0):
    path.mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 256, (20, 20, 3), dtype=np.uint8)).save(path / f"{i}.png")
    for i in range(broken):
        (path / f"broken{i}.png").write_bytes(b"\x89PNG\r\n\x1a\n not an image")
    return path


def test_a_run_that_cannot_start_leaves_nothing_and_an_explicit_out_is_never_reused(tmp_path, capsys):
    data, out = folder(tmp_path / "images", 3), tmp_path / "run"
    # More than the folder holds: an error that names the batch size that works, and no X/ left behind.
    assert main(["train", *TINY, "--data.root", str(data), "--train.batch_size", "8", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "batch size 8 is larger than the dataset (3 images)" in err and "--train.batch_size 3" in err
    assert not out.exists()
    # A folder with no images at all: also nothing behind.
    assert main(["train", *TINY, "--data.root", str(folder(tmp_path / "empty", 0)), "--out", str(out)]) == 2
    assert not out.exists()
    # The corrected command writes X itself, not X-2.
    assert main(["train", *TINY, "--data.root", str(data), "--train.batch_size", "3", "--out", str(out)]) == 0
    assert (out / "config.yaml").exists() and not (tmp_path / "run-2").exists()
    # X now holds a run: an explicit --out X is refused, with the command that continues it.
    assert main(["train", *TINY, "--data.root", str(data), "--train.batch_size", "3", "--out", str(out)]) == 2
    assert f"ganforge train --resume {out}" in capsys.readouterr().err
    assert not (tmp_path / "run-2").exists()
    with pytest.raises(ConfigError, match="already holds a run"):
        ganforge.train(ganforge.load_config(preset="gan-ring8"), out=out)


def test_without_out_the_default_run_directory_is_suffixed(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    data = folder(tmp_path / "images", 3)
    for _ in range(2):
        assert main(["train", *TINY, "--data.root", str(data), "--train.batch_size", "3"]) == 0
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["dcgan-folder", "dcgan-folder-2"]


def test_load_config_takes_dotted_keys_in_a_dict():
    cfg = ganforge.load_config(overrides={"data.name": "ring8", "model.family": "mlp", "train": {"steps": 5},
                                          "train.batch_size": 16})
    assert (cfg.data.name, cfg.model.family, cfg.train.steps, cfg.train.batch_size) == ("ring8", "mlp", 5, 16)
    assert ganforge.load_config(preset="gan-ring8", overrides={"train.steps": 7}).train.steps == 7
    with pytest.raises(ConfigError, match="did you mean 'data.name'"):
        ganforge.load_config(overrides={"data.nam": "ring8"})


def test_cli_warnings_are_one_clean_line(tmp_path):
    data = folder(tmp_path / "images", 4, broken=1)  # a damaged file: folder loading warns
    proc = subprocess.run([sys.executable, "-m", "ganforge", "info", *TINY[:8], "--data.root", str(data)],
                          capture_output=True, text=True, cwd=tmp_path, env={"GANFORGE_CACHE": str(tmp_path / "cache"),
                                                                             "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ganforge: warning: ") and "skipped 1 of 5 image files" in lines[0]


def test_a_reader_that_leaves_early_gets_no_traceback():
    """`ganforge presets | head -1`: the pipe closes under the printing command."""
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-c", "import sys; from ganforge.cli import main; "
                             "sys.stdout.reconfigure(line_buffering=True); sys.exit(main(['presets'] * 1))"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.readline()
    proc.stdout.close()  # the reader goes away after one line
    _, err = proc.communicate(timeout=60)
    assert b"Traceback" not in err and proc.returncode in (0, 141), err
