"""Migration 0003: entries written before the chain existed are chained in id order."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from sqlalchemy import create_engine, text

from bridge.audit.verify import verify_store
from bridge.store.migrate import alembic_config, upgrade


def test_legacy_entries_are_chained_by_the_upgrade(tmp_path: Path) -> None:
    """Five entries of a store at revision 0002 form a whole chain after the upgrade."""
    engine = create_engine(f"sqlite:///{tmp_path / 'legacy.sqlite'}")
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0002")
    with engine.begin() as conn:
        for day in range(1, 6):
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, system, operation, outcome) "
                    f"VALUES ('2026-01-0{day} 10:00:00.000000', 'oa', 'launch', "
                    "'delivered')"
                )
            )

    upgrade(engine)

    report = verify_store(engine, [], None)
    with engine.connect() as conn:
        head = conn.execute(text("SELECT seq, head_hash FROM audit_head")).one()
    assert report.problem is None
    assert report.entries == 5
    assert tuple(head) == (5, report.head)
