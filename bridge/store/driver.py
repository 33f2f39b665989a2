"""Statements run on the driver's own cursor, for the store's hottest writes.

SQLAlchemy Core builds and compiles a statement once; running it through
``Connection.execute`` still costs tens of microseconds of bookkeeping per
call, more than the database itself takes for a one-row insert. A
``DriverStatement`` keeps the compiled SQL of one dialect, the order of its
parameters and the bind processors of their column types (SQLite stores
times as text), and runs it on the DBAPI cursor of the caller's connection,
inside the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Executable, Table
from sqlalchemy.engine import Compiled
from sqlalchemy.sql.dml import Insert

Processor = Callable[[Any], Any] | None


@dataclass(frozen=True)
class DriverStatement:
    """One compiled statement: its SQL, parameter names and converters."""

    sql: str
    names: tuple[str, ...]
    positional: bool
    processors: tuple[Processor, ...]
    defaults: tuple[tuple[str, Any], ...]

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> int:
        """Run with ``values`` (defaults filled in); the rows it touched."""
        cursor = self._run(conn, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_many(
        self, conn: Connection, rows: Sequence[Mapping[str, Any]]
    ) -> None:
        """Run once per row of ``rows`` (the driver's executemany)."""
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(self.sql, [self._params(row) for row in rows])
        finally:
            cursor.close()

    def rows(
        self, conn: Connection, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Run a select with ``values``; its rows as the driver returns them
        (no result processing: only for columns the driver reads as they are)."""
        cursor = self._run(conn, values)
        try:
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def _params(self, values: Mapping[str, Any]) -> Sequence[Any] | dict[str, Any]:
        """``values`` (defaults filled in) converted, in the driver's form."""
        if self.defaults:
            values = {**dict(self.defaults), **values}
        converted = [
            value if process is None else process(value)
            for value, process in zip(
                (values[name] for name in self.names), self.processors, strict=True
            )
        ]
        if self.positional:
            return converted
        return dict(zip(self.names, converted, strict=True))

    def _run(self, conn: Connection, values: Mapping[str, Any]) -> Any:
        params = self._params(values)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(self.sql, params)
        except BaseException:
            cursor.close()
            raise
        return cursor


def compile_insert(
    conn: Connection, table: Table, statement: Insert, keys: Sequence[str]
) -> DriverStatement:
    """``statement`` (an insert into ``table``) compiled for ``conn``'s dialect
    with the columns ``keys`` and the scalar defaults of the other columns.

    Raises ValueError for a column whose default is not a plain value (a
    function or SQL expression), which only ``Connection.execute`` applies.
    """
    defaults: list[tuple[str, Any]] = []
    for column in table.columns:
        if column.key in keys or column.default is None:
            continue
        if not getattr(column.default, "is_scalar", False):
            raise ValueError(f"{table.name}.{column.key} has a computed default")
        defaults.append((column.key, column.default.arg))  # type: ignore[attr-defined]
    compiled = statement.compile(
        dialect=conn.dialect, column_keys=[*keys, *(key for key, _ in defaults)]
    )
    return _driver_statement(conn, compiled, defaults)


def compile_statement(conn: Connection, statement: Executable) -> DriverStatement:
    """An update or select with named ``bindparam`` values, compiled for
    ``conn``'s dialect; the values it carries itself become its defaults.

    Raises ValueError for an expanding parameter (an IN list), whose SQL
    depends on each call's values.
    """
    compiled = statement.compile(dialect=conn.dialect)
    binds = compiled.binds
    if any(bind.expanding for bind in binds.values()):
        raise ValueError("an expanding parameter cannot be compiled ahead")
    carried = [
        (name, bind.effective_value)
        for name, bind in binds.items()
        if not bind.required
    ]
    return _driver_statement(conn, compiled, carried)


def _driver_statement(
    conn: Connection, compiled: Compiled, defaults: Sequence[tuple[str, Any]]
) -> DriverStatement:
    """The SQL, parameter order and bind processors of ``compiled``."""
    dialect = conn.dialect
    binds = compiled.binds  # type: ignore[attr-defined]
    positional = bool(compiled.positional)  # type: ignore[attr-defined]
    names = (
        tuple(compiled.positiontup or ())  # type: ignore[attr-defined]
        if positional
        else tuple(binds)
    )
    return DriverStatement(
        sql=compiled.string,
        names=names,
        positional=positional,
        processors=tuple(
            binds[name].type.dialect_impl(dialect).bind_processor(dialect)
            for name in names
        ),
        defaults=tuple(defaults),
    )


class Prepared:
    """A statement compiled on first use for each dialect it runs on."""

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, DriverStatement] = {}

    def on(self, conn: Connection) -> DriverStatement:
        compiled = self._compiled.get(conn.dialect.name)
        if compiled is None:
            compiled = self._compiled[conn.dialect.name] = compile_statement(
                conn, self.statement
            )
        return compiled

    def execute(self, conn: Connection, values: Mapping[str, Any]) -> int:
        return self.on(conn).execute(conn, values)

    def rows(
        self, conn: Connection, values: Mapping[str, Any]
    ) -> list[tuple[Any, ...]]:
        return self.on(conn).rows(conn, values)
