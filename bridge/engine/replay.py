"""The dead-letter store seen from outside: list, show and replay.

Replaying runs the record again through the current mapping files. A dead
delivery goes back into the outbox, marked as possibly sent so that the target
is read back before anything is sent again; a record that failed at the poll
is routed again from its stored native form; a flow whose export failed is
swept again. Every replay is written to the audit log with who and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree
from sqlalchemy import Row, select, update

from bridge.engine.outbox import mark_seen
from bridge.engine.poll import handle_filing, handle_window_case
from bridge.engine.runtime import Runtime
from bridge.errors import BridgeError, ConfigError
from bridge.interchange import get
from bridge.store.schema import cases, dead_letters, deliveries
from bridge.xmlutil import parse_xml, to_text

#: (target, operation) of a delivery → the mapping kind and the payload's name
OUTBOUND: dict[tuple[str, str], tuple[str, str | None]] = {
    ("center", "register"): ("registration", None),
    ("center", "accept"): ("acceptance", None),
    ("center", "step"): ("step", "stepEvent"),
    ("center", "finish"): ("completion", "result"),
    ("oa", "launch"): ("launch", None),
    ("portal", "progress"): ("progress", "stepEvent"),
    ("portal", "publish"): ("publication", "result"),
    ("center", "withdraw"): ("withdrawal", "withdrawal"),
    ("center", "suspend"): ("suspension", "suspension"),
    ("center", "resume"): ("resumption", "resumption"),
    ("portal", "withdrawn"): ("withdrawal", "withdrawal"),
}

POLL_HANDLERS = {"portal": handle_filing, "center": handle_window_case}


@dataclass
class ReplayResult:
    """What replaying one dead letter did, or would do."""

    letter_id: int
    action: str
    ok: bool
    lines: list[str]


def list_letters(rt: Runtime, include_replayed: bool = False) -> list[Row[Any]]:
    query = select(dead_letters).order_by(dead_letters.c.id)
    if not include_replayed:
        query = query.where(dead_letters.c.replayed_at.is_(None))
    with rt.store.begin() as conn:
        return list(conn.execute(query))


def get_letter(rt: Runtime, letter_id: int) -> Row[Any]:
    with rt.store.begin() as conn:
        row = conn.execute(
            select(dead_letters).where(dead_letters.c.id == letter_id)
        ).first()
    if row is None:
        raise ConfigError(f"no dead letter {letter_id}")
    return row


def replay(
    rt: Runtime, letter_id: int, *, reason: str, operator: str, dry_run: bool
) -> ReplayResult:
    """Replay one dead letter (or say what replaying it would send)."""
    letter = get_letter(rt, letter_id)
    if letter.replayed_at is not None and not dry_run:
        return ReplayResult(letter_id, "none", False, ["already replayed"])
    if letter.delivery_id is not None:
        result = _replay_delivery(rt, letter, dry_run)
    elif _source_bureau(letter)[0] == "oa":
        result = _replay_sweep(rt, letter, dry_run)
    else:
        result = _replay_record(rt, letter, dry_run)
    if result.ok and not dry_run:
        _mark_replayed(rt, letter, reason, operator, result.action)
    return result


def _mark_replayed(
    rt: Runtime, letter: Row[Any], reason: str, operator: str, action: str
) -> None:
    with rt.store.begin() as conn:
        conn.execute(
            update(dead_letters)
            .where(dead_letters.c.id == letter.id)
            .values(replayed_at=datetime.now(UTC))
        )
        rt.store.audit(
            conn,
            system=letter.system,
            operation="replay",
            outcome="replayed",
            record_key=letter.record_key,
            detail=f"dead letter {letter.id} {action} by {operator}: {reason}",
        )


def _replay_delivery(rt: Runtime, letter: Row[Any], dry_run: bool) -> ReplayResult:
    with rt.store.begin() as conn:
        row = conn.execute(
            select(deliveries, cases.c.case_xml, cases.c.bureau)
            .join(cases, cases.c.id == deliveries.c.case_id)
            .where(deliveries.c.id == letter.delivery_id)
        ).one()
    lines = [f"to {row.target} ({row.operation})"]
    if (row.target, row.operation) in OUTBOUND:
        kind, payload_name = OUTBOUND[(row.target, row.operation)]
        docs = {"case": parse_xml(row.case_xml)}
        if payload_name and row.payload_xml:
            docs[payload_name] = parse_xml(row.payload_xml)
        try:
            message = rt.bureau(row.bureau).mapping.outbound(row.target, kind, docs)
        except BridgeError as exc:
            return ReplayResult(letter.id, "requeue", False, [f"still fails: {exc}"])
        lines[0] += f", mapping kind {kind}:"
        if message.root is not None:
            lines.append(
                etree.tostring(message.root, encoding="unicode", pretty_print=True)
            )
        lines += [f"  {key} = {value}" for key, value in message.params.items()]
    if not dry_run:
        with rt.store.begin() as conn:
            conn.execute(
                update(deliveries)
                .where(deliveries.c.id == row.id)
                .values(
                    status="pending",
                    attempts=max(int(row.attempts), 1),
                    next_attempt_at=datetime.now(UTC),
                    created_at=datetime.now(UTC),
                    last_error=None,
                )
            )
    return ReplayResult(letter.id, "requeued", True, lines)


def _source_bureau(letter: Row[Any]) -> tuple[str, str | None]:
    """The system and bureau of a dead letter's source: "center:lyj" is the
    forestry bureau's center poll; a bare name is the primary bureau's."""
    system, _, bureau = str(letter.system).partition(":")
    return system, bureau or None


def _replay_record(rt: Runtime, letter: Row[Any], dry_run: bool) -> ReplayResult:
    system, bureau = _source_bureau(letter)
    handler = POLL_HANDLERS.get(system)
    if handler is None or not letter.payload:
        return ReplayResult(letter.id, "reroute", False, ["nothing to replay"])
    record = parse_xml(letter.payload)
    kind = "filing" if system == "portal" else "windowCase"
    try:
        docs = rt.bureau(bureau).mapping.inbound(system, kind, record)
    except BridgeError as exc:
        return ReplayResult(letter.id, "reroute", False, [f"still fails: {exc}"])
    lines = [f"{name}: {to_text(doc)}" for name, found in docs.items() for doc in found]
    if dry_run:
        return ReplayResult(letter.id, "rerouted", True, lines)
    with rt.store.begin() as conn:
        if bureau is None:
            outcome = handler(rt, conn, record, letter.record_key)
        else:
            outcome = handle_window_case(rt, conn, record, letter.record_key, bureau)
        mark_seen(conn, letter.system, letter.record_key, "replay", outcome)
    return ReplayResult(letter.id, "rerouted", outcome == "routed", lines + [outcome])


def _replay_sweep(rt: Runtime, letter: Row[Any], dry_run: bool) -> ReplayResult:
    flow_id = int(letter.record_key)
    _system, bureau = _source_bureau(letter)
    served = rt.bureau(bureau)
    if letter.payload:
        try:
            docs = served.mapping.inbound("oa", "flow", parse_xml(letter.payload))
        except BridgeError as exc:
            return ReplayResult(letter.id, "resweep", False, [f"still fails: {exc}"])
        lines = [
            f"{name} {get(doc, 'seq')}".strip()
            for name, found in docs.items()
            for doc in found
        ]
    else:
        lines = []
    if not dry_run:
        with rt.store.begin() as conn:
            conn.execute(
                update(cases)
                .where(cases.c.flow_id == flow_id, cases.c.bureau == served.name)
                .values(flow_open=True, next_sweep_at=datetime.now(UTC))
            )
    return ReplayResult(letter.id, "resweep", True, lines)
