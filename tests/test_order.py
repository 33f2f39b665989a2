"""Order per case: a step older than what the target already holds is recorded
as stale and never sent; a step that arrives before its predecessor waits for
it, up to a bound, and is then sent."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import select

from bridge.config import load_config
from bridge.engine.bridge import Bridge
from bridge.engine.outbox import enqueue
from bridge.interchange import NS
from bridge.sim.admin import SimAdmin
from bridge.store.schema import audit_log, cases, deliveries
from tests.bridgerun import Flow, write_counts


def _step_payload(bridge: Bridge, case_id: int, operation: str) -> etree._Element:
    with bridge.rt.store.begin() as conn:
        xml = (
            conn.execute(
                select(deliveries.c.payload_xml).where(
                    deliveries.c.case_id == case_id,
                    deliveries.c.operation == operation,
                )
            )
            .scalars()
            .first()
        )
    return etree.fromstring(xml.encode("utf-8"))


def _set(doc: etree._Element, name: str, value: str) -> None:
    doc.find(f"{{{NS}}}{name}").text = value


def _status(bridge: Bridge, key: str) -> str:
    with bridge.rt.store.begin() as conn:
        return str(
            conn.execute(
                select(deliveries.c.status).where(deliveries.c.dedupe_key == key)
            ).scalar_one()
        )


#: per channel: the target of the steps, their operation there, the write
#: that carries them, the case's key column and the write that ends the case
STEPS = {
    "window": ("center", "step", "center.receiveCourseInfo", cases.c.case_number,
               "finish"),
    "online": ("portal", "progress", "portal.postProgress", cases.c.filing_id,
               "publish"),
}


def _steps_sent(flow: Flow, write: str, key: str) -> int:
    """Step writes that took effect for the case ``key`` (keyed "key#seq")."""
    counts = write_counts(flow.sims)[write]
    return sum(n for name, n in counts.items() if name.startswith(f"{key}#"))


@pytest.mark.parametrize("channel", ["window", "online"])
def test_stale_step_is_recorded_and_not_sent(tmp_path: Path, channel: str) -> None:
    """After a case's end reached a target (the center's completion, the
    portal's result), a late step for it is marked stale, audited, and the
    target receives no more steps for that case."""
    target, operation, write, key_column, ending = STEPS[channel]
    flow = Flow.start(tmp_path, step_seconds=0.05)
    bridge = Bridge(load_config(flow.config_path))
    try:
        online = 1 if channel == "online" else 0
        (case,) = flow.file(online=online, window=1 - online)
        deadline = time.monotonic() + 30
        while not flow.snapshot().finished(case) and time.monotonic() < deadline:
            bridge.run_once()
            time.sleep(0.1)
        before = _steps_sent(flow, write, case.key)
        with bridge.rt.store.begin() as conn:
            case_id = conn.execute(
                select(cases.c.id).where(key_column == case.key)
            ).scalar_one()
        late = _step_payload(bridge, case_id, operation)
        _set(late, "seq", "99")
        key = f"{target}:{operation}:{case_id}:99"
        with bridge.rt.store.begin() as conn:
            enqueue(
                conn,
                case_id,
                target,
                operation,
                key,
                etree.tostring(late, encoding="unicode"),
            )
        bridge.run_once()

        status = _status(bridge, key)
        with bridge.rt.store.begin() as conn:
            stale = (
                conn.execute(
                    select(audit_log.c.detail).where(audit_log.c.outcome == "stale")
                )
                .scalars()
                .all()
            )
    finally:
        bridge.close()
    after = _steps_sent(flow, write, case.key)
    flow.close()

    assert before >= 2
    assert status == "stale"
    assert after == before
    assert stale == [f"step 99 arrived after the case's {ending}"]


def test_step_waits_for_its_predecessor_up_to_the_bound(tmp_path: Path) -> None:
    """A step whose predecessor is missing is held back; once the bound has
    passed it is sent anyway."""
    flow = Flow.start(tmp_path, overrides={"delivery": {"order_wait_seconds": 2.0}})
    SimAdmin(flow.sims.oa.url).post("pace", {"step_seconds": 3600})
    bridge = Bridge(load_config(flow.config_path))
    try:
        (case,) = flow.file(online=0, window=1)
        deadline = time.monotonic() + 30
        while not flow.snapshot().flows.get(case.key) and time.monotonic() < deadline:
            bridge.run_once()
            time.sleep(0.1)
        with bridge.rt.store.begin() as conn:
            row = conn.execute(
                select(cases.c.id, cases.c.flow_id).where(
                    cases.c.case_number == case.key
                )
            ).one()
        step = etree.fromstring(
            f'<stepEvent xmlns="{NS}"><caseNumber>{case.key}</caseNumber>'
            f"<flowId>{row.flow_id}</flowId><seq>2</seq><stepCode>act2</stepCode>"
            "<stepName>初审</stepName><handler>李初审</handler><action>approve</action>"
            "<startTime>2024-03-05T10:30:00+08:00</startTime>"
            "<endTime>2024-03-05T14:10:00+08:00</endTime></stepEvent>"
        )
        key = f"center:step:{row.id}:2"
        with bridge.rt.store.begin() as conn:
            enqueue(
                conn,
                row.id,
                "center",
                "step",
                key,
                etree.tostring(step, encoding="unicode"),
            )
        bridge.run_once()
        held = _status(bridge, key)
        steps_held = len(flow.snapshot().center_by_number[case.key]["steps"])
        time.sleep(2.2)
        bridge.run_once()
        sent = _status(bridge, key)
    finally:
        bridge.close()
    steps = flow.snapshot().center_by_number[case.key]["steps"]
    flow.close()

    assert held == "pending" and steps_held == 0
    assert sent == "done"
    assert [s["SPHJXH"] for s in steps] == ["2"]
