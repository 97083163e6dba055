"""Hand-written SQL, the kernel's part (hot-path SQL in one place, STYLE.md "Layers"): the prepared-statement helper, the
value converters that turn a raw row into model instances, and every difference between PostgreSQL (production,
CI) and SQLite (a developer's quick run). No other module asks ``connection.vendor``: it calls the capability it
needs here, and the hand-written statements themselves live in one module of their app
(``apps/prescriptions/sql_reads.py``, ``apps/settlement/settlement_sql.py``), naming tables through
``Model._meta.db_table``.

Every rule computed here a second time beside the ORM (the policy in force, the payment standard in force, the
nearest region settings, the settling organisation) has a parity test that runs both forms on the same data
(``tests/core/test_sql_parity.py``)."""
from __future__ import annotations

import datetime as dt

from django.db import connection


# --- which database ----------------------------------------------------------------------------------------------

def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


# --- statements ----------------------------------------------------------------------------------------------------

def execute_hot(cursor, name: str, sql: str, params: list) -> None:
    """Run a hot-path statement. On PostgreSQL it is prepared once per connection (``PREPARE``, then ``EXECUTE``
    with the same parameters): these statements join many tables, and planning them costs PostgreSQL several
    times what running them does. Persistent connections (``CONN_MAX_AGE``) keep the prepared statements; a
    prepared statement outlives a rolled-back transaction. Elsewhere (SQLite) the SQL runs as written.
    ``sql`` uses ``%s`` placeholders; ``name`` must identify the SQL text together with the number of
    parameters."""
    if not is_postgresql():
        cursor.execute(sql, params)
        return
    raw = connection.connection
    state = getattr(connection, "_hot_statements", None)
    if state is None or state[0] is not raw:
        state = (raw, set())
        connection._hot_statements = state
    name = f"{name}_{len(params)}"
    if name not in state[1]:
        pieces = sql.split("%s")
        numbered = pieces[0] + "".join(f"${i}{piece}" for i, piece in enumerate(pieces[1:], start=1))
        cursor.execute(f"PREPARE {name} AS {numbered}")
        state[1].add(name)
    cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)


def lock_rows_of(alias: str) -> str:
    """`` FOR UPDATE OF <alias>`` where the database supports it (PostgreSQL), else nothing (SQLite locks the
    whole database on write anyway)."""
    return f" FOR UPDATE OF {alias}" if connection.features.has_select_for_update_of else ""


def analyze(cursor, table: str) -> None:
    """Fresh planner statistics for ``table`` (PostgreSQL; SQLite plans without them)."""
    if is_postgresql():
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")


def advisory_xact_lock(cursor, key: int, sub: int) -> None:
    """A transaction-scoped advisory lock on ``(key, sub)`` (PostgreSQL); SQLite serialises writers already."""
    if is_postgresql():
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [key, sub])


def commit_without_waiting_for_disk(cursor) -> None:
    """``SET LOCAL synchronous_commit TO OFF`` for a recomputable transaction: a crash can lose the last committed
    ones, never half of one (PostgreSQL only)."""
    if is_postgresql():
        cursor.execute("SET LOCAL synchronous_commit TO OFF")


def supports_copy() -> bool:
    """``COPY … FROM STDIN`` is available (PostgreSQL)."""
    return is_postgresql()


def next_ids(table: str, pk_column: str, count: int) -> list[int]:
    """``count`` new primary keys drawn from ``table``'s sequence (PostgreSQL)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                       [table, pk_column, count])
        return [r[0] for r in cursor.fetchall()]


def copy_from(cursor, sql: str, buffer) -> None:
    """Stream ``buffer`` (COPY text format) with ``sql`` (``COPY … FROM STDIN``)."""
    cursor.cursor.copy_expert(sql, buffer)


# --- value converters ----------------------------------------------------------------------------------------------

def date_param(value: dt.date):
    """A date as the database driver wants it in a raw statement."""
    return connection.ops.adapt_datefield_value(value)


def datetime_param(value: dt.datetime):
    """An aware datetime as the database driver wants it in a raw statement."""
    return connection.ops.adapt_datetimefield_value(value)


def _converters(field, table: str) -> list:
    col = field.get_col(table)
    return [(conv, col) for conv in connection.ops.get_db_converters(col) + col.get_db_converters(connection)]


class DbValue:
    """The backend's converters for a computed column that holds ``model.name`` values (e.g. a subquery)."""

    def __init__(self, model, name):
        self.field = model._meta.get_field(name)
        self._by_vendor: dict = {}

    def convert(self, value, conn=None):
        conn = conn or connection
        convs = self._by_vendor.get(conn.vendor)
        if convs is None:
            convs = self._by_vendor[conn.vendor] = _converters(self.field, self.field.model._meta.db_table)
        for conv, col in convs:
            value = conv(value, col, conn)
        return value


class Columns:
    """Column list of a hand-written SELECT: ``(alias, Model, field names)`` groups. Applies the backend's value
    converters (SQLite returns dates as text; PostgreSQL needs none) and slices a row into model instances
    (``Model.from_db``: ordinary, deferred instances, so callers use the same model methods as everywhere)."""

    def __init__(self, *groups):
        self.groups = []
        self.sql_parts = []
        for alias, model, names in groups:
            wanted = {model._meta.get_field(n) for n in names}
            fields = [f for f in model._meta.concrete_fields if f in wanted]  # ``from_db`` takes the model's order
            self.sql_parts.extend(f"{alias}.{connection.ops.quote_name(f.column)}" for f in fields)
            self.groups.append((model, [f.attname for f in fields], fields))
        self._converters: dict[str, list] = {}

    @property
    def sql(self) -> str:
        return ", ".join(self.sql_parts)

    def _converters_for(self, conn):
        found = self._converters.get(conn.vendor)
        if found is None:
            found = [_converters(f, model._meta.db_table) for model, _names, fields in self.groups for f in fields]
            self._converters[conn.vendor] = found
        return found

    def instances(self, row, conn=None) -> list:
        """The model instances of ``row`` (its first ``len(self.sql_parts)`` values); ``None`` for a group whose
        primary key is NULL (a LEFT JOIN that found nothing)."""
        conn = conn or connection
        values = list(row[:len(self.sql_parts)])
        for i, convs in enumerate(self._converters_for(conn)):
            for conv, col in convs:
                values[i] = conv(values[i], col, conn)
        out, start = [], 0
        for model, names, _fields in self.groups:
            chunk = values[start:start + len(names)]
            start += len(names)
            out.append(None if chunk[0] is None else model.from_db(conn.alias, names, chunk))
        return out
