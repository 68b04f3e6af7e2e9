"""The README and the docs stay true: the README's two commands are what CI runs, the
configuration page lists every option and preset, every relative link leads somewhere, the
README stays an entry page, and no page cites the project's issue numbers."""
import re
from pathlib import Path

from ganforge import config as C

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "benchmarks" / "README.md"]


def fenced_blocks():
    return re.findall(r"```\n(.*?)```", README, re.S)


def prose(text: str) -> str:
    """The page without its fenced code blocks, where a ](...) or a # is code, not a link."""
    return re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)


def anchors(path: Path) -> set[str]:
    """The heading anchors GitHub makes for a page: lower case, punctuation dropped, spaces to
    hyphens, and -1, -2, ... after a repeated heading."""
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#+ (.+)$", prose(path.read_text()), re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug if slug not in seen else f"{slug}-{seen[slug]}")
        seen[slug] = seen.get(slug, 0) + 1
    return out


def test_readme_starts_with_the_main_job_and_the_test_command_that_ci_runs():
    first, second = fenced_blocks()[:2]
    assert "ganforge train --preset dcgan-digits" in first and "pip install torch==2.13.0" in first
    assert "pytest" in second
    assert second.strip() in (ROOT / ".ci" / "run").read_text()


def test_the_configuration_page_lists_every_option_and_preset():
    page = (ROOT / "docs" / "configuration.md").read_text()
    for key in C.all_keys():
        assert f"`{key}`" in page, key
    for name in C.preset_names():
        assert f"`{name}`" in page, name


def test_every_relative_link_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in PAGES:
        for target in re.findall(r"\]\(([^)\s]+)\)", prose(page.read_text())):
            if re.match(r"[a-z]+:", target):  # https:, mailto:: not ours to check offline
                continue
            file, _, anchor = target.partition("#")
            dest = (page.parent / file).resolve() if file else page
            if not dest.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such file)")
            elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
                broken.append(f"{page.relative_to(ROOT)}: {target} (no such heading in {dest.name})")
    assert not broken, "\n".join(broken)


def test_the_readme_is_an_entry_page_of_at_most_300_lines():
    assert len(README.splitlines()) <= 300, "README.md grew past 300 lines: move the detail into docs/"


def test_no_page_cites_an_issue_number():
    cites = []
    for page in PAGES:
        for n, line in enumerate(page.read_text().splitlines(), 1):
            if re.search(r"\bissues? #?\d+", line, re.I) or re.search(r"#\d+", line):
                cites.append(f"{page.relative_to(ROOT)}:{n}: {line.strip()}")
    assert not cites, "the docs speak about the software, not the tracker:\n" + "\n".join(cites)
