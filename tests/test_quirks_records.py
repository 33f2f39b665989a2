"""Quirk cases 6, 7, 8 and 13: nil elements, blank numbers, dates, big answers."""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from bridge.adapters.portal import PortalAdapter
from bridge.adapters.quirks import QuirkProfile, profile_from
from bridge.clock import parse_local
from bridge.config import Config, PortalConfig
from bridge.engine.poll import poll_portal
from bridge.engine.runtime import build_runtime
from bridge.errors import BusyError, ConfigError, SecurityError, ValidationError
from bridge.sim.portal import ENDPOINT, PortalSimulator
from bridge.store import open_store
from bridge.store.schema import dead_letters
from tests.quirkhelp import admin, editing_proxy

SINCE = "2000-01-01 00:00:00"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
TEN_MB = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def portal_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PortalSimulator]:
    """A private portal simulator for this module."""
    path: Path = tmp_path_factory.mktemp("quirks-rec") / "portal.sqlite"
    sim = PortalSimulator(path).start()
    yield sim
    sim.stop()


@pytest.fixture
def sim(portal_sim: PortalSimulator) -> PortalSimulator:
    """The portal simulator, emptied, holding three filings with attachments."""
    admin(portal_sim, "POST", "/reset")
    for number in (1, 2, 3):
        admin(
            portal_sim,
            "POST",
            "/filings",
            {
                "filingNo": f"WS2024030500000{number}",
                "changeTime": f"2024-03-05 09:4{number}:00",
                "attachments": [{"materialName": "监测报告", "size": 64}],
            },
        )
    return portal_sim


def adapter(url: str, **quirks: object) -> PortalAdapter:
    return PortalAdapter(
        url + ENDPOINT,
        "bridge",
        "bridge-secret",
        timeout=5,
        deadline=20,
        quirks=dict(quirks),
    )


def nil_first_attachments(body: bytes) -> bytes:
    """The answer with the first filing's attachments marked xsi:nil."""
    nil = f'<attachments xmlns:xsi="{XSI}" xsi:nil="true"/>'.encode()
    return re.sub(
        rb"<attachments>.*?</attachments>", nil, body, count=1, flags=re.DOTALL
    )


def blank_second_size(body: bytes) -> bytes:
    """The answer with the second filing's attachment size a lone blank."""
    sizes = list(re.finditer(rb"<size>\d+</size>", body))
    second = sizes[1]
    return body[: second.start()] + b"<size> </size>" + body[second.end() :]


def test_nil_complex_element_is_absent(sim: PortalSimulator) -> None:
    """Case 6: an xsi:nil complex element is left out, not an empty object."""
    with editing_proxy(sim.url, nil_first_attachments) as url:
        page = adapter(url).list_filings(SINCE, None, 10)

    first, second, third = page.records
    assert first.findtext("filingNo") == "WS20240305000001"
    assert first.find("attachments") is None
    assert second.find("attachments/attachment/size") is not None
    assert third.findtext("attachments/attachment/size") == "64"


def test_blank_int_fails_only_its_record(sim: PortalSimulator, tmp_path: Path) -> None:
    """Case 7: a blank xs:long is dead-lettered alone; the page's others go on."""
    with editing_proxy(sim.url, blank_second_size) as url:
        config = Config(
            store=f"sqlite:///{tmp_path / 'bridge.sqlite'}",
            portal=PortalConfig(url=url, password="bridge-secret"),
        )
        runtime = build_runtime(config)
        routed = poll_portal(runtime)

    with runtime.store.begin() as conn:
        dead = conn.execute(select(dead_letters)).mappings().all()
    assert routed == 2
    assert [row["record_key"] for row in dead] == ["WS20240305000002"]
    assert dead[0]["error_class"] in ("ValidationError", "MappingError")
    assert "size" in (dead[0]["field"] or "") + dead[0]["reason"]


