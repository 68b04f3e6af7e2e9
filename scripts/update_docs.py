"""Regenerate the option and preset tables of docs/configuration.md from the config package, the registries and the presets.

    python scripts/update_docs.py

The tables sit between the <!-- options:start/end --> and <!-- presets:start/end --> markers;
everything else in the page is left as it is. tests/test_readme.py fails when the page misses an
option or a preset.
"""
import re
from pathlib import Path

from ganforge import config as C
from ganforge.options import describe_options

PAGE = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def table(rows: list[str], header: str) -> str:
    return header + "\n" + "\n".join(rows)


def main() -> None:
    text = PAGE.read_text()
    options = table([f"| `{k}` | `{d}` | {h} |" for k, d, h in describe_options()], "| option | default | meaning |\n|---|---|---|")
    presets = table([f"| `{n}` | {C.preset_dict(n).get('description', '')} |" for n in C.preset_names()],
                    "| preset | what it trains |\n|---|---|")
    for name, body in (("options", options), ("presets", presets)):
        marker = rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)"
        if not re.search(marker, text, flags=re.S):
            raise SystemExit(f"{PAGE}: no <!-- {name}:start --> ... <!-- {name}:end --> markers to write the table between")
        text = re.sub(marker, lambda m: m.group(1) + body + "\n" + m.group(2), text, flags=re.S)
    PAGE.write_text(text)


if __name__ == "__main__":
    main()
