"""Statements on the driver's cursor write and read what SQLAlchemy Core
would: the same stored times, the column defaults, the same rows touched, on
SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite

from bridge.store import open_store
from bridge.store.db import Store
from bridge.store.driver import Prepared, compile_insert, compile_statement
from bridge.store.schema import cases, deliveries

AT = datetime(2026, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Store:
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    else:
        opened = open_store(request.getfixturevalue("pg_url"))
    request.addfinalizer(opened.dispose)
    return opened


def _case(store: Store) -> int:
    with store.writing() as conn:
        return int(
            conn.execute(
                cases.insert()
                .values(
                    bureau="hbj",
                    channel="window",
                    matter_code="m",
                    case_xml="<case/>",
                    state="received",
                    created_at=AT,
                    updated_at=AT,
                )
                .returning(cases.c.id)
            ).scalar_one()
        )


def _insert_ignoring(store: Store, values: dict[str, object]) -> int:
    with store.writing() as conn:
        dialect = sqlite if conn.dialect.name == "sqlite" else postgresql
        statement = dialect.insert(deliveries).on_conflict_do_nothing()
        compiled = compile_insert(conn, deliveries, statement, list(values))
        return compiled.execute(conn, values)


def test_an_insert_stores_what_core_stores_and_fills_defaults(store: Store) -> None:
    """Times read back equal through Core; claim_token (not given) gets its
    default 0; a second insert with the same key touches no row."""
    case_id = _case(store)
    values = {
        "case_id": case_id,
        "target": "oa",
        "operation": "launch",
        "dedupe_key": f"oa:launch:{case_id}",
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": AT,
        "created_at": AT,
    }

    first = _insert_ignoring(store, values)
    again = _insert_ignoring(store, values)

    with store.reading() as conn:
        row = conn.execute(select(deliveries)).one()
    assert (first, again) == (1, 0)
    assert row.claim_token == 0
    assert row.next_attempt_at.replace(tzinfo=UTC) == AT
    assert row.created_at.replace(tzinfo=UTC) == AT


def test_an_update_keeps_its_own_values_and_converts_times(store: Store) -> None:
    """The values a statement carries (status, a NULL) are sent with it; a
    time given as a parameter is stored as Core would; the count of rows
    touched tells a fenced update from a taken one."""
    case_id = _case(store)
    _insert_ignoring(
        store,
        {
            "case_id": case_id,
            "target": "center",
            "operation": "step",
            "dedupe_key": f"center:step:{case_id}:1",
            "status": "inflight",
            "attempts": 1,
            "next_attempt_at": AT,
            "created_at": AT,
            "claim_owner": "me",
            "claim_until": AT,
        },
    )
    mark = Prepared(
        update(deliveries)
        .where(
            deliveries.c.case_id == bindparam("b_case"),
            deliveries.c.claim_owner == bindparam("b_owner"),
        )
        .values(status="done", done_at=bindparam("b_at"), claim_until=None)
    )

    with store.writing() as conn:
        fenced = mark.execute(conn, {"b_case": case_id, "b_owner": "other", "b_at": AT})
        taken = mark.execute(conn, {"b_case": case_id, "b_owner": "me", "b_at": AT})
    with store.reading() as conn:
        row = conn.execute(select(deliveries)).one()
        found = Prepared(
            select(deliveries.c.operation, deliveries.c.status).where(
                deliveries.c.case_id == bindparam("b_case")
            )
        ).rows(conn, {"b_case": case_id})

    assert (fenced, taken) == (0, 1)
    assert (row.status, row.claim_until) == ("done", None)
    assert row.done_at.replace(tzinfo=UTC) == AT
    assert found == [("step", "done")]


def test_an_in_list_is_not_compiled_ahead(store: Store) -> None:
    """An expanding parameter's SQL depends on each call: refused up front."""
    statement = select(deliveries.c.id).where(
        deliveries.c.id.in_(bindparam("b_ids", expanding=True))
    )
    with store.reading() as conn, pytest.raises(ValueError, match="expanding"):
        compile_statement(conn, statement)


def test_many_rows_go_in_as_core_would_put_them(store: Store) -> None:
    """``execute_many`` writes each row with its own values, times converted as
    Core converts them, and the scalar defaults of the columns left out."""
    case_id = _case(store)
    rows = [
        {
            "case_id": case_id,
            "target": "center",
            "operation": "step",
            "dedupe_key": f"center:step:{case_id}:{seq}",
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": AT,
            "created_at": AT,
        }
        for seq in (1, 2, 3)
    ]
    with store.writing() as conn:
        statement = compile_insert(conn, deliveries, deliveries.insert(), list(rows[0]))
        statement.execute_many(conn, rows)

    with store.reading() as conn:
        stored = conn.execute(
            select(
                deliveries.c.dedupe_key,
                deliveries.c.next_attempt_at,
                deliveries.c.claim_token,
            ).order_by(deliveries.c.id)
        ).all()
    assert [(key, at.replace(tzinfo=UTC), token) for key, at, token in stored] == [
        (f"center:step:{case_id}:{seq}", AT, 0) for seq in (1, 2, 3)
    ]


def test_sqlite_hands_out_the_connection_that_wrote_last(tmp_path: Path) -> None:
    """SQLite drops a connection's page cache when another connection wrote
    since: the pool hands back the connection returned last, so a writer
    following a writer finds its pages still cached."""
    store = open_store(f"sqlite:///{tmp_path / 'store.sqlite'}")
    try:
        first = store.engine.connect()
        second = store.engine.connect()
        first_driver = first.connection.dbapi_connection
        second_driver = second.connection.dbapi_connection
        assert first_driver is not second_driver
        first.close()
        second.close()  # returned last

        with store.writing() as conn:
            assert conn.connection.dbapi_connection is second_driver
        with store.reading() as conn:
            assert conn.connection.dbapi_connection is second_driver
    finally:
        store.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_store_opens(url: str) -> None:
    """An in-memory SQLite store (one connection per thread) opens and
    writes; the file store's pool settings are not given to it."""
    store = open_store(url)
    try:
        case_id = _case(store)
        with store.reading() as conn:
            found = conn.execute(select(cases.c.id)).scalar_one()
        assert found == case_id
    finally:
        store.dispose()