@pytest.mark.parametrize(
    ("text", "format_name"),
    [
        ("2004-10-18 14:30:00", "yyyy-MM-dd HH:mm:ss"),
        ("2004/10/18 14:30:00", "yyyy/MM/dd HH:mm:ss"),
        ("2004年10月18日", "yyyy年MM月dd日"),
    ],
)
def test_dates_only_in_declared_formats(text: str, format_name: str) -> None:
    """Case 8: a date form is read only where the profile declares it."""
    declared = QuirkProfile(date_formats=(format_name,))
    other = QuirkProfile(date_formats=("yyyyMMddHHmmss",))

    instant = declared.parse_time(text, field="GXSJ", record="C1")
    with pytest.raises(ValidationError) as refused:
        other.parse_time(text, field="GXSJ", record="C1")

    hour = 6 if "14:30" in text else 16
    day = 18 if "14:30" in text else 17
    assert (instant.day, instant.hour, instant.tzinfo) == (day, hour, UTC)
    assert refused.value.field == "GXSJ"
    assert refused.value.record == "C1"


def test_zone_less_time_keeps_its_instant_through_sqlite(tmp_path: Path) -> None:
    """Case 8: a Shanghai time stored as a watermark reads back as the same instant."""
    profile = profile_from({"date_formats": ["yyyy/MM/dd HH:mm:ss"]}, "center")
    instant = profile.parse_time("2004/10/18 14:30:00", field="GXSJ")
    local = profile.local_text("2004/10/18 14:30:00", field="GXSJ")
    url = f"sqlite:///{tmp_path / 'mark.sqlite'}"

    writer = open_store(url)
    with writer.begin() as conn:
        writer.set_watermark(conn, "center", local, "C1")
    reader = open_store(url)
    with reader.begin() as conn:
        mark = reader.watermark(conn, "center")

    assert instant == datetime(2004, 10, 18, 6, 30, tzinfo=UTC)
    assert mark == ("2004-10-18 14:30:00", "C1")
    assert parse_local(mark[0], profile.zone) == instant


def test_unknown_quirk_setting_is_a_config_error() -> None:
    """A quirks table with an unknown key or date format names the key."""
    with pytest.raises(ConfigError, match="portal.quirks.encodng"):
        profile_from({"encodng": "gbk"}, "portal")
    with pytest.raises(ConfigError, match="date_formats"):
        profile_from({"date_formats": ["dd.MM.yyyy"]}, "portal")


def test_ten_megabyte_attachment_within_and_above_the_cap(
    sim: PortalSimulator,
) -> None:
    """Case 13: a 10 MB base64 attachment passes under its cap, fails above it."""
    content = bytes(range(256)) * (TEN_MB // 256)
    filing = admin(
        sim,
        "POST",
        "/filings",
        {
            "changeTime": "2024-03-06 10:00:00",
            "attachments": [
                {
                    "attachmentId": "BIG1",
                    "materialName": "图纸",
                    "content_base64": base64.b64encode(content).decode(),
                }
            ],
        },
    )
    assert filing["filingNo"]

    fetched = adapter(sim.url, max_bytes=16 * 1024 * 1024).get_attachment("BIG1")
    with pytest.raises(SecurityError) as refused:
        adapter(sim.url, max_bytes=8 * 1024 * 1024).get_attachment("BIG1")

    assert fetched.content == content
    assert refused.value.system == "portal"
    assert "8388608" in refused.value.message


@pytest.mark.parametrize("kind", ["soap_fault_busy", "soap12_busy_200"])
def test_listing_faults_keep_their_class_on_the_lxml_path(
    sim: PortalSimulator, kind: str
) -> None:
    """A busy fault on listFilings (HTTP 500 or 200) is still a BusyError."""
    admin(
        sim, "POST", "/faults", {"rules": [{"kind": kind, "operation": "listFilings"}]}
    )

    with pytest.raises(BusyError) as raised:
        adapter(sim.url).list_filings(SINCE, None, 10)

    assert raised.value.fault_text == "系统繁忙"
    assert raised.value.operation == "listFilings"
    assert raised.value.system == "portal"
