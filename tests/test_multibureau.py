"""Several bureaus in one bridge: forestry cases beside the environmental ones."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bridge.config import Config, config_from_dict
from bridge.engine.runtime import check_bureau
from bridge.errors import ConfigError
from bridge.service.checks import check_file
from bridge.service.demo import FORESTRY, FORESTRY_DEPARTMENT, write_toml
from bridge.store import open_store
from bridge.store.schema import cases, dead_letters, leases, watermarks
from tests.bridgerun import Flow, agreement_problems, duplicates, write_counts

FORESTRY_MATTERS = {"370999101", "370999102", "370999103"}


@pytest.fixture(scope="module")
def flow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flow]:
    """One bridge run of 2 online and 2 window hbj cases and 3 forestry cases."""
    started = Flow.start(tmp_path_factory.mktemp("multibureau"), forestry=True)
    started.file(online=2, window=2, forestry=3)
    started.spawn()
    started.finished = started.wait_finished(timeout=60)  # type: ignore[attr-defined]
    started.stop()
    yield started
    started.close()


def _store_rows(flow: Flow, query: Any) -> list[Any]:
    store = open_store(f"sqlite:///{flow.root / 'govbridge.sqlite'}")
    try:
        with store.begin() as conn:
            return list(conn.execute(query))
    finally:
        store.dispose()


def test_forestry_cases_launched_at_the_forestry_oa_only(flow: Flow) -> None:
    """Each forestry window case is launched once at oa-lyj, never at hbj's OA,
    and completed once at the center without a portal publication."""
    counts = write_counts(flow.sims, outcomes=("done", "launched"))
    snap = flow.snapshot()
    forestry = [case for case in flow.cases if case.bureau == FORESTRY]

    assert flow.finished  # type: ignore[attr-defined]
    assert duplicates(counts) == {}
    assert len(forestry) == 3
    for case in forestry:
        held = snap.center_by_number[case.key]
        assert held["application"]["SXBM"] in FORESTRY_MATTERS
        assert counts["oa-lyj.launchFormCollaboration"][case.key] == 1
        assert counts["oa.launchFormCollaboration"][case.key] == 0
        assert counts["center.receiveBusinessFinish"][case.key] == 1
        assert counts["portal.publishResult"][case.key] == 0
        assert snap.flows[case.key][0]["form"]["master"]["业务编号"] == case.key
    assert agreement_problems(snap, forestry) == []


def test_environmental_cases_unaffected(flow: Flow) -> None:
    """The hbj cases beside them still go to hbj's OA and the portal, once each."""
    counts = write_counts(flow.sims, outcomes=("done", "launched"))
    snap = flow.snapshot()
    hbj = [case for case in flow.cases if case.bureau == "hbj"]

    assert len(hbj) == 4
    for case in hbj:
        number = snap.number(case)
        assert number is not None
        assert counts["oa.launchFormCollaboration"][number] == 1
        assert counts["oa-lyj.launchFormCollaboration"][number] == 0
        assert counts["center.receiveBusinessFinish"][number] == 1
        assert counts["portal.publishResult"][number] == 1
    assert sum(counts["oa.launchFormCollaboration"].values()) == 4
    assert sum(counts["oa-lyj.launchFormCollaboration"].values()) == 3
    assert agreement_problems(snap, hbj) == []


def test_store_keeps_each_bureau_apart(flow: Flow) -> None:
    """Cases carry their bureau; the primary keeps its watermark and lease names,
    the forestry bureau polls and sweeps under names of its own; nothing is
    dead-lettered."""
    by_bureau = _store_rows(flow, select(cases.c.bureau, cases.c.state))
    sources = {row.source for row in _store_rows(flow, select(watermarks.c.source))}
    lease_names = {row.name for row in _store_rows(flow, select(leases.c.name))}

    assert sorted(row.bureau for row in by_bureau) == ["hbj"] * 4 + [FORESTRY] * 3
    assert {row.state for row in by_bureau} == {"completed"}
    assert sources == {"portal", "center", "center:lyj"}
    assert {"poll:center", "sweep:oa", "poll:center:lyj", "sweep:oa:lyj"} <= lease_names
    assert _store_rows(flow, select(dead_letters.c.id)) == []


def _settings(**bureau: Any) -> dict[str, Any]:
    return {"bridge": {"bureau": "hbj"}, "bureaus": {FORESTRY: bureau}}


def test_bureau_table_parsed_with_its_oa() -> None:
    """A [bureaus.lyj] table gives the department, the portal flag and its own OA
    with its state codes; a configuration without one has no further bureau."""
    config = config_from_dict(_settings(
        department_code=FORESTRY_DEPARTMENT,
        oa={"url": "http://127.0.0.1:1", "password": "x",
            "state_codes": {"finished": 20}},
    ))

    lyj = config.bureaus[FORESTRY]
    assert lyj.department_code == FORESTRY_DEPARTMENT
    assert lyj.portal is False
    assert lyj.oa is not None and lyj.oa.state_codes == {"finished": 20}
    assert lyj.oa.sender_login == "service-admin"
    assert config_from_dict({"bridge": {"bureau": "hbj"}}).bureaus == {}
    assert Config().bureaus == {}


