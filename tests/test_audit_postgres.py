"""The chain on PostgreSQL: concurrent appends serialised by the head row lock."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest

from bridge.audit.checkpoint import read_checkpoints
from bridge.audit.crypto import load_public
from bridge.audit.verify import verify_store
from bridge.config import AuditConfig
from bridge.store import Store, open_store
from tests.test_audit_chain import fill

pytestmark = pytest.mark.postgres

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture
def pg_store(tmp_path: Path) -> Iterator[Store]:
    """A store in a fresh PostgreSQL database of its own, dropped afterwards."""
    name = f"govbridge_audit_{os.getpid()}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name}")
        admin.execute(f"CREATE DATABASE {name}")
    audit = AuditConfig(folder=tmp_path / "audit", checkpoint_every=40)
    store = open_store(
        f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", audit=audit
    )
    yield store
    store.engine.dispose()
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_concurrent_appends_on_postgres_form_one_chain(
    pg_store: Store, tmp_path: Path
) -> None:
    """Eight threads appending at once on PostgreSQL leave one whole chain of 160
    entries, checkpointed along the way."""
    threads = [
        threading.Thread(target=fill, args=(pg_store, 20, 1000 * n)) for n in range(8)
    ]

    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pg_store.trail.close(pg_store.engine)

    checkpoints = read_checkpoints(pg_store.trail.checkpoint_file)
    key = load_public(tmp_path / "audit" / "bridge.pub")
    report = verify_store(pg_store.engine, checkpoints, key)
    assert report.problem is None
    assert report.entries == 160
    assert report.checkpointed == 160


def test_zoned_entry_time_verifies_on_postgres(pg_store: Store) -> None:
    """An entry given a +08:00 time is chained in UTC and verifies after
    reading back."""
    moment = datetime(2026, 9, 24, 16, 0, tzinfo=timezone(timedelta(hours=8)))
    with pg_store.begin() as conn:
        pg_store.trail.append(
            conn,
            {
                "at": moment,
                "system": "center",
                "operation": "finish",
                "outcome": "delivered",
            },
            None,
        )

    report = verify_store(pg_store.engine, [], None)

    assert report.problem is None
    assert report.entries == 1
