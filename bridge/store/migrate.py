"""Bringing a store to the newest schema with the Alembic migrations."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import structlog
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from bridge.store.schema import metadata

log = structlog.get_logger()

MIGRATIONS = Path(__file__).with_name("migrations")

#: key of the PostgreSQL advisory lock that serialises concurrent upgrades
_LOCK_KEY = 0x60B41D6E

#: revision of the tables created before migrations existed
BASELINE = "0001"


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration for our scripts, bound to ``connection``."""
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest revision among the scripts."""
    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return str(found)


def current(connection: Connection) -> str | None:
    """The revision a database is at, None when it was never migrated."""
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, *, replay: bool = False) -> str:
    """Bring a database to the newest revision; returns the revision it was at.

    An empty database gets the tables of ``schema.py`` and the head stamp, as
    the Alembic cookbook advises; ``replay`` runs every script from the start
    instead (the test that the scripts build what ``schema.py`` declares).
    """
    with engine.connect() as probe:
        before = current(probe)
    if before == head():
        return before
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        before = current(conn)
        if before is None:
            _start(conn, replay)
        command.upgrade(alembic_config(conn), "head")
    log.info("store.migrated", before=before or "none", after=head())
    return before or "none"


def _start(conn: Connection, replay: bool) -> None:
    """A database without a revision: empty, or made before migrations existed."""
    tables = set(inspect(conn).get_table_names())
    if not tables & set(metadata.tables):
        if not replay:
            metadata.create_all(conn)
            command.stamp(alembic_config(conn), head())
        return
    _stamp_legacy(conn)


def _stamp_legacy(conn: Connection) -> None:
    """A database made by create_all before migrations existed: mark its revision."""
    tables = set(inspect(conn).get_table_names())
    if "leases" in tables:
        command.stamp(alembic_config(conn), head())
    elif "deliveries" in tables:
        command.stamp(alembic_config(conn), BASELINE)
