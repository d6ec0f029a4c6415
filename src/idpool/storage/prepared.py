"""The registry of prepared statements: built once, compiled once per dialect, rows coerced once.

Statements whose shape never changes are declared with `prepared(...)` at import time and run
straight on the driver (dialects.py): constructing and executing a SQLAlchemy expression
costs more than a primary-key lookup on SQLite, and psycopg prepares repeated SQL server-side.
The SQL is still SQLAlchemy's own, compiled for the connection's dialect and kept on the
`Prepared` object (never in a cache keyed by object ids, which would grow with every
statement built per call). Statements whose shape depends on the call (IN lists, optional
keyset conditions) go through SQLAlchemy instead (`Executor.execute`).

Raw driver rows are coerced here, in one place: SQLite returns 0/1 for a Boolean column,
which SQLAlchemy's own execution turns into bool; `Prepared.coerce` does the same, so a raw
row equals what SQLAlchemy returns (tests/storage/test_prepared_statements.py checks it for
every registered query on both stores).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import Boolean, Delete, Insert, Select, Update
from sqlalchemy.engine import Dialect

Statement = Select[Any] | Insert | Update | Delete

REGISTRY: list[Prepared] = []


class Prepared:
    """One statement of the registry; `name` says what it does (and labels it in tests)."""

    __slots__ = ("_coercers", "_compiled", "name", "statement")

    def __init__(self, name: str, statement: Statement) -> None:
        self.name = name
        self.statement = statement
        self._compiled: dict[str, tuple[str, tuple[str, ...], dict[str, Any]]] = {}
        converters: list[Callable[[Any], Any] | None] = []
        if isinstance(statement, Select):
            converters = [
                _to_bool if isinstance(column.type, Boolean) else None
                for column in statement.selected_columns
            ]
        self._coercers = tuple(converters) if any(converters) else None

    @property
    def is_query(self) -> bool:
        return isinstance(self.statement, Select)

    def sql(self, dialect: Dialect) -> tuple[str, tuple[str, ...], dict[str, Any]]:
        """SQL text, positional parameter names (empty for named styles) and the values the
        statement binds itself (a literal in SET, a LIMIT's OFFSET on SQLite), compiled once
        per dialect."""
        entry = self._compiled.get(dialect.name)
        if entry is None:
            compiled = self.statement.compile(dialect=dialect)
            positions: Sequence[str] = getattr(compiled, "positiontup", None) or ()
            required = {name for name, bind in compiled.binds.items() if bind.required}
            bound = {k: v for k, v in compiled.params.items() if k not in required}
            entry = (str(compiled), tuple(positions), bound)
            self._compiled[dialect.name] = entry
        return entry

    def params(self, dialect: Dialect, given: Mapping[str, Any]) -> Mapping[str, Any]:
        """The call's parameters with the values the statement binds itself."""
        bound = self.sql(dialect)[2]
        return {**bound, **given} if bound else given

    def coerce(self, row: Sequence[Any]) -> tuple[Any, ...]:
        """A raw driver row as SQLAlchemy would return it (Booleans as bool)."""
        if self._coercers is None:
            return tuple(row)
        return tuple(
            value if convert is None or value is None else convert(value)
            for convert, value in zip(self._coercers, row, strict=True)
        )

    def __repr__(self) -> str:
        return f"Prepared({self.name!r})"


def _to_bool(value: Any) -> bool:
    return bool(value)


def prepared(name: str, statement: Statement) -> Prepared:
    """Declare a statement of the registry (at import time: the registry is closed after)."""
    entry = Prepared(name, statement)
    REGISTRY.append(entry)
    return entry
