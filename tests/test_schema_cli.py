"""Tests of ``govbridge schema validate`` on the valid and invalid examples."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.interchange import KINDS
from bridge.paths import schemas_dir

EXAMPLES = schemas_dir() / "examples"
INVALID = sorted((EXAMPLES / "invalid").glob("*.xml"))
REPORT = re.compile(r"(.+?):([0-9]+): (/\S*): .+")
MESSAGE_TYPES = set(KINDS)


def _run(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bridge.cli", "schema", "validate", *map(str, files)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_valid_examples_cover_every_message_type_and_pass() -> None:
    """Every message type has a valid example, and validate exits 0 on them all."""
    files = sorted((EXAMPLES / "valid").glob("*.xml"))
    roots = {_root_name(path) for path in files}

    finished = _run(*files)

    assert roots == MESSAGE_TYPES
    assert finished.returncode == 0, finished.stdout
    assert finished.stdout == ""
    assert f"{len(files)} of {len(files)} valid" in finished.stderr


def test_all_invalid_examples_exit_one() -> None:
    """Run on every invalid example at once, validate exits 1 and names each file."""
    finished = _run(*INVALID)

    named = {line.split(":", 1)[0] for line in finished.stdout.splitlines()}

    assert finished.returncode == 1
    assert named == {str(path) for path in INVALID}
    assert f"0 of {len(INVALID)} valid" in finished.stderr


@pytest.mark.parametrize("path", INVALID, ids=[p.stem for p in INVALID])
def test_invalid_example_reports_its_line_and_xpath(
    path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each invalid example is refused with exactly the line and XPath its side
    file names."""
    expected = tomllib.loads(path.with_suffix(".expect.toml").read_text("utf-8"))

    code = main(["schema", "validate", str(path)])

    found = [REPORT.match(line) for line in capsys.readouterr().out.splitlines()]

    assert code == 1
    assert found
    assert {(m[1], int(m[2]), m[3]) for m in found if m} == {
        (str(path), expected["line"], expected["xpath"])
    }
    assert all(found)


def test_malformed_file_is_reported_not_raised(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A file that is not well-formed XML is one error line with its line number."""
    path = tmp_path / "broken.xml"
    path.write_text('<case xmlns="urn:govbridge:interchange:1">\n<channel>\n', "utf-8")

    code = main(["schema", "validate", str(path)])

    out = capsys.readouterr().out
    assert code == 1
    assert out.startswith(f"{path}:3: /: not well-formed XML")


def test_doctype_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A document with an entity declaration is refused before any expansion."""
    path = tmp_path / "entity.xml"
    path.write_text(
        '<!DOCTYPE case [<!ENTITY x "window">]>\n'
        '<case xmlns="urn:govbridge:interchange:1"><channel>&x;</channel></case>\n',
        "utf-8",
    )

    code = main(["schema", "validate", str(path)])

    assert code == 1
    assert capsys.readouterr().out == (
        f"{path}:1: /: found a DOCTYPE, expected none (entities are refused)\n"
    )


def _root_name(path: Path) -> str:
    text = path.read_text("utf-8")
    start = text.index("<", text.index("?>") + 2)
    while text.startswith("<!--", start):
        start = text.index("<", text.index("-->", start))
    return text[start + 1 :].split()[0].rstrip(">")
