"""Regenerate the README's option and preset tables from config.py and the presets.

    python scripts/update_readme.py

tests/test_readme.py fails when the README misses an option or a preset.
"""
import re
from pathlib import Path

from ganforge import config as C

README = Path(__file__).resolve().parents[1] / "README.md"


def table(rows: list[str], header: str) -> str:
    return header + "\n" + "\n".join(rows)


def main() -> None:
    text = README.read_text()
    options = table([f"| `{k}` | `{d}` | {h} |" for k, d, h in C.describe_keys()], "| option | default | meaning |\n|---|---|---|")
    presets = table([f"| `{n}` | {C.preset_dict(n).get('description', '')} |" for n in C.preset_names()],
                    "| preset | what it trains |\n|---|---|")
    for name, body in (("options", options), ("presets", presets)):
        text = re.sub(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", lambda m: m.group(1) + body + "\n" + m.group(2), text, flags=re.S)
    README.write_text(text)


if __name__ == "__main__":
    main()
