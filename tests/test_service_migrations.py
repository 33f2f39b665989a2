"""The Alembic migrations: they build what schema.py declares, on both backends,
and bring a database made before migrations existed up to date."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, inspect, text

from bridge.cli import main
from bridge.store.migrate import alembic_config, current, head, upgrade
from bridge.store.schema import REVISION, metadata

BASELINE_TABLES = ("watermarks", "seen_records", "cases", "deliveries",
                   "dead_letters", "audit_log")


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an empty database of each backend."""
    if request.param == "sqlite":
        engine = create_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    else:
        engine = create_engine(request.getfixturevalue("pg_database"))
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    yield engine
    if request.param == "postgresql":
        from bridge.store import open_store

        open_store(str(engine.url.render_as_string(hide_password=False))).dispose()
    engine.dispose()


def _differences(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_replayed_migrations_build_exactly_the_declared_schema(
    empty_engine: Engine,
) -> None:
    """Running every migration from an empty database gives the tables, columns
    and indexes schema.py declares, nothing more and nothing less."""
    upgrade(empty_engine, replay=True)

    assert _differences(empty_engine) == []
    with empty_engine.connect() as conn:
        assert current(conn) == head()


def test_empty_database_gets_the_schema_and_the_head_stamp(
    empty_engine: Engine,
) -> None:
    """open_store's path for a new database: tables as declared, stamped at head."""
    assert upgrade(empty_engine) == "none"

    assert _differences(empty_engine) == []
    with empty_engine.connect() as conn:
        assert current(conn) == head()


def test_database_from_before_migrations_is_brought_to_head(tmp_path: Path) -> None:
    """A store whose tables came from the first release's create_all is stamped
    at the baseline and migrated; its rows survive."""
    engine = create_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    _first_release_tables(engine)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO watermarks VALUES "
                          "('portal', '2026-01-02 03:04:05', 'WS1', '2026-01-02')"))

    assert upgrade(engine) == "none"

    assert _differences(engine) == []
    with engine.connect() as conn:
        assert current(conn) == head()
        kept = conn.execute(text("SELECT cursor_key FROM watermarks")).scalar_one()
    assert kept == "WS1"
    engine.dispose()


def _first_release_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
        conn.execute(text("DROP TABLE alembic_version"))
    assert set(inspect(engine).get_table_names()) == set(BASELINE_TABLES)


def test_db_upgrade_command_reports_the_revisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``govbridge db upgrade`` migrates and says from what to what; ``db
    current`` then exits 0 with the newest revision."""
    url = f"sqlite:///{tmp_path / 'cli.sqlite'}"

    assert main(["db", "current", "--url", url]) == 1
    assert main(["db", "upgrade", "--url", url]) == 0
    assert main(["db", "current", "--url", url]) == 0

    out = [line for line in capsys.readouterr().out.splitlines()
           if line.startswith("schema:")]
    assert out[0] == f"schema: none (newest: {head()})"
    assert out[1] == f"schema: none -> {head()}"
    assert out[2] == f"schema: {head()} (newest: {head()})"


def test_declared_revision_is_the_newest_script() -> None:
    """schema.REVISION, the stamp of a new store, names the newest migration:
    a script added without moving it (or the other way round) fails here."""
    assert REVISION == head()


def test_store_at_head_is_opened_without_alembic(tmp_path: Path) -> None:
    """A new store and one already at the newest revision are brought up in a
    process that never imports Alembic (which a service would keep resident)."""
    url = f"sqlite:///{tmp_path / 'light.sqlite'}"
    probe = (
        "import sys\n"
        "from bridge.store import open_store\n"
        f"open_store({url!r}).dispose()\n"
        f"open_store({url!r}).dispose()\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'alembic'))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )

    assert done.stdout.splitlines()[-1] == "[]"
    engine = create_engine(url)
    assert _differences(engine) == []
    with engine.connect() as conn:
        assert current(conn) == head()
    engine.dispose()


def test_store_downgraded_to_base_is_built_again(empty_engine: Engine) -> None:
    """A downgrade to base leaves an empty version table behind: the next start
    builds the schema again and stamps it at head."""
    upgrade(empty_engine)
    with empty_engine.begin() as conn:
        command.downgrade(alembic_config(conn), "base")
        assert inspect(conn).get_table_names() == ["alembic_version"]

    assert upgrade(empty_engine) == "none"

    assert _differences(empty_engine) == []
    with empty_engine.connect() as conn:
        assert current(conn) == head()
        rows = conn.execute(text("SELECT count(*) FROM alembic_version")).scalar()
    assert rows == 1


def test_processes_starting_together_on_a_new_sqlite_file_all_start(
    tmp_path: Path,
) -> None:
    """Processes opening one new SQLite store at the same moment (three on each
    of three files): each waits for the one that migrates, none fails on the
    lock, and each store is stamped once."""
    probe = (
        "import sys, time\n"
        "import bridge.store.migrate\n"
        "from bridge.store import open_store\n"
        "time.sleep(max(0.0, float(sys.argv[1]) - time.time()))\n"
        "open_store(sys.argv[2]).dispose()\n"
    )
    urls = [f"sqlite:///{tmp_path / f'together{n}.sqlite'}" for n in range(3)]
    start = str(time.time() + 4.0)  # once all nine have imported
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", probe, start, url],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for url in urls
        for _ in range(3)
    ]
    errors = [process.communicate(timeout=60)[1] for process in processes]

    assert [process.returncode for process in processes] == [0] * 9, errors
    for url in urls:
        engine = create_engine(url)
        with engine.connect() as conn:
            assert current(conn) == head()
            rows = conn.execute(text("SELECT count(*) FROM alembic_version"))
            assert rows.scalar() == 1
        engine.dispose()
