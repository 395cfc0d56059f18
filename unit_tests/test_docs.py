"""The line Airbyte's connector QA suite holds on documentation and security (see airbyte-conventions.md in the
shared folder beside the project), checked here on the files themselves, since that suite is not available:
the docs page's headers in the template's order, `## Prerequisites` naming every required field of the spec,
a changelog row for metadata.yaml's version, no dead relative link or image on the docs page or in README.md,
no plain `http://` URL in the connector's files, and README.md small and starting with the two commands.
(metadata.yaml, the packaging and the icon are checked in test_metadata.py and test_packaging.py.)

Each rule is a function that returns the problems it finds; each is tried here on the real files and on a
broken sample, so that a rule that stopped finding anything would fail too."""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "integrations" / "sources" / "wootric.md"
README = ROOT / "README.md"
README_MAX_BYTES = 12 * 1024
README_COMMANDS = ("bash scripts/demo.sh", "bash scripts/test.sh")


@dataclass(frozen=True)
class Heading:
    level: int
    title: str
    line: int  # 1-based


FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
ATX = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)(?:\s+#+)?\s*$")


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(1-based number, line) of every line outside fenced code blocks."""
    out, fence = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if fence is None and match:
            fence = match.group(1)[0] * len(match.group(1))
            continue
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            continue
        out.append((number, line))
    return out


def headings(text: str) -> list[Heading]:
    return [
        Heading(len(m.group(1)), m.group(2).strip(), number)
        for number, line in prose_lines(text)
        if (m := ATX.match(line))
    ]


def section(text: str, title: str) -> str:
    """The text under the first heading called `title`, up to the next heading of any level."""
    found = [h for h in headings(text) if h.title == title]
    if not found:
        return ""
    lines = text.splitlines()
    later = [h.line for h in headings(text) if h.line > found[0].line]
    return "\n".join(lines[found[0].line : (later[0] - 1) if later else len(lines)])


# ---------------------------------------------------------------------------------------------------------------
# Headers in the order of Airbyte's template (airbyte-conventions.md, "documentation")


@dataclass(frozen=True)
class Own:
    """Where own sections are allowed: headings of at least `least` level (2: `##`; 3: `###`)."""

    least: int
    where: str


def template(name: str) -> list[tuple[int, str] | Own]:
    return [
        (1, name),
        (2, "Prerequisites"),
        (2, "Setup guide"),
        (2, f"Set up {name}"),
        (3, "For Airbyte Cloud:"),
        (3, "For Airbyte Open Source:"),
        Own(3, f"after `## Set up {name}`"),
        (2, f"Set up the {name} connector in Airbyte"),
        (3, "For Airbyte Cloud:"),
        (3, "For Airbyte Open Source:"),
        Own(2, "after `## Set up the connector in Airbyte`"),
        (2, "Supported sync modes"),
        (2, "Supported Streams"),
        Own(2, "after `## Supported Streams`"),
        (3, "Performance considerations"),
        (2, "Data type map"),
        (2, "Limitations & Troubleshooting"),
        Own(3, "under `## Limitations & Troubleshooting`"),
        (3, "Tutorials"),
        (2, "Changelog"),
    ]


def header_order_problems(text: str, name: str) -> list[str]:
    """Every header of the template, once, at its level and in its order; own headers only where the template
    allows them, and no deeper than it allows there."""
    expected = template(name)
    fixed = {item for item in expected if not isinstance(item, Own)}
    fixed_titles = {title for _, title in fixed}
    problems: list[str] = []
    at = 0  # the next item of the template
    for heading in headings(text):
        wanted = expected[at] if at < len(expected) else None
        if isinstance(wanted, Own) and (heading.level, heading.title) == expected[at + 1]:
            at += 1
            wanted = expected[at]
        if wanted == (heading.level, heading.title):
            at += 1
            continue
        shown = f"line {heading.line}: {'#' * heading.level} {heading.title}"
        if isinstance(wanted, Own) and heading.title not in fixed_titles and heading.level >= wanted.least:
            continue  # an own section where they are allowed
        if isinstance(wanted, Own) and heading.title not in fixed_titles:
            problems.append(f"{shown}: own sections {wanted.where} must be {'#' * wanted.least} or deeper")
            continue
        if wanted is None:
            problems.append(f"{shown}: nothing may follow `## Changelog`")
            continue
        target = wanted if not isinstance(wanted, Own) else expected[at + 1]
        problems.append(f"{shown}: expected {'#' * target[0]} {target[1]} here")
        return problems  # one misplaced header puts all the rest out of step
    missing = [f"{'#' * item[0]} {item[1]}" for item in expected[at:] if not isinstance(item, Own)]
    if missing:
        problems.append(f"missing, in this order: {', '.join(missing)}")
    return problems


def metadata() -> dict:
    return yaml.safe_load((ROOT / "metadata.yaml").read_text())["data"]


def test_docs_headers_follow_the_template_order() -> None:
    assert header_order_problems(DOCS.read_text(), metadata()["name"]) == []


GOOD_ORDER = """# W
## Prerequisites
## Setup guide
## Set up W
### For Airbyte Cloud:
### For Airbyte Open Source:
### Own step
## Set up the W connector in Airbyte
### For Airbyte Cloud:
### For Airbyte Open Source:
## Settings
### Details
## Supported sync modes
## Supported Streams
## Guarantees
### Performance considerations
## Data type map
## Limitations & Troubleshooting
### Rate limits
### Tutorials
## Changelog
```
## a heading in code is not one
```
"""


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (("## Data type map\n", ""), "expected ## Data type map"),
        (("### Performance considerations\n", "## Performance considerations\n"), "expected ### Performance"),
        (("### Tutorials\n", ""), "expected ### Tutorials"),
        (("## Changelog\n", ""), "missing, in this order: ## Changelog"),
        (("### Rate limits\n", "## Rate limits\n"), "must be ### or deeper"),
        (("### Own step\n", "## Own step\n"), "must be ### or deeper"),
        (
            ("## Prerequisites\n## Setup guide\n", "## Setup guide\n## Prerequisites\n"),
            "expected ## Prerequisites",
        ),
        (("## Guarantees\n", "## Supported sync modes\n"), "line 15: ## Supported sync modes"),
        (("## Changelog\n", "## Changelog\n## After\n"), "nothing may follow"),
        (("# W\n", "# Wootric\n"), "expected # W"),
    ],
)
def test_header_order_rule_finds_misplaced_headers(change: tuple[str, str], problem: str) -> None:
    assert header_order_problems(GOOD_ORDER, "W") == []
    broken = GOOD_ORDER.replace(*change, 1)
    assert broken != GOOD_ORDER
    found = header_order_problems(broken, "W")
    assert any(problem in p for p in found), found


# ---------------------------------------------------------------------------------------------------------------
# ## Prerequisites names every required field of the spec, by its title


def required_titles() -> list[str]:
    spec = yaml.safe_load((ROOT / "source_wootric" / "spec.yaml").read_text())["connectionSpecification"]
    return [spec["properties"][field]["title"] for field in spec["required"]]


def prerequisites_problems(text: str, titles: list[str]) -> list[str]:
    body = section(text, "Prerequisites").lower()
    if not body.strip():
        return ["no `## Prerequisites` section"]
    return [f"`## Prerequisites` does not name {title!r}" for title in titles if title.lower() not in body]


def test_prerequisites_name_every_required_spec_field() -> None:
    titles = required_titles()
    assert {"Authentication", "Start date"} <= set(titles)
    assert prerequisites_problems(DOCS.read_text(), titles) == []


def test_prerequisites_rule_finds_a_missing_title() -> None:
    text = DOCS.read_text()
    assert prerequisites_problems(text, ["A field nobody wrote"]) == [
        "`## Prerequisites` does not name 'A field nobody wrote'"
    ]
    # a title named elsewhere on the page does not count
    assert prerequisites_problems(text, ["Look-back window (days)"]) != []
    assert prerequisites_problems("# W\n## Setup guide\n", ["Start date"]) == [
        "no `## Prerequisites` section"
    ]


# ---------------------------------------------------------------------------------------------------------------
# A changelog row for the version in metadata.yaml


def changelog_versions(text: str) -> list[str]:
    body = text.split("\n## Changelog", 1)[1] if "\n## Changelog" in text else ""
    rows = [line.strip().strip("|").split("|") for line in body.splitlines() if line.strip().startswith("|")]
    return [
        cells[0].strip() for cells in rows if cells and re.fullmatch(r"\d+\.\d+\.\d+\S*", cells[0].strip())
    ]


def test_changelog_has_a_row_for_the_metadata_version() -> None:
    versions = changelog_versions(DOCS.read_text())
    assert metadata()["dockerImageTag"] in versions, f"no changelog row for {metadata()['dockerImageTag']}"
    assert versions[0] == metadata()["dockerImageTag"], "the newest row comes first"
    assert {"0.3.0", "0.2.1", "0.2.0", "0.1.0"} <= set(versions)


def test_changelog_rule_reads_only_the_changelog_table() -> None:
    text = "## Data type map\n\n| 9.9.9 | x |\n\n## Changelog\n\n| Version | Date |\n| :--- | :--- |\n| 1.2.3 | d |\n"
    assert changelog_versions(text) == ["1.2.3"]
    assert changelog_versions(text.replace("## Changelog", "## Changes")) == []


# ---------------------------------------------------------------------------------------------------------------
# No dead relative link or image on the docs page or in README.md

INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE_LINK = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)")
HTML_LINK = re.compile(r"""<(?:a|img)\s[^>]*?(?:href|src)\s*=\s*["']([^"']+)["']""", re.IGNORECASE)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def anchor(title: str) -> str:
    """GitHub's (and Docusaurus') id of a heading: lower case, punctuation dropped, spaces to hyphens."""
    title = re.sub(r"[`*_]|<[^>]+>", "", title).strip().lower()
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def link_targets(text: str) -> list[tuple[int, str]]:
    found = []
    for number, line in prose_lines(text):
        line = CODE_SPAN.sub("", line)
        for pattern in (INLINE_LINK, REFERENCE_LINK, HTML_LINK):
            found += [(number, m.group(1)) for m in pattern.finditer(line)]
    return found


def dead_links(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links and images that name no existing file, or a heading the target page lacks."""
    problems = []
    for number, target in link_targets(path.read_text()):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("//"):
            continue  # a URL with a scheme: not a file of the repository
        file_part, _, fragment = target.partition("#")
        file_part = file_part.split("?", 1)[0]
        resolved = (path.parent / file_part).resolve() if file_part else path
        where = f"{path.relative_to(root)}:{number}: {target}"
        if not resolved.exists():
            problems.append(f"{where}: no such file")
        elif (
            fragment
            and resolved.suffix == ".md"
            and fragment not in {anchor(h.title) for h in headings(resolved.read_text())}
        ):
            problems.append(f"{where}: no such heading in {resolved.name}")
    return problems


