"""Tests of the matter catalogue in config/matters.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from bridge.errors import ConfigError
from bridge.interchange.matters import TimeLimit, load_matters
from bridge.sim.seed import MATTERS


def test_catalogue_holds_the_seeded_hbj_matters() -> None:
    """The six hbj matters match the simulators' seed: code, name and limits."""
    catalogue = load_matters()

    hbj = {code: m for code, m in catalogue.items() if m.bureau == "hbj"}

    assert sorted(hbj) == sorted(m["code"] for m in MATTERS)
    for seeded in MATTERS:
        matter = hbj[seeded["code"]]
        assert matter.name == seeded["name"]
        assert matter.promised == TimeLimit(seeded["promised_days"], "workingDays")
        assert matter.statutory == TimeLimit(seeded["statutory_days"], "workingDays")


def test_catalogue_covers_the_four_pilot_bureaus() -> None:
    """Forestry, culture and agricultural machinery have matters beside hbj."""
    bureaus = {matter.bureau for matter in load_matters().values()}

    assert bureaus == {"hbj", "lyj", "whj", "njj"}


def _one_matter(tmp_path: Path, statutory: str, promised: str) -> Path:
    path = tmp_path / "matters.toml"
    path.write_text(
        '[[matter]]\ncode = "X1"\nname = "示例"\nbureau = "hbj"\n'
        f"statutory = {statutory}\npromised = {promised}\n",
        encoding="utf-8",
    )
    return path


def test_promise_longer_than_statute_is_refused(tmp_path: Path) -> None:
    """A promised limit above the statutory one is a ConfigError naming the entry."""
    path = _one_matter(
        tmp_path,
        '{ limit = 5, unit = "workingDays" }',
        '{ limit = 6, unit = "workingDays" }',
    )

    with pytest.raises(ConfigError) as caught:
        load_matters(path)

    assert "matter #1" in caught.value.message
    assert "longer than the statutory" in caught.value.message


def test_unknown_unit_is_refused(tmp_path: Path) -> None:
    """A unit outside the interchange's limitUnitCode is refused."""
    path = _one_matter(
        tmp_path,
        '{ limit = 5, unit = "months" }',
        '{ limit = 2, unit = "workingDays" }',
    )

    with pytest.raises(ConfigError) as caught:
        load_matters(path)

    assert "workingDays or calendarDays" in caught.value.message
