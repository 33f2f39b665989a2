"""Exports with signed manifests, checked offline, and auditors' searches."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bridge.cli import main
from bridge.store.schema import audit_log, audit_payloads, audit_personal
from tests.test_audit_chain import fill, make_config, open_configured

ID_NUMBER = "110101199003071234"
MOBILE = "13812345678"


@pytest.fixture
def exported(tmp_path: Path) -> tuple[Path, Path]:
    """A store of 20 entries with a checkpoint, exported as CSV."""
    config_path = make_config(tmp_path)
    store = open_configured(config_path)
    fill(store, 20)
    store.trail.checkpoint(store.engine)
    out = tmp_path / "export"
    code = main(
        [
            "audit",
            "export",
            "--config",
            str(config_path),
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--format",
            "csv",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    return out, tmp_path / "audit" / "bridge.pub"


def verify_export(out: Path, public: Path) -> int:
    return main(["audit", "verify", "--export", str(out), "--public-key", str(public)])


def test_export_verifies_offline(
    exported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """An untouched export verifies with the public key alone, 20 entries."""
    out, public = exported
    manifest = json.loads((out / "manifest.json").read_text())

    code = verify_export(out, public)

    assert code == 0
    assert manifest["count"] == 20
    assert manifest["chain_head"]["count"] == 20
    assert "entries=20" in capsys.readouterr().out
    assert (out / "checkpoints.jsonl").exists()


def test_changed_export_line_is_named(
    exported: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Changing one line of the CSV export fails offline verify at that entry."""
    out, public = exported
    path = out / "entries.csv"
    path.write_text(path.read_text().replace("flow 13", "flow 31"))

    code = verify_export(out, public)

    assert code == 1
    assert "at entry 13" in capsys.readouterr().out


def test_jsonl_export_of_a_time_window(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JSONL export verifies offline and a manifest signed by another key fails."""
    config_path = make_config(tmp_path)
    store = open_configured(config_path)
    fill(store, 5)
    out = tmp_path / "jsonl"
    main(
        [
            "audit",
            "export",
            "--config",
            str(config_path),
            "--from",
            "2000-01-01",
            "--to",
            "2100-01-01",
            "--format",
            "jsonl",
            "--out",
            str(out),
        ]
    )
    other = make_config(tmp_path / "other")
    open_configured(other).trail.private_key()

    good = verify_export(out, tmp_path / "audit" / "bridge.pub")
    bad = verify_export(out, tmp_path / "other" / "audit" / "bridge.pub")

    assert good == 0
    assert bad == 1
    assert "manifest" in capsys.readouterr().out


def test_search_by_case_and_person_is_masked_and_logged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A search by ID number finds its entry, masks it, and is itself logged."""
    config_path = make_config(tmp_path)
    store = open_configured(config_path)
    fill(store, 3)
    with store.begin() as conn:
        store.audit(
            conn,
            system="portal",
            operation="poll",
            outcome="routed",
            case_number="HB2026X",
            detail=f"applicant {ID_NUMBER}",
            payload=f"<case><id>{ID_NUMBER}</id><m>{MOBILE}</m></case>",
        )

    main(
        [
            "audit",
            "search",
            "--config",
            str(config_path),
            "--person",
            ID_NUMBER,
            "--auditor",
            "auditor1",
        ]
    )
    found = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    main(["audit", "search", "--config", str(config_path), "--case", "HB202600002"])
    by_case = [json.loads(line) for line in capsys.readouterr().out.splitlines()]

    assert [entry["case_number"] for entry in found] == ["HB2026X"]
    assert ID_NUMBER not in json.dumps(found)
    assert "110" in found[0]["detail"] and "*" in found[0]["detail"]
    assert [entry["seq"] for entry in by_case] == [2]
    with store.engine.connect() as conn:
        logged = conn.execute(
            select(audit_log.c.record_key, audit_log.c.detail).where(
                audit_log.c.operation == "search"
            )
        ).all()
        personal = conn.execute(select(func.count()).select_from(audit_personal))
        assert personal.scalar() == 2
        assert conn.execute(select(func.count()).select_from(audit_payloads)).scalar()
    assert logged[0].record_key == "auditor1"
    assert ID_NUMBER not in logged[0].detail


def test_concurrent_appends_form_one_chain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Eight threads appending at once leave one whole chain of 160 entries."""
    config_path = make_config(tmp_path, checkpoint_every=50)
    store = open_configured(config_path)
    threads = [
        threading.Thread(target=fill, args=(store, 20, 1000 * n)) for n in range(8)
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store.dispose()

    code = main(["audit", "verify", "--config", str(config_path)])
    assert code == 0
    assert "entries=160" in capsys.readouterr().out
