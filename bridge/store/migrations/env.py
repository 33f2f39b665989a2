"""Alembic environment: migrations run on a connection handed over by the caller."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from bridge.store.schema import metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=metadata,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    """Use the caller's connection, or open the URL in sqlalchemy.url."""
    config = context.config
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        _run(conn)
    engine.dispose()


main()