@pytest.mark.parametrize("page", [DOCS, README], ids=lambda p: p.name)
def test_no_dead_relative_links(page: Path) -> None:
    assert link_targets(page.read_text()), "the rule found no link at all: it is broken"
    assert dead_links(page) == []


def test_dead_link_rule_finds_missing_files_images_and_headings(tmp_path: Path) -> None:
    (tmp_path / "here.png").write_bytes(b"")
    page = tmp_path / "page.md"
    page.write_text(
        "# Page\n\n## The account's time zone\n\n"
        "[ok](here.png) ![ok](./here.png) [ok](#the-accounts-time-zone) [ok](https://example.com/x.md)\n"
        '[gone](missing.md) ![gone](img/missing.png) [gone](#no-such-heading) <img src="nope.svg">\n'
        "`[in code](missing-too.md)`\n\n```\n[in a block](missing-three.md)\n```\n\n[ref]: gone/ref.md\n"
    )
    found = [p.split(": ", 1)[1] for p in dead_links(page, tmp_path)]
    assert found == [
        "missing.md: no such file",
        "img/missing.png: no such file",
        "#no-such-heading: no such heading in page.md",
        "nope.svg: no such file",
        "gone/ref.md: no such file",
    ]


# ---------------------------------------------------------------------------------------------------------------
# No plain http:// URL in the connector's files (loopback and test fixtures aside), as Airbyte's security
# check reads them: lower-cased lines, comment lines and lines marked `ignore-https-check` skipped, the
# json-schema.org and localhost prefixes allowed. Addresses such as 127.0.0.1 need the marker, as there.

