"""Polling the sources: paged listings (portal, center) and the OA's open flows.

Each page is taken in one transaction: the records it routes, their
deliveries, the versions seen and the watermark advance commit together, so a
crash repeats a page rather than losing one.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

import structlog
from lxml import etree
from sqlalchemy import Connection, bindparam, func, select, true, update

from bridge.adapters.base import Cursor, Page
from bridge.clock import format_local, parse_local
from bridge.engine.crash import crashpoint
from bridge.engine.outbox import (
    add_case,
    already_seen,
    dead_letter,
    digest,
    enqueue,
    mark_seen,
    seen_versions,
)
from bridge.engine.reads import read
from bridge.engine.runtime import Bureau, Runtime
from bridge.errors import BridgeError, PermanentError
from bridge.interchange import get
from bridge.store.driver import Prepared
from bridge.store.schema import OPEN_DELIVERIES, cases, deliveries
from bridge.xmlutil import text, to_text

log = structlog.get_logger()

RecordHandler = Callable[[Runtime, Connection, etree._Element, str], str]
Premap = Callable[[Runtime, etree._Element, str], object]
#: the keys of a page the store already holds a case for
Known = Callable[[Connection, list[str]], set[str]]
#: a listed record with its key and its digest (worked out once per page)
Listed = tuple[etree._Element, str, str]


def poll_paged(
    rt: Runtime,
    source: str,
    fetch: Callable[[str, Cursor | None, int], Page],
    key_of: Callable[[etree._Element], str],
    handle: RecordHandler,
    premap: Premap | None = None,
    known: Known | None = None,
) -> int:
    """Read a paged source from its watermark and route what is new.

    ``premap`` maps a page's new records before the page's transaction opens,
    so the transaction (which holds the store's write lock) only writes.
    Records whose keys ``known`` returns are not premapped: their handler
    recognises them from the store without a mapping.

    Most polls go on from the watermark's change time: for
    ``poll.same_second_seconds`` after the watermark reached a second, the
    records of that second are read again (one may change within it); after
    that, when the source's clock has left that second, a poll goes on after
    the watermark's record key. Every
    ``poll.overlap_every_seconds`` one poll reads again from the watermark less
    ``poll.overlap_seconds``, for records committed late with older times. What
    was seen before is recognised by its digest and not routed twice.

    While ``poll.max_waiting_writes`` new cases' writes wait to be sent, no
    further page is read (see ``_held_back``).
    """
    started = time.monotonic()
    if _held_back(rt, source):
        return 0
    with rt.store.reading() as conn:
        mark = rt.store.watermark(conn, source)
    since = _since(rt, mark)
    after: Cursor | None = None
    if mark is not None and not _overlap_due(rt, source, started):
        since = mark[0]
        if _second_closed(rt, source, mark, started):
            after = Cursor(*mark)
    routed = 0
    while True:
        page = read(fetch, since, after, rt.config.poll.page_size)
        listed = [(record, key_of(record), digest(record)) for record in page.records]
        memo = _premapped(rt, source, page, listed, premap, known)
        token = _page_memo.set(memo)
        try:
            with rt.store.begin() as conn:
                routed += _take_page(rt, conn, source, page, listed, handle)
                if page.cursor is not None:
                    _advance(rt, conn, source, mark, page.cursor)
                crashpoint("poll.before_commit")
        finally:
            _page_memo.reset(token)
        if not page.has_more or page.cursor is None or _held_back(rt, source):
            break
        after = page.cursor
    log.info(
        "poll.finished",
        system=source,
        routed=routed,
        ms=round((time.monotonic() - started) * 1000),
    )
    return routed


#: the writes a poll makes for a new case
NEW_CASE_WRITES = ("register", "accept", "launch")
#: new cases' writes never attempted yet (a retry waiting for its backoff is
#: not one, nor a flow's step waiting for the one before it)
_WAITING = (
    select(func.count())
    .select_from(deliveries)
    .where(
        OPEN_DELIVERIES,
        deliveries.c.attempts == 0,
        deliveries.c.operation.in_(NEW_CASE_WRITES),
    )
)


def _held_back(rt: Runtime, source: str) -> bool:
    """Whether enough new cases wait for their first writes that no further
    page is read now.

    Reading a large backlog faster than it is delivered only moves it into
    the store: the watermark waits at the last page taken, and the next poll
    goes on from there. Retries do not count, so a target that is down does
    not stop the records meant for the others.
    """
    limit = rt.config.poll.max_waiting_writes
    if limit <= 0:
        return False
    with rt.store.reading() as conn:
        waiting = int(conn.execute(_WAITING).scalar_one())
    if waiting < limit:
        return False
    log.info("poll.held_back", system=source, waiting=waiting, limit=limit)
    return True


#: the page's records mapped ahead of its transaction: (system, kind, key,
#: bureau) -> the documents, or the error the mapping raised
_page_memo: ContextVar[dict[tuple[str, str, str, str], Any] | None] = ContextVar(
    "page_memo", default=None
)


def _premapped(
    rt: Runtime,
    source: str,
    page: Page,
    listed: list[Listed],
    premap: Premap | None,
    known: Known | None = None,
) -> dict[tuple[str, str, str, str], Any] | None:
    """Map the page's records not seen before and not known, ahead of the
    transaction."""
    if premap is None or not listed:
        return None
    keys = [key for _record, key, _version in listed]
    with rt.store.reading() as conn:
        seen = seen_versions(conn, source, keys)
        held = known(conn, keys) if known is not None else set()
    memo: dict[tuple[str, str, str, str], Any] = {}
    token = _page_memo.set(memo)
    try:
        for record, key, version in listed:
            if key in page.rejected or (key, version) in seen or key in held:
                continue
            try:
                premap(rt, record, key)
            except PermanentError:
                pass  # kept in the memo; raised again inside the transaction
    finally:
        _page_memo.reset(token)
    return memo


#: when each source was last read with the overlap, in this process
_overlap_read: dict[str, float] = {}


#: per source: the watermark's second and when this process first saw it there
_second_seen: dict[str, tuple[str, float]] = {}


def _second_closed(
    rt: Runtime, source: str, mark: tuple[str, str], now: float
) -> bool:
    """Whether the watermark's second is over at the source.

    A record stamped with that second was listed when the source's clock was
    at or past it; ``poll.same_second_seconds`` later the clock has moved on
    and no change can be stamped with it any more (a late commit is caught by
    the overlap read).
    """
    seen = _second_seen.get(source)
    if seen is None or seen[0] != mark[0]:
        _second_seen[source] = (mark[0], now)
        return False
    return now - seen[1] >= rt.config.poll.same_second_seconds


def _overlap_due(rt: Runtime, source: str, now: float) -> bool:
    """Whether this poll of ``source`` re-reads the overlap window."""
    last = _overlap_read.get(source)
    if last is not None and now - last < rt.config.poll.overlap_every_seconds:
        return False
    _overlap_read[source] = now
    return True


def _since(rt: Runtime, mark: tuple[str, str] | None) -> str:
    if mark is None:
        return rt.config.poll.start_from or "2000-01-01 00:00:00"
    instant = parse_local(mark[0], rt.config.zone)
    overlap = timedelta(seconds=rt.config.poll.overlap_seconds)
    return format_local(instant - overlap, rt.config.zone)


def _advance(
    rt: Runtime,
    conn: Connection,
    source: str,
    mark: tuple[str, str] | None,
    cursor: Cursor,
) -> None:
    current = rt.store.watermark(conn, source) or mark
    if current is None or (cursor.time, cursor.key) > current:
        rt.store.set_watermark(conn, source, cursor.time, cursor.key)


def _take_page(
    rt: Runtime,
    conn: Connection,
    source: str,
    page: Page,
    listed: list[Listed],
    handle: RecordHandler,
) -> int:
    routed = 0
    seen = seen_versions(conn, source, (key for _record, key, _version in listed))
    for record, key, version in listed:
        if (key, version) in seen:
            continue
        try:
            if key in page.rejected:
                raise page.rejected[key]
            outcome = handle(rt, conn, record, key)
        except PermanentError as exc:
            outcome = "dead"
            _dead_lettered(
                rt,
                conn,
                exc,
                system=source,
                operation="poll",
                key=key,
                payload=to_text(record),
                payload_digest=version,
            )
        mark_seen(conn, source, key, version, outcome)
        seen.add((key, version))
        routed += outcome == "routed"
    return routed


def _mapped(
    rt: Runtime,
    system: str,
    kind: str,
    record: etree._Element,
    key: str,
    bureau: Bureau | None = None,
) -> dict[str, list[etree._Element]]:
    """Map one native record to interchange documents (with ``bureau``'s mapping,
    the primary's by default); the mapping validates each against the
    configured schemas."""
    served = bureau or rt.bureau(None)
    memo = _page_memo.get()
    slot = (system, kind, key, served.name)
    if memo is not None and slot in memo:
        kept = memo[slot]
        if isinstance(kept, PermanentError):
            raise kept
        return kept  # type: ignore[no-any-return]
    try:
        docs: dict[str, list[etree._Element]] = served.mapping.inbound(
            system, kind, record
        )
    except PermanentError as exc:
        if memo is not None:
            memo[slot] = exc
        raise
    if memo is not None:
        memo[slot] = docs
    return docs


def audit_mapped(
    rt: Runtime,
    conn: Connection,
    system: str,
    key: str,
    docs: dict[str, list[etree._Element]],
    case_number: str | None = None,
) -> None:
    """Two audit entries for a record taken in: what the mapping made of it,
    and that each document passed the interchange schema (with its digest)."""
    made = [(name, doc) for name, found in docs.items() for doc in found]
    if not made:
        return
    rt.store.audit(
        conn,
        system=system,
        operation="map",
        outcome="mapped",
        record_key=key,
        case_number=case_number,
        detail=", ".join(f"{name} {get(doc, 'seq')}".strip() for name, doc in made),
    )
    rt.store.audit(
        conn,
        system=system,
        operation="validate",
        outcome="validated",
        record_key=key,
        case_number=case_number,
        payload_digest=digest(made[0][1]),
        detail=f"{len(made)} document(s) valid against the interchange schema",
    )


def _mapped_case(
    rt: Runtime,
    system: str,
    kind: str,
    record: etree._Element,
    key: str,
    bureau: Bureau | None = None,
) -> etree._Element | None:
    """Map one native record to an interchange case and validate it."""
    found = _mapped(rt, system, kind, record, key, bureau).get("case") or []
    return found[0] if found else None


# -- the portal: online filings that passed pre-review ------------------------------


def handle_filing(
    rt: Runtime, conn: Connection, record: etree._Element, key: str
) -> str:
    """Route a filing: register and accept it at the center, launch its flow;
    or carry the applicant's withdrawal of it to the center and the OA."""
    docs = _mapped(rt, "portal", "filing", record, key)
    audit_mapped(rt, conn, "portal", key, docs)
    if docs.get("withdrawal"):
        return withdraw(rt, conn, docs["withdrawal"][0], key)
    case = (docs.get("case") or [None])[0]
    if case is None:
        rt.store.audit(
            conn,
            system="portal",
            operation="poll",
            outcome="ignored",
            record_key=key,
            detail=f"filing status {text(record, 'status')} is not routed",
        )
        return "ignored"
    case_id = add_case(
        conn,
        bureau=rt.config.bureau,
        channel="online",
        matter_code=get(case, "matter/code"),
        case_xml=to_text(case),
        filing_id=key,
    )
    if case_id is None:
        return "known"
    enqueue(conn, case_id, "center", "register", f"center:register:{case_id}")
    enqueue(conn, case_id, "center", "accept", f"center:accept:{case_id}")
    enqueue(conn, case_id, "oa", "launch", f"oa:launch:{case_id}")
    rt.store.audit(
        conn,
        system="portal",
        operation="poll",
        outcome="routed",
        record_key=key,
        payload_digest=digest(case),
    )
    return "routed"


def withdraw(
    rt: Runtime, conn: Connection, withdrawal: etree._Element, key: str
) -> str:
    """Carry an applicant's withdrawal: a returned completion at the center and
    a notice to the flow's handlers at the OA (the contract cannot stop a flow).

    A workflow not yet sent is not sent at all; the flow of a withdrawn case is
    no longer swept, so its later steps and result are not carried.
    """
    row = conn.execute(
        select(cases.c.id, cases.c.state).where(cases.c.filing_id == key)
    ).first()
    if row is None or row.state in ("completed", "withdrawn"):
        why = "not taken in" if row is None else f"already {row.state}"
        rt.store.audit(
            conn,
            system="portal",
            operation="withdrawal",
            outcome="ignored",
            record_key=key,
            detail=why,
        )
        return "ignored"
    payload = to_text(withdrawal)
    enqueue(conn, row.id, "center", "withdraw", f"center:withdraw:{row.id}", payload)
    if _end_withdrawn(conn, row.id, "case withdrawn before launch", target="oa"):
        enqueue(conn, row.id, "oa", "notify", f"oa:notify:{row.id}", payload)
    rt.store.audit(
        conn,
        system="portal",
        operation="withdrawal",
        outcome="routed",
        record_key=key,
        payload_digest=digest(withdrawal),
    )
    return "routed"


def _end_withdrawn(
    conn: Connection, case_id: int, reason: str, target: str | None = None
) -> bool:
    """Close a withdrawn case: its writes not yet sent (to ``target``, or to
    every system) are dropped as stale and its flow is no longer swept. True
    when its workflow was launched or is being launched, so that the flow's
    handlers need a notice."""
    unsent = [
        deliveries.c.case_id == case_id,
        deliveries.c.status == "pending",
        deliveries.c.attempts == 0,
    ]
    if target is not None:
        unsent.append(deliveries.c.target == target)
    conn.execute(
        update(deliveries).where(*unsent).values(status="stale", last_error=reason)
    )
    conn.execute(
        update(cases)
        .where(cases.c.id == case_id)
        .values(state="withdrawn", flow_open=False, updated_at=datetime.now(UTC))
    )
    launched = conn.execute(
        select(deliveries.c.id).where(
            deliveries.c.case_id == case_id,
            deliveries.c.operation == "launch",
            deliveries.c.status != "stale",
        )
    ).first()
    return launched is not None


def withdrawn_at_center(
    rt: Runtime, conn: Connection, served: Bureau, row: Any, key: str
) -> str:
    """A case of the bridge's that the center shows as returned (BJJGDM 1): if
    the bridge did not write that completion and the center's record says the
    applicant withdrew, tell the OA flow's handlers and publish the withdrawal
    on the portal; writes for the case not yet sent are not sent."""
    if row.state in ("completed", "withdrawn"):
        return "echo"
    written = conn.execute(
        select(deliveries.c.id).where(
            deliveries.c.case_id == row.id,
            deliveries.c.target == "center",
            deliveries.c.operation.in_(("finish", "withdraw")),
            (deliveries.c.status == "done") | (deliveries.c.attempts > 0),
        )
    ).first()
    if written is not None:
        return "echo"
    held = read(rt.center.get_apply_info, case_number=key)
    docs = (
        served.mapping.inbound("center", "applyInfo", held) if held is not None else {}
    )
    found = docs.get("withdrawal") or []
    if not found:
        return "echo"
    audit_mapped(rt, conn, served.source("center"), key, docs, key)
    payload = to_text(found[0])
    launched = _end_withdrawn(conn, row.id, "case withdrawn at the center")
    if served.oa is not None and launched:
        enqueue(conn, row.id, "oa", "notify", f"oa:notify:{row.id}", payload)
    if served.portal:
        enqueue(
            conn, row.id, "portal", "withdrawn", f"portal:withdrawn:{row.id}", payload
        )
    rt.store.audit(
        conn,
        system="center",
        operation="withdrawal",
        outcome="routed",
        case_number=key,
        record_key=key,
        payload_digest=digest(found[0]),
        detail="recorded at a center window; unsent writes for the case dropped",
    )
    return "routed"


def poll_portal(rt: Runtime) -> int:
    return poll_paged(
        rt,
        "portal",
        rt.portal.list_filings,
        lambda record: text(record, "filingNo"),
        handle_filing,
        lambda rt, record, key: _mapped(rt, "portal", "filing", record, key),
    )


# -- the center: cases accepted at a window -----------------------------------------


#: a window case the store knows by its number: its id and state
_CASE_BY_NUMBER = Prepared(
    select(cases.c.id, cases.c.state).where(
        cases.c.case_number == bindparam("b_number")
    )
)


class CaseRow(NamedTuple):
    """A case's id and state, as the store holds them."""

    id: int
    state: str


def handle_window_case(
    rt: Runtime,
    conn: Connection,
    record: etree._Element,
    key: str,
    bureau: str | None = None,
) -> str:
    """Route a window case of ``bureau`` (the primary by default) to its OA;
    recognise the bridge's own cases (echoes) and other bureaus' cases."""
    served = rt.bureau(bureau)
    found = _CASE_BY_NUMBER.rows(conn, {"b_number": key})
    known = CaseRow(*found[0]) if found else None
    if known is not None and text(record, "BJJGDM") == "1":
        return withdrawn_at_center(rt, conn, served, known, key)
    if text(record, "WSSBLSH") or text(record, "TJFS") == "1":
        return "echo"
    if _department_elsewhere(rt, served, text(record, "SLBMZZJGDM")):
        return "other bureau"
    if known is not None:
        return "echo"
    if text(record, "SLZTDM") != "1" or text(record, "BJJGDM"):
        return "ignored"
    case = _mapped_case(rt, "center", "windowCase", record, key, served)
    if case is None:
        return "ignored"
    audit_mapped(rt, conn, served.source("center"), key, {"case": [case]}, key)
    case_id = add_case(
        conn,
        bureau=served.name,
        channel="window",
        matter_code=get(case, "matter/code"),
        case_xml=to_text(case),
        case_number=key,
    )
    if case_id is None:
        return "echo"
    if served.oa is not None:
        enqueue(conn, case_id, "oa", "launch", f"oa:launch:{case_id}")
    rt.store.audit(
        conn,
        system="center",
        operation="poll",
        outcome="routed",
        case_number=key,
        record_key=key,
        payload_digest=digest(case),
        detail=None if served.primary else f"bureau {served.name}",
    )
    return "routed"


def _department_elsewhere(rt: Runtime, served: Bureau, department: str) -> bool:
    """A case of another served bureau's department: a poll without a
    department code lists every department's cases, theirs included."""
    return bool(department) and any(
        other.department_code == department
        for other in rt.bureaus.values()
        if other is not served
    )


def poll_center(rt: Runtime, bureau: str | None = None) -> int:
    """Take in the window cases of ``bureau``'s department (the primary's)."""
    served = rt.bureau(bureau)

    def fetch(since: str, after: Cursor | None, size: int) -> Page:
        return rt.center.query_window_cases(
            since, after, size, department=served.department_code
        )

    def handle(rt: Runtime, conn: Connection, record: etree._Element, key: str) -> str:
        return handle_window_case(rt, conn, record, key, served.name)

    def premap(rt: Runtime, record: etree._Element, key: str) -> object:
        """Map what looks like a new window case (the rest needs the store)."""
        if (
            text(record, "SLZTDM") != "1"
            or text(record, "BJJGDM")
            or text(record, "WSSBLSH")
            or text(record, "TJFS") == "1"
            or _department_elsewhere(rt, served, text(record, "SLBMZZJGDM"))
        ):
            return None
        return _mapped(rt, "center", "windowCase", record, key, served)

    return poll_paged(
        rt,
        served.source("center"),
        fetch,
        lambda record: text(record, "SBLSH_SHORT"),
        handle,
        premap,
        _numbered_cases,
    )


#: which of some case numbers the store holds a case for
_NUMBERED = select(cases.c.case_number).where(
    cases.c.case_number.in_(bindparam("b_numbers", expanding=True))
)


def _numbered_cases(conn: Connection, numbers: list[str]) -> set[str]:
    """The numbers of ``numbers`` that are cases in the store: the center lists
    a case again each time the bridge writes to it, and such a case is an echo
    (or a withdrawal at the window), never mapped as a new window case."""
    return set(conn.execute(_NUMBERED, {"b_numbers": numbers}).scalars())


# -- the OA: a sweep over the open flows the bridge launched -------------------------


def sweep_oa(rt: Runtime, bureau: str | None = None) -> int:
    """Read the due open flows of ``bureau``'s OA (the primary's); route their
    new steps and final results.

    Flows are read ``poll.sweep_list_size`` at a time in one OA call; a flow
    whose export has not changed since it was last routed is not mapped again.
    """
    served = rt.bureau(bureau)
    now = datetime.now(UTC)
    with rt.store.reading() as conn:
        due = conn.execute(
            select(
                cases.c.id,
                cases.c.flow_id,
                cases.c.case_number,
                cases.c.filing_id,
                cases.c.swept_digest,
            )
            .where(
                cases.c.flow_open.is_(True),
                cases.c.next_sweep_at <= now,
                _of_bureau(rt, served),
            )
            .order_by(cases.c.next_sweep_at)
            .limit(rt.config.poll.sweep_batch)
        ).all()
    size = max(1, rt.config.poll.sweep_list_size)
    routed = sum(
        _sweep_flows(rt, due[start : start + size], served)
        for start in range(0, len(due), size)
    )
    if due:
        log.info(
            "sweep.finished", system=served.source("oa"), flows=len(due), routed=routed
        )
    return routed


def _sweep_flows(rt: Runtime, rows: list[Any], served: Bureau) -> int:
    """Read ``rows``' flows in one call and route what changed in them."""
    try:
        exported = read(served.oa.export_flows, [row.flow_id for row in rows])
    except PermanentError as exc:
        if len(rows) == 1:
            _flow_lost(rt, rows[0], exc, served)
            return 0
        # one of them is unknown to the OA: read them one by one to tell which
        return sum(_sweep_flows(rt, [row], served) for row in rows)
    except BridgeError as exc:
        log.warning(
            "sweep.flows_failed",
            flows=len(rows),
            first_case=rows[0].case_number,
            bureau=served.name,
            error=str(exc),
        )
        with rt.store.begin() as conn:
            for row in rows:
                _reschedule(rt, conn, row.id)
        return 0
    # mapped first, outside the transaction, which then only writes
    mapped = [
        _map_flow(rt, row, export, served)
        for row, export in zip(rows, exported, strict=True)
    ]
    routed = 0
    with rt.store.begin() as conn:
        for row, export, (version, docs) in zip(rows, exported, mapped, strict=True):
            routed += _route_flow(rt, conn, row, export, version, docs, served)
    return routed


def _map_flow(
    rt: Runtime, row: Any, exported: etree._Element, served: Bureau
) -> tuple[str, dict[str, list[etree._Element]] | PermanentError | None]:
    """The export's digest and its documents: None when it is the export
    routed last time, the error when it does not map."""
    version = digest(exported)
    if version == row.swept_digest:
        return version, None
    try:
        return version, _mapped(rt, "oa", "flow", exported, str(row.flow_id), served)
    except PermanentError as exc:
        return version, exc


def _route_flow(
    rt: Runtime,
    conn: Connection,
    row: Any,
    exported: etree._Element,
    version: str,
    docs: dict[str, list[etree._Element]] | PermanentError | None,
    served: Bureau,
) -> int:
    """Route one flow's mapped export; the flow's next sweep is set in the
    same transaction."""
    if docs is None:
        _reschedule(rt, conn, row.id)
        return 0
    key = str(row.flow_id)
    system = served.source("oa")
    if isinstance(docs, PermanentError):
        exc = docs
        if not already_seen(conn, system, key, version):
            _dead_lettered(
                rt,
                conn,
                exc,
                system=system,
                operation="sweep",
                key=key,
                payload=to_text(exported),
                case_number=row.case_number,
            )
            mark_seen(conn, system, key, version, "dead")
        _reschedule(rt, conn, row.id)
        return 0
    events = flow_events(row, docs, portal=served.portal)
    routed = sum(
        enqueue(conn, row.id, target, operation, dedupe, payload)
        for target, operation, dedupe, payload in events
    )
    if routed:
        audit_mapped(rt, conn, system, key, docs, row.case_number)
        rt.store.audit(
            conn,
            system=system,
            operation="sweep",
            outcome="routed",
            case_number=row.case_number,
            record_key=key,
            detail=f"{routed} new events",
        )
    _reschedule(rt, conn, row.id, closed=bool(docs.get("result")), swept=version)
    return routed


def _of_bureau(rt: Runtime, served: Bureau) -> Any:
    """The cases ``served`` sweeps: its own; the primary's are all but the
    further bureaus' (so a store from before the bureau column mattered works)."""
    if not served.primary:
        return cases.c.bureau == served.name
    others = [name for name, other in rt.bureaus.items() if other is not served]
    return cases.c.bureau.notin_(others) if others else true()


def _flow_lost(rt: Runtime, row: Any, error: PermanentError, served: Bureau) -> None:
    """A flow the OA no longer answers for: dead-lettered, no longer swept
    (a replay sweeps it again)."""
    system = served.source("oa")
    with rt.store.begin() as conn:
        _dead_lettered(
            rt,
            conn,
            error,
            system=system,
            operation="sweep",
            key=str(row.flow_id),
            payload=None,
            case_number=row.case_number,
        )
        conn.execute(update(cases).where(cases.c.id == row.id).values(flow_open=False))


def _dead_lettered(
    rt: Runtime,
    conn: Connection,
    error: BridgeError,
    *,
    system: str,
    operation: str,
    key: str,
    payload: str | None,
    case_number: str | None = None,
    payload_digest: str | None = None,
) -> None:
    """A record or flow put in the dead-letter store, with its audit entry."""
    dead_letter(
        conn,
        error,
        system=system,
        operation=operation,
        record_key=key,
        payload=payload,
    )
    rt.store.audit(
        conn,
        system=system,
        operation=operation,
        outcome="dead-lettered",
        case_number=case_number,
        record_key=key,
        detail=str(error),
        payload_digest=payload_digest,
    )


def _reschedule(
    rt: Runtime,
    conn: Connection,
    case_id: int,
    closed: bool = False,
    swept: str | None = None,
) -> None:
    """Set a flow's next sweep (spread around the interval); ``closed`` ends
    its sweeps, ``swept`` is the digest of the export just routed."""
    interval = rt.config.poll.sweep_interval_seconds
    spread = timedelta(seconds=interval * (0.75 + random.random() / 2))
    values: dict[str, Any] = {
        "b_id": case_id,
        "b_next": datetime.now(UTC) + spread,
    }
    if swept is not None:
        values["b_swept"] = swept
    _next_sweep(closed, swept is not None).execute(conn, values)


@functools.lru_cache(maxsize=4)
def _next_sweep(closed: bool, swept: bool) -> Prepared:
    """The statement that sets a flow's next sweep, per kind (built once)."""
    values: dict[str, Any] = {"next_sweep_at": bindparam("b_next")}
    if swept:
        values["swept_digest"] = bindparam("b_swept")
    if closed:
        values.update(flow_open=False, state="completed")
    return Prepared(
        update(cases).where(cases.c.id == bindparam("b_id")).values(**values)
    )


#: per flow document: (target, operation, online cases only), in the order a
#: node's events reach their targets
FLOW_ROUTES: dict[str, list[tuple[str, str, bool]]] = {
    "stepEvent": [("center", "step", False), ("portal", "progress", True)],
    "suspension": [("center", "suspend", False)],
    "resumption": [("center", "resume", False)],
    "result": [("center", "finish", False), ("portal", "publish", False)],
}


def flow_events(
    row: Any, docs: dict[str, list[etree._Element]], portal: bool = True
) -> list[tuple[str, str, str, str]]:
    """The deliveries a flow's documents call for, in the order of the flow's
    processing record: each node's step, then the suspension it starts and the
    resumption that ends it; the result last. Each has its de-duplication key.
    Without ``portal`` (a bureau not on the portal) none goes to the portal."""
    ordered = []
    for rank, name in enumerate(FLOW_ROUTES):
        for doc in docs.get(name, [])[: 1 if name == "result" else None]:
            seq = int(get(doc, "seq") or 10**9)
            ordered.append((seq, rank, name, doc))
    events = []
    for seq, _rank, name, doc in sorted(ordered, key=lambda item: item[:2]):
        payload = to_text(doc)
        for target, operation, online_only in FLOW_ROUTES[name]:
            if (online_only and not row.filing_id) or (
                target == "portal" and not portal
            ):
                continue
            suffix = "" if name == "result" else f":{seq}"
            events.append(
                (target, operation, f"{target}:{operation}:{row.id}{suffix}", payload)
            )
    return events
