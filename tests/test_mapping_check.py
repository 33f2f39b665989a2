"""Tests of ``govbridge mapping test|check``, the offline check and load refusal."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.errors import ConfigError
from bridge.mapping import check_bureau, load_bureau
from bridge.paths import mappings_dir

SHIPPED = ("hbj", "lyj", "whj", "njj")


def _copy(tmp_path: Path, bureau: str) -> Path:
    target = tmp_path / bureau
    shutil.copytree(mappings_dir() / bureau, target)
    return target


def _edit(path: Path, old: str, new: str) -> int:
    """Replace ``old`` once in ``path``; return the line number it was on."""
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    line = text[: text.index(old)].count("\n") + 1
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return line


@pytest.mark.parametrize("action", ["test", "check"])
def test_shipped_mappings_pass(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Both commands exit 0 on every shipped bureau."""
    code = main(["mapping", action])

    out = capsys.readouterr().out
    assert code == 0, out
    for bureau in SHIPPED:
        assert bureau in out


def test_check_prints_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    """The check prints mapped / total native fields per native form."""
    main(["mapping", "check", "lyj"])

    out = capsys.readouterr().out
    assert "lyj oa: template LYJ_SX01: native fields mapped 22/22" in out
    assert "lyj center: center.windowCase.xml: native fields mapped 20/22" in out


def test_misspelled_column_fails_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A Chinese column name the template lacks is an error at its file:line."""
    folder = _copy(tmp_path, "lyj")
    line = _edit(
        folder / "oa.yaml", "column[@name='经办人电话']", "column[@name='经办入电话']"
    )

    code = main(["mapping", "check", "lyj", "--mappings", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == 1
    assert f"{folder / 'oa.yaml'}:{line}: error: column '经办入电话'" in out


def test_unmapped_required_field_fails_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A required interchange field left unmapped is an error naming the document."""
    folder = _copy(tmp_path, "whj")
    path = folder / "center.yaml"
    _edit(path, "          matter/name: {from: SXMC, required: true}\n", "")
    case_line = _line_of(path, "      case:")

    code = main(["mapping", "check", "whj", "--mappings", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == 1
    assert (
        f"{path}:{case_line}: error: required interchange field case/matter/name" in out
    )


def _line_of(path: Path, text: str) -> int:
    lines = path.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


def test_load_refuses_a_failing_mapping_with_the_same_message(tmp_path: Path) -> None:
    """load_bureau raises ConfigError carrying the check's error lines."""
    folder = _copy(tmp_path, "hbj")
    _edit(folder / "oa.yaml", "column[@name='证件号码']", "column[@name='证件号吗']")
    errors = [str(f) for f in check_bureau("hbj", tmp_path) if f.severity == "error"]

    with pytest.raises(ConfigError) as raised:
        load_bureau("hbj", tmp_path)

    assert len(errors) == 1
    assert errors[0] in str(raised.value)


def test_converter_on_wrong_type_is_an_error(tmp_path: Path) -> None:
    """A date converter on a field that is not an xs:dateTime is reported."""
    folder = _copy(tmp_path, "njj")
    path = folder / "center.yaml"
    line = _edit(
        path, "projectName: SBXMMC", "projectName: {from: SBXMMC, date: yyyyMMdd}"
    )

    findings = check_bureau("njj", tmp_path)

    assert [str(f) for f in findings if f.severity == "error"] == [
        (
            f"{path}:{line}: error: date converter on 'projectName',"
            " which is not an xs:dateTime"
        )
    ]


def test_failing_sample_shows_a_diff(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """mapping test exits 1 and prints a unified diff of expected and produced."""
    folder = _copy(tmp_path, "whj")
    _edit(
        folder / "samples/center-completion/expected.xml",
        "<SFJE>0</SFJE>",
        "<SFJE>9</SFJE>",
    )

    code = main(["mapping", "test", "whj", "--mappings", str(tmp_path)])

    out = capsys.readouterr().out
    assert code == 1
    assert "whj/center-completion: FAILED" in out
    assert "-    <SFJE>9</SFJE>" in out
    assert "+    <SFJE>0</SFJE>" in out
