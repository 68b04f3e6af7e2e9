"""The README stays true: its two commands are what CI runs, and it lists every option and preset."""
import re
from pathlib import Path

from ganforge import config as C

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def fenced_blocks():
    return re.findall(r"```\n(.*?)```", README, re.S)


def test_readme_starts_with_the_main_job_and_the_test_command_that_ci_runs():
    first, second = fenced_blocks()[:2]
    assert "ganforge train --preset dcgan-digits" in first and "pip install torch==2.13.0" in first
    assert "pytest" in second
    assert second.strip() in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_option_and_preset():
    for key in C.all_keys():
        assert f"`{key}`" in README, key
    for name in C.preset_names():
        assert f"`{name}`" in README, name
