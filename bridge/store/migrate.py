"""Bringing a store to the newest schema with the Alembic migrations.

A store already at the newest revision, or a new one, is handled without
importing Alembic (about 8 MB that a running service would keep): the revision
is read from Alembic's version table with a plain query, and a new store gets
the declared tables and the stamp ``schema.REVISION`` directly. Alembic runs
only when there are migrations to apply.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    inspect,
    select,
    text,
)

from bridge.store.schema import REVISION, metadata

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

log = structlog.get_logger()

MIGRATIONS = Path(__file__).with_name("migrations")

#: key of the PostgreSQL advisory lock that serialises concurrent upgrades
_LOCK_KEY = 0x60B41D6E

#: revision of the tables created before migrations existed
BASELINE = "0001"

#: Alembic's version table, as Alembic itself creates it
_VERSIONS = Table(
    "alembic_version",
    MetaData(),
    Column("version_num", String(32), nullable=False),
    PrimaryKeyConstraint("version_num", name="alembic_version_pkc"),
)


def alembic_config(connection: Connection | None = None) -> AlembicConfig:
    """An Alembic configuration for our scripts, bound to ``connection``."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def head() -> str:
    """The newest revision among the scripts (``schema.REVISION``, which the
    tests hold to it)."""
    from alembic.script import ScriptDirectory

    found = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return str(found)


def current(connection: Connection) -> str | None:
    """The revision a database is at, None when it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _stamped(connection: Connection) -> str | None:
    """The revision in the version table without Alembic; None when there is
    no table or it does not hold exactly one revision."""
    if not inspect(connection).has_table(_VERSIONS.name):
        return None
    found = connection.execute(select(_VERSIONS.c.version_num)).scalars().all()
    return str(found[0]) if len(found) == 1 else None


def upgrade(engine: Engine, *, replay: bool = False) -> str:
    """Bring a database to the newest revision; returns the revision it was at.

    An empty database gets the tables of ``schema.py`` and the head stamp, as
    the Alembic cookbook advises; ``replay`` runs every script from the start
    instead (the test that the scripts build what ``schema.py`` declares).
    """
    with engine.connect() as probe:
        before = _stamped(probe)
    if before == REVISION:
        return before
    # on SQLite the write lock is taken up front (the store's BEGIN IMMEDIATE):
    # processes starting together on a new file wait for each other's
    # migration instead of failing when their read turns into a write
    with engine.execution_options(sqlite_immediate=True).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        before = _stamped(conn)
        if before == REVISION:  # another instance migrated it meanwhile
            return before
        if before is None and not replay and _empty(conn):
            metadata.create_all(conn)
            # an empty version table may be left over (a downgrade to base)
            _VERSIONS.create(conn, checkfirst=True)
            conn.execute(_VERSIONS.delete())
            conn.execute(_VERSIONS.insert().values(version_num=REVISION))
        else:
            _migrate(conn, replay)
    log.info("store.migrated", before=before or "none", after=REVISION)
    return before or "none"


def _empty(conn: Connection) -> bool:
    """Whether none of the store's tables exists yet."""
    return not set(inspect(conn).get_table_names()) & set(metadata.tables)


def _migrate(conn: Connection, replay: bool) -> None:
    """Run Alembic's scripts up to the newest; a database without a revision
    (empty, or made before migrations existed) is stamped first."""
    from alembic import command

    if current(conn) is None and not _empty(conn):
        _stamp_legacy(conn)
    command.upgrade(alembic_config(conn), "head")


def _stamp_legacy(conn: Connection) -> None:
    """A database made by create_all before migrations existed: mark its revision."""
    from alembic import command

    tables = set(inspect(conn).get_table_names())
    if "leases" in tables:
        command.stamp(alembic_config(conn), head())
    elif "deliveries" in tables:
        command.stamp(alembic_config(conn), BASELINE)
