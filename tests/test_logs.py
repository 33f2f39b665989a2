"""The log file: JSON lines in order, from the bridge and other libraries, with
personal values masked and secrets never written."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from bridge.logs import configure, mask_text


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / "bridge.log"
    configure(path)
    yield path
    configure(None, "WARNING")


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def test_bridge_events_and_library_records_share_the_file_in_order(
    log_file: Path,
) -> None:
    log = structlog.get_logger()
    log.info("first.event", mobile="13812345678", password="hunter2")
    logging.getLogger("some.library").warning("holder 110101199003070011 seen")
    log.warning("third.event", detail="call 13912345678 back", count=3)

    first, second, third = _lines(log_file)

    assert first["event"] == "first.event"
    assert first["level"] == "info"
    assert first["mobile"] == "138******78"
    assert first["password"] == "***"
    assert second["event"] == "holder 110*************11 seen"
    assert second["level"] == "warning"
    assert third["event"] == "third.event"
    assert third["detail"] == "call 139******78 back"
    assert third["count"] == 3
    assert "hunter2" not in log_file.read_text("utf-8")


def test_events_below_the_level_are_not_written(tmp_path: Path) -> None:
    path = tmp_path / "quiet.log"
    configure(path, "WARNING")
    try:
        structlog.get_logger().info("not.written")
        structlog.get_logger().error("written")
    finally:
        configure(None, "WARNING")

    assert [line["event"] for line in _lines(path)] == ["written"]


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("13812345678", "138******78"),
        ("id 110101199003070011 x", "id 110*************11 x"),
        ("case 0999240000124", "case 0999240000124"),  # 13 digits: a case number
        ("short 123456", "short 123456"),
        ("", ""),
    ],
)
def test_mask_text_masks_ids_and_mobiles_only(text: str, masked: str) -> None:
    assert mask_text(text) == masked
