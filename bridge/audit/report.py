"""The supervision report: per bureau and matter, who keeps their promises.

Figures per bureau and matter over the cases accepted in a period: accepted,
completed, the on-time rate of promised cases (finished by the due date ÷
finished), average working days used against promised, overdue open cases
(red) and open cases with at most one working day left (yellow). Written as
figures.csv and cases.csv, and index.html with matplotlib charts inline.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from lxml import etree
from sqlalchemy import func, select

from bridge.store import Store
from bridge.store.schema import audit_log, cases

NS = {"i": "urn:govbridge:interchange:1"}


@dataclass
class CaseFacts:
    """What the report needs to know of one case."""

    bureau: str
    matter_code: str
    matter_name: str
    case_number: str
    accepted: datetime
    limit: int
    unit: str
    completed: datetime | None = None


@dataclass
class CaseStatus:
    """One case measured against its promise."""

    bureau: str
    matter_code: str
    case_number: str
    accepted: date
    due: date | None
    completed: date | None
    used: int | None
    promised: int | None
    on_time: bool | None
    left: int | None
    flag: str


@dataclass
class MatterFigures:
    """The figures of one bureau and matter."""

    bureau: str
    matter_code: str
    matter_name: str
    accepted: int
    completed: int
    promised: int
    promised_finished: int
    on_time: int
    on_time_rate: float | None
    avg_used: float | None
    avg_promised: float | None
    red: int
    yellow: int


def assess(facts: CaseFacts, calendar: Any, zone: ZoneInfo) -> CaseStatus:
    """Due date, working days used and the red/yellow flag of one case."""
    accepted = facts.accepted.astimezone(zone).date()
    completed = facts.completed.astimezone(zone).date() if facts.completed else None
    due = calendar.due_date(accepted, facts.limit, facts.unit) if facts.limit else None
    used = calendar.working_days_between(accepted, completed) if completed else None
    promised = calendar.working_days_between(accepted, due) if due else None
    on_time = None if due is None or completed is None else completed <= due
    left = calendar.working_days_left(due) if due and completed is None else None
    flag = "" if left is None else "red" if left < 0 else "yellow" if left <= 1 else ""
    return CaseStatus(
        facts.bureau,
        facts.matter_code,
        facts.case_number,
        accepted,
        due,
        completed,
        used,
        promised,
        on_time,
        left,
        flag,
    )


def figures(
    facts: Iterable[CaseFacts], calendar: Any, zone: ZoneInfo
) -> tuple[list[MatterFigures], list[CaseStatus]]:
    """Per bureau and matter figures, and every case's status, sorted."""
    groups: dict[tuple[str, str], list[CaseStatus]] = {}
    names: dict[tuple[str, str], str] = {}
    statuses: list[CaseStatus] = []
    for fact in facts:
        status = assess(fact, calendar, zone)
        statuses.append(status)
        groups.setdefault((fact.bureau, fact.matter_code), []).append(status)
        names[(fact.bureau, fact.matter_code)] = fact.matter_name
    rows = [_matter(key, names[key], groups[key]) for key in sorted(groups)]
    statuses.sort(key=lambda s: (s.bureau, s.matter_code, s.case_number))
    return rows, statuses


def _matter(key: tuple[str, str], name: str, group: list[CaseStatus]) -> MatterFigures:
    promised = [s for s in group if s.due is not None]
    finished = [s for s in promised if s.completed is not None]
    on_time = sum(bool(s.on_time) for s in finished)
    return MatterFigures(
        bureau=key[0],
        matter_code=key[1],
        matter_name=name,
        accepted=len(group),
        completed=sum(s.completed is not None for s in group),
        promised=len(promised),
        promised_finished=len(finished),
        on_time=on_time,
        on_time_rate=round(100.0 * on_time / len(finished), 1) if finished else None,
        avg_used=_mean([s.used for s in finished]),
        avg_promised=_mean([s.promised for s in finished]),
        red=sum(s.flag == "red" for s in group),
        yellow=sum(s.flag == "yellow" for s in group),
    )