@pytest.mark.parametrize(
    ("bureau", "message"),
    [
        ({"department_code": "x", "oa": {"colour": "red"}}, "bureaus.lyj.oa.colour"),
        ({"department_code": "x", "portl": True}, "bureaus.lyj.portl: unknown"),
    ],
)
def test_bureau_table_unknown_key_named(bureau: dict[str, Any], message: str) -> None:
    """An unknown key inside a bureau's table is refused with its full name."""
    with pytest.raises(ConfigError, match=message):
        config_from_dict(_settings(**bureau))


def test_primary_bureau_cannot_be_listed_again() -> None:
    """[bureaus.hbj] beside [bridge] bureau = "hbj" is refused."""
    with pytest.raises(ConfigError, match="bureaus.hbj: is the primary bureau"):
        config_from_dict({"bridge": {"bureau": "hbj"},
                          "bureaus": {"hbj": {"department_code": "x"}}})


def test_bureau_and_mapping_folder_must_agree() -> None:
    """A bureau without a department, without the OA its folder maps, or on the
    portal without a portal mapping is refused before anything runs."""
    from bridge.mapping import load_bureau

    systems = load_bureau(FORESTRY).systems
    config = config_from_dict(_settings(department_code=FORESTRY_DEPARTMENT))
    without_oa = config.bureaus[FORESTRY]

    with pytest.raises(ConfigError, match="has oa.yaml"):
        check_bureau(FORESTRY, systems, without_oa)
    without_oa.portal = True
    without_oa.oa = config_from_dict({}).oa
    with pytest.raises(ConfigError, match="no portal.yaml"):
        check_bureau(FORESTRY, systems, without_oa)
    without_oa.department_code = ""
    with pytest.raises(ConfigError, match="department_code: missing"):
        check_bureau(FORESTRY, systems, without_oa)


def test_config_check_accepts_the_demo_configuration(
    flow: Flow, tmp_path: Path
) -> None:
    """`config check` passes the two-bureau configuration the tests ran with and
    names a bureau's missing OA password."""
    good = check_file(flow.config_path)
    settings = config_from_dict({})  # defaults, for a minimal broken file
    broken = {
        "center": {"secret": "s"}, "oa": {"password": "p"},
        "portal": {"password": "p"},
        "bureaus": {FORESTRY: {"department_code": FORESTRY_DEPARTMENT,
                               "oa": {"url": settings.oa.url}}},
    }
    write_toml(broken, tmp_path / "broken.toml")

    assert good == []
    assert check_file(tmp_path / "broken.toml") == [
        "bureaus.lyj.oa.password: missing (set password_env, password_file or password)"
    ]


def test_reconcile_reads_each_bureau_at_its_own_oa(flow: Flow) -> None:
    """Reconciling the day finds nothing amiss: forestry flows are read at the
    forestry OA and forestry cases are not expected on the portal."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from bridge.audit.reconcile import reconcile
    from bridge.config import load_config
    from bridge.engine.runtime import build_runtime

    rt = build_runtime(load_config(flow.config_path))
    try:
        day = datetime.now(ZoneInfo(rt.config.zone)).date()
        result = reconcile(rt, day)
    finally:
        rt.store.dispose()

    assert result.discrepancies == []
    assert result.counts()[FORESTRY]["center_completed"] == 3
    assert result.counts()[FORESTRY]["oa_finished"] == 3
    assert result.counts()["hbj"]["portal"] == 4


def test_center_only_bureau_is_polled_not_launched(tmp_path: Path) -> None:
    """A bureau without an OA gets a center poll of its own and no sweep; its
    window case is recorded for it and nothing is sent anywhere."""
    from bridge.engine.bridge import Bridge
    from bridge.engine.poll import poll_center
    from bridge.sim.admin import SimAdmin
    from bridge.sim.runner import start_simulator
    from bridge.store.schema import deliveries

    center = start_simulator("center", tmp_path / "center.sqlite")
    try:
        number = SimAdmin(center.url).post(
            "cases", {"department": "11370999MB0000334E", "SXBM": "370999201",
                      "SXMC": "营业性演出审批"}
        )["SBLSH_SHORT"]
        config = config_from_dict({
            "bridge": {"bureau": "hbj", "store": f"sqlite:///{tmp_path / 'b.sqlite'}"},
            "center": {"url": center.url, "secret": "bridge-secret"},
            "bureaus": {"whj": {"department_code": "11370999MB0000334E"}},
        })
        bridge = Bridge(config)
        routed = poll_center(bridge.rt, "whj")
        primary = poll_center(bridge.rt)
        with bridge.rt.store.begin() as conn:
            rows = list(conn.execute(select(cases.c.bureau, cases.c.case_number)))
            sent = list(conn.execute(select(deliveries.c.id)))
        names = set(bridge.jobs())
        bridge.close()
    finally:
        center.stop()

    assert (routed, primary) == (1, 0)
    assert [(row.bureau, row.case_number) for row in rows] == [("whj", number)]
    assert sent == []
    assert "poll_center:whj" in names
    assert not any(name.startswith("sweep_oa:") for name in names)
