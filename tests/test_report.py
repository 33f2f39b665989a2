"""The supervision report against due dates computed by hand.

The calendar around the fixture (chinesecalendar, 2026): Sun 20 Sep is a
make-up working day (调休), Fri 25 Sep is the Mid-autumn holiday (with the
weekend after it), 1-7 Oct is the National Day holiday and Sat 10 Oct is a
make-up working day. Counting the promised limit from the day after
acceptance, in working days:

- accepted Fri 18 Sep, 5 days: 20 (Sun), 21, 22, 23, 24 -> due Thu 24 Sep
- accepted Thu 24 Sep, 3 days: 28, 29, 30 -> due Wed 30 Sep
- accepted Tue 29 Sep, 5 days: 30 Sep, 8, 9, 10 (Sat), 12 Oct -> due Mon 12 Oct
- accepted Fri 9 Oct, 1 day: 10 (Sat) -> due Sat 10 Oct

The report is measured on Sat 10 Oct 2026.
"""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.cli import main
from bridge.store import Store
from bridge.store.schema import cases
from tests.test_audit_chain import make_config, open_configured

#: case, bureau, matter, limit, accepted (+08:00), completed (+08:00) or None
FIXTURE = [
    ("A", "hbj", "M1", 5, "2026-09-18T10:00", "2026-09-24T16:00"),
    ("B", "hbj", "M1", 5, "2026-09-18T11:00", "2026-09-28T09:00"),
    ("C", "hbj", "M1", 5, "2026-09-29T09:00", None),
    ("D", "hbj", "M2", 3, "2026-09-24T09:00", None),
    ("E", "hbj", "M2", 3, "2026-09-24T10:00", "2026-09-30T15:00"),
    ("F", "hbj", "M2", 0, "2026-09-21T09:00", "2026-09-21T11:00"),
    ("G", "lyj", "M3", 1, "2026-10-09T09:00", None),
    ("H", "hbj", "M1", 5, "2026-08-20T09:00", "2026-08-21T09:00"),
]

#: due dates by hand (see the module docstring)
DUE = {
    "A": "2026-09-24",
    "B": "2026-09-24",
    "C": "2026-10-12",
    "D": "2026-09-30",
    "E": "2026-09-30",
    "F": "",
    "G": "2026-10-10",
}

#: bureau, matter, accepted, completed, promised, promised finished, on time,
#: on-time %, average used, average promised, red, yellow
FIGURES = [
    ["hbj", "M1", "3", "2", "3", "2", "1", "50.0", "5.5", "5.0", "0", "1"],
    ["hbj", "M2", "3", "2", "2", "1", "1", "100.0", "3.0", "3.0", "1", "0"],
    ["lyj", "M3", "1", "0", "1", "0", "0", "", "", "", "0", "1"],
]


def case_xml(number: str, matter: str, limit: int, accepted: str) -> str:
    return (
        '<case xmlns="urn:govbridge:interchange:1">'
        f"<caseNumber>{number}</caseNumber><matter><code>{matter}</code>"
        f"<name>事项{matter}</name></matter><acceptance><status>accepted</status>"
        f"<time>{accepted}:00+08:00</time></acceptance>"
        f"<promise><limit>{limit}</limit><unit>workingDays</unit></promise></case>"
    )


def load_fixture(store: Store) -> None:
    """The fixture's cases, and a delivered center completion for each finished one."""
    now = datetime.now(UTC)
    with store.begin() as conn:
        for number, bureau, matter, limit, accepted, completed in FIXTURE:
            conn.execute(
                cases.insert().values(
                    bureau=bureau,
                    channel="window",
                    matter_code=matter,
                    case_number=number,
                    case_xml=case_xml(number, matter, limit, accepted),
                    state="completed" if completed else "in_approval",
                    created_at=now,
                    updated_at=now,
                )
            )
            if completed:
                at = datetime.fromisoformat(completed + ":00+08:00")
                store.trail.append(
                    conn,
                    {
                        "at": at,
                        "system": "center",
                        "operation": "finish",
                        "outcome": "delivered",
                        "case_number": number,
                    },
                    None,
                )


@pytest.fixture
def report_dir(tmp_path: Path) -> Path:
    """The report of September and October 2026, measured on 10 Oct 2026."""
    config_path = make_config(tmp_path)
    load_fixture(open_configured(config_path))
    out = tmp_path / "report"
    code = main(
        [
            "report",
            "--config",
            str(config_path),
            "--from",
            "2026-09-01",
            "--to",
            "2026-10-31",
            "--today",
            "2026-10-10",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as source:
        return list(csv.DictReader(source))


def test_figures_match_the_hand_computed_fixture(report_dir: Path) -> None:
    """figures.csv holds, per bureau and matter, the figures worked out by hand."""
    rows = read_csv(report_dir / "figures.csv")

    found = [
        [
            row[name]
            for name in (
                "bureau",
                "matter_code",
                "accepted",
                "completed",
                "promised",
                "promised_finished",
                "on_time",
                "on_time_rate",
                "avg_used",
                "avg_promised",
                "red",
                "yellow",
            )
        ]
        for row in rows
    ]

    assert found == FIGURES


def test_due_dates_and_flags_match_the_hand_computed_fixture(report_dir: Path) -> None:
    """cases.csv gives each case the due date computed by hand, and flags D red,
    C and G yellow."""
    rows = {row["case_number"]: row for row in read_csv(report_dir / "cases.csv")}

    assert {number: row["due"] for number, row in rows.items()} == DUE
    assert {n: r["flag"] for n, r in rows.items() if r["flag"]} == {
        "C": "yellow",
        "D": "red",
        "G": "yellow",
    }
    assert rows["B"]["on_time"] == "False" and rows["B"]["used"] == "6"


def test_index_holds_the_charts_and_the_same_numbers(report_dir: Path) -> None:
    """index.html carries three matplotlib charts and the CSV's figures."""
    page = (report_dir / "index.html").read_text(encoding="utf-8")

    assert page.count("<svg") == 3
    assert "Matplotlib" in page
    for row in FIGURES:
        cells = "".join(f"<td>{value}</td>" for value in row[2:])
        assert cells in page, row