HTTP_ALLOWED_PREFIXES = ("http://json-schema.org", "http://localhost")
HTTP_IGNORED_DIRECTORIES = {"unit_tests", "integration_tests", "tests", ".venv", "build", ".hypothesis"}
HTTP_IGNORED_NAMES = (
    "*.svg",
    "*.gz",
    "*.jar",
    "*.pyc",
    "*.png",
    "expected_records.jsonl",
    "expected_records.json",
)
COMMENT_STARTS = {".py": "#", ".yml": "#", ".yaml": "#", ".md": "<!--"}  # as Airbyte's check knows them


def connector_files(root: Path) -> list[Path]:
    """The files of the connector: tracked or not ignored by git (build outputs, venvs, caches left out)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root,
        capture_output=True,
        check=False,
    )
    if listed.returncode == 0:
        return sorted({root / name for name in listed.stdout.decode().split("\0") if name})
    skipped = {
        ".git",
        ".venv",
        ".cache",
        "__pycache__",
        ".pytest_cache",
        ".ruff_cache",
        "demo-output",
        "secrets",
    }
    return sorted(p for p in root.rglob("*") if p.is_file() and not skipped & set(p.relative_to(root).parts))


def http_urls(root: Path, files: list[Path]) -> list[str]:
    found = []
    for path in files:
        relative = path.relative_to(root)
        if HTTP_IGNORED_DIRECTORIES & set(relative.parts[:-1]) or any(
            relative.match(pattern) for pattern in HTTP_IGNORED_NAMES
        ):
            continue
        try:
            lines = path.read_text().splitlines()
        except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
            continue
        comment = COMMENT_STARTS.get(path.suffix)
        for number, line in enumerate(lines, start=1):
            line = line.lower()
            if (comment and line.lstrip().startswith(comment)) or "ignore-https-check" in line:
                continue
            for prefix in HTTP_ALLOWED_PREFIXES:
                line = line.replace(prefix, "")
            if "http://" in line:
                found.append(f"{relative}:{number}")
    return found


def test_no_plain_http_urls_in_the_connector_files() -> None:
    files = connector_files(ROOT)
    assert ROOT / "source_wootric" / "spec.yaml" in files and DOCS in files
    assert http_urls(ROOT, files) == []


def test_http_rule_finds_a_url_outside_loopback_and_fixtures(tmp_path: Path) -> None:
    files = {
        "source_x/a.py": 'URL = "http://api.example.com"\n# http://in-a-comment\nLOCAL = "http://localhost:8080"\n',
        "source_x/spec.yaml": "$schema: http://json-schema.org/draft-07/schema#\nurl: HTTP://Example.com\n",
        "docs/page.md": "see http://example.org\n<!-- http://a-comment -->\n",
        "emulator/server.py": 'url = f"http://127.0.0.1:{port}"  # ignore-https-check: loopback\n',
        "unit_tests/test_a.py": 'URL = "http://fixture.example"\n',
        "icon.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    paths = sorted(tmp_path / name for name in files)
    assert http_urls(tmp_path, paths) == ["docs/page.md:1", "source_x/a.py:1", "source_x/spec.yaml:2"]


# ---------------------------------------------------------------------------------------------------------------
# README.md: the project's entrance, small, starting with the two commands


def readme_problems(text: str) -> list[str]:
    problems = []
    size = len(text.encode())
    if size > README_MAX_BYTES:
        problems.append(
            f"README.md is {size:,} bytes, over {README_MAX_BYTES:,}: user documentation goes to {DOCS.name}"
        )
    lines = [line for line in text.splitlines() if line.strip()]
    # the title, then at once a fenced block whose commands are the two, in this order
    if not lines or not lines[0].startswith("# "):
        return [*problems, "README.md does not start with its title"]
    if len(lines) < 2 or not lines[1].startswith("```"):
        return [
            *problems,
            "README.md does not start with the two commands (a code block right after the title)",
        ]
    block = []
    for line in lines[2:]:
        if line.startswith("```"):
            break
        block.append(line.split("#", 1)[0].strip())
    if tuple(block) != README_COMMANDS:
        problems.append(f"README.md's first code block is {block}, not {list(README_COMMANDS)}")
    return problems


def test_readme_is_small_and_starts_with_the_two_commands() -> None:
    text = README.read_text()
    assert readme_problems(text) == []
    assert "fresh machine" in text.split("```", 3)[2][:600], "the sentence that they work on a fresh machine"


def test_readme_rule_finds_a_long_readme_or_other_commands() -> None:
    good = "# t\n\n```bash\nbash scripts/demo.sh    # demo\nbash scripts/test.sh    # tests\n```\n\nText.\n"
    assert readme_problems(good) == []
    assert "over 12,288" in readme_problems(good + "x" * README_MAX_BYTES)[0]
    assert readme_problems(good.replace("# t\n\n", "# t\n\nIntro.\n\n"))[0].endswith("right after the title)")
    swapped = good.replace(
        "demo.sh    # demo\nbash scripts/test.sh", "test.sh    # tests\nbash scripts/demo.sh"
    )
    assert "not ['bash scripts/demo.sh', 'bash scripts/test.sh']" in readme_problems(swapped)[0]
    assert readme_problems(good.replace("bash scripts/test.sh    # tests\n", ""))
