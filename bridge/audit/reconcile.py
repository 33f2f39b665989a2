"""Reconciliation: what the center, the OA and the portal hold for one day.

For each bureau and each case the bridge linked that day (in the configured
zone), and each window case the center lists for that day, it reads the
case at every system with read operations only and lists each case missing
from a system or whose state there lags behind another system's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select

from bridge.errors import PermanentError
from bridge.store.schema import cases
from bridge.xmlutil import local

log = structlog.get_logger()

#: OA states in which a flow has reached its end (approved, refused, revoked)
OA_FINAL = ("finished", "terminated", "revoked")


@dataclass
class Holding:
    """What each system holds for one case."""

    bureau: str
    case_number: str
    channel: str
    center: str = "missing"
    oa: str = "missing"
    portal: str = "missing"


@dataclass
class Discrepancy:
    """One case missing from a system, or behind there."""

    bureau: str
    case_number: str
    system: str
    kind: str
    detail: str


@dataclass
class Reconciliation:
    """The day's counts per bureau and every discrepancy found."""

    day: date
    holdings: list[Holding] = field(default_factory=list)
    discrepancies: list[Discrepancy] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        """Per bureau: cases linked, held by each system, completed, published."""
        found: dict[str, dict[str, int]] = {}
        for held in self.holdings:
            row = found.setdefault(
                held.bureau,
                dict.fromkeys(
                    (
                        "cases",
                        "center",
                        "oa",
                        "portal",
                        "center_completed",
                        "oa_finished",
                    ),
                    0,
                ),
            )
            row["cases"] += 1
            row["center"] += held.center != "missing"
            row["oa"] += held.oa != "missing"
            row["portal"] += held.portal == "published"
            row["center_completed"] += held.center == "completed"
            row["oa_finished"] += held.oa in OA_FINAL
        return found


def day_window(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The start and end of ``day`` in ``zone``, as UTC instants (the store's)."""
    start = datetime.combine(day, time(), tzinfo=zone)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def reconcile(rt: Any, day: date) -> Reconciliation:
    """Compare the three systems for ``day`` through the runtime's adapters."""
    zone = ZoneInfo(rt.config.zone)
    start, end = day_window(day, zone)
    linked = _linked_cases(rt, start, end)
    result = Reconciliation(day)
    for row in linked:
        held = _holding(rt, row)
        result.holdings.append(held)
        result.discrepancies += compare(held)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    result.discrepancies += _unlinked_center_cases(rt, local_start, local_end)
    log.info(
        "reconcile.finished",
        day=day.isoformat(),
        cases=len(result.holdings),
        discrepancies=len(result.discrepancies),
    )
    return result


def _linked_cases(rt: Any, start: datetime, end: datetime) -> list[Any]:
    query = select(cases).where(cases.c.created_at >= start, cases.c.created_at < end)
    with rt.store.engine.connect() as conn:
        return list(conn.execute(query.order_by(cases.c.id)).all())


def _holding(rt: Any, row: Any) -> Holding:
    held = Holding(
        row.bureau, row.case_number or row.filing_id or str(row.id), row.channel
    )
    bureau = getattr(rt, "bureaus", {}).get(row.bureau)
    if row.case_number:
        held.center = _center_state(rt, row.case_number)
        on_portal = bureau is None or bureau.portal
        held.portal = _portal_state(rt, row.case_number) if on_portal else "not used"
    if row.flow_id is not None:
        oa = bureau.oa if bureau is not None and bureau.oa is not None else rt.oa
        held.oa = _oa_state(oa, int(row.flow_id))
    return held


def _center_state(rt: Any, number: str) -> str:
    try:
        data = rt.center.get_apply_info(case_number=number)
    except PermanentError:
        return "missing"
    if data is None:
        return "missing"
    blocks = {local(child.tag) for child in data}
    if "SPBANJIE" in blocks:
        return "completed"
    return "accepted" if "SPSHOULI" in blocks else "registered"


def _oa_state(oa: Any, flow_id: int) -> str:
    try:
        return str(oa.state_name(oa.flow_state(flow_id)))
    except PermanentError:
        return "missing"


def _portal_state(rt: Any, number: str) -> str:
    return "published" if rt.portal.get_publication(number) else "missing"


def compare(held: Holding) -> list[Discrepancy]:
    """The discrepancies of one case between the three systems."""
    found: list[Discrepancy] = []

    def note(system: str, kind: str, detail: str) -> None:
        found.append(Discrepancy(held.bureau, held.case_number, system, kind, detail))

    if held.center == "missing":
        note("center", "missing", "the center holds no such case")
    if held.oa == "missing" and held.center in ("accepted", "completed"):
        note("oa", "missing", "no OA flow for an accepted case")
    if held.oa in OA_FINAL and held.center != "completed":
        note("center", "behind", f"OA flow {held.oa}, center {held.center}")
    if held.center == "completed" and held.oa not in (*OA_FINAL, "missing"):
        note("oa", "behind", f"center completed, OA flow {held.oa}")
    done = held.center == "completed" or held.oa in OA_FINAL
    if done and held.portal not in ("published", "not used"):
        note("portal", "missing", "finished case not published")
    return found


def _unlinked_center_cases(
    rt: Any, start: datetime, end: datetime
) -> list[Discrepancy]:
    known = _all_case_numbers(rt)
    since = start.strftime("%Y-%m-%d %H:%M:%S")
    found: list[Discrepancy] = []
    cursor = None
    while True:
        page = rt.center.query_window_cases(since, cursor)
        for record in page.records:
            number = _record_text(record, "SBLSH_SHORT")
            accepted = _record_text(record, "SLSJ") or _record_text(record, "GXSJ")
            if number and number not in known and accepted < _local(end):
                found.append(
                    Discrepancy(
                        rt.config.bureau,
                        number,
                        "oa",
                        "missing",
                        "center window case the bridge never took in",
                    )
                )
        if not page.has_more or page.cursor is None:
            return found
        cursor = page.cursor


def _all_case_numbers(rt: Any) -> set[str]:
    with rt.store.engine.connect() as conn:
        rows = conn.execute(select(cases.c.case_number)).scalars()
        return {number for number in rows if number}


def _record_text(record: Any, name: str) -> str:
    for element in record.iter():
        if local(element.tag) == name and element.text:
            return element.text.strip()
    return ""


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")