def _mean(values: list[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return round(sum(known) / len(known), 2) if known else None


def load_facts(
    store: Store, since: datetime, until: datetime, bureau: str | None = None
) -> list[CaseFacts]:
    """Cases accepted in [since, until) from the store; completion is the time
    the center took the result (the audit log's delivered ``finish``)."""
    finished = (
        select(audit_log.c.case_number, func.min(audit_log.c.at))
        .where(
            audit_log.c.system == "center",
            audit_log.c.operation == "finish",
            audit_log.c.outcome == "delivered",
        )
        .group_by(audit_log.c.case_number)
    )
    query = select(cases.c.bureau, cases.c.case_number, cases.c.case_xml)
    if bureau:
        query = query.where(cases.c.bureau == bureau)
    with store.engine.connect() as conn:
        done = {number: _aware(at) for number, at in conn.execute(finished)}
        rows = conn.execute(query.where(cases.c.case_number.is_not(None))).all()
    found = [_facts(row, done.get(row.case_number)) for row in rows]
    return [f for f in found if f is not None and since <= f.accepted < until]


def _facts(row: Any, completed: datetime | None) -> CaseFacts | None:
    doc = etree.fromstring(row.case_xml.encode("utf-8"))
    accepted = doc.findtext("i:acceptance/i:time", namespaces=NS)
    if not accepted:
        return None
    return CaseFacts(
        bureau=row.bureau,
        matter_code=doc.findtext("i:matter/i:code", "", NS),
        matter_name=doc.findtext("i:matter/i:name", "", NS),
        case_number=row.case_number,
        accepted=datetime.fromisoformat(accepted),
        limit=int(doc.findtext("i:promise/i:limit", "0", NS) or 0),
        unit=doc.findtext("i:promise/i:unit", "workingDays", NS),
        completed=completed,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def write_csv(path: Path, rows: list[Any]) -> None:
    """One dataclass per line, empty cells for unknown values."""
    kind = type(rows[0]) if rows else MatterFigures
    with path.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out)
        writer.writerow([f.name for f in fields(kind)])
        for row in rows:
            writer.writerow(["" if v is None else v for v in asdict(row).values()])


def write_report(
    out: Path, rows: list[MatterFigures], statuses: list[CaseStatus], title: str
) -> Path:
    """figures.csv, cases.csv and index.html (charts inline) in ``out``."""
    from bridge.audit.charts import charts

    out.mkdir(parents=True, exist_ok=True)
    write_csv(out / "figures.csv", rows)
    write_csv(out / "cases.csv", statuses)
    page = _page(title, rows, statuses, charts(rows))
    index = out / "index.html"
    index.write_text(page, encoding="utf-8")
    return index


def _page(
    title: str, rows: list[MatterFigures], statuses: list[CaseStatus], svgs: list[str]
) -> str:
    head = [f.name for f in fields(MatterFigures)]
    table = _table(head, [list(asdict(row).values()) for row in rows])
    flagged = [s for s in statuses if s.flag]
    flag_table = _table(
        ["bureau", "matter", "case", "due", "left", "flag"],
        [
            [s.bureau, s.matter_code, s.case_number, s.due, s.left, s.flag]
            for s in flagged
        ],
    )
    return (
        "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>"
        "table{border-collapse:collapse}td,th{border:1px solid #999;padding:2px 6px}"
        ".red{background:#f4b6b6}.yellow{background:#f7e8a4}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><h2>Figures</h2>{table}"
        f"<h2>Charts</h2>{''.join(svgs)}"
        f"<h2>Overdue (red) and due within one working day (yellow)</h2>{flag_table}"
        "</body></html>\n"
    )


def _table(head: list[str], rows: list[list[Any]]) -> str:
    cells = "".join(f"<th>{html.escape(name)}</th>" for name in head)
    body = []
    for row in rows:
        flag = str(row[-1]) if head[-1] == "flag" else ""
        tds = "".join(
            f"<td>{'' if v is None else html.escape(str(v))}</td>" for v in row
        )
        body.append(f"<tr class='{flag}'>{tds}</tr>")
    return f"<table><tr>{cells}</tr>{''.join(body)}</table>"
