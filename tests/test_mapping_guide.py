"""The guide docs/connect-a-bureau.md, followed on a scratch copy."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.mapping import load_bureau
from bridge.paths import mappings_dir


def test_guide_connects_an_unshipped_bureau(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Copy, rename, check, test and load: a bureau not shipped (sfj) works."""
    assert not (mappings_dir() / "sfj").exists()
    folder = tmp_path / "sfj"
    shutil.copytree(mappings_dir() / "whj", folder)
    for path in [*folder.glob("*.yaml"), *folder.glob("samples/*/*.xml")]:
        text = path.read_text(encoding="utf-8")
        text = text.replace("bureau: whj", "bureau: sfj")
        text = text.replace("{constant: whj}", "{constant: sfj}")
        text = text.replace("<bureau>whj</bureau>", "<bureau>sfj</bureau>")
        text = text.replace("市文化和旅游局", "市司法局")
        path.write_text(text, encoding="utf-8")

    checked = main(["mapping", "check", "sfj", "--mappings", str(tmp_path)])
    tested = main(["mapping", "test", "sfj", "--mappings", str(tmp_path)])
    mapping = load_bureau("sfj", tmp_path)

    out = capsys.readouterr().out
    assert (checked, tested) == (0, 0), out
    assert "sfj/center-window-case: ok" in out
    assert sorted(mapping.systems) == ["center"]
