"""Writing the demo year's rows fast (issue 15 item 14: a year of work loaded in under a minute on SQLite).

``insert(model, objs)`` writes unsaved model instances as they are — every field's value as the caller set it,
``created_at``/``Event.at`` included (the moment the row describes, never the machine's clock) — and sets their
primary keys. On PostgreSQL it is the import engine's ``COPY`` (``apps.core.excel.bulk.insert``); elsewhere one
``executemany`` with ids given from the table's current maximum (the load is one writer in one transaction, and
the demo deletes no rows, so no id of a deleted row comes back), the
values adapted by the backend's own adapters. ``bulk_create`` prepares each value through the whole expression
machinery and took most of the load's time for the year's 50,000 rows."""
from __future__ import annotations

from typing import Iterable

from django.db import connection, models

from apps.core import sql as hot_sql
from apps.core.excel import bulk


def _adapter(field: models.Field):
    """How a value of ``field`` is bound: the backend's adapter for Django's own field types; a project field
    (an encrypted personal number, its digest) goes through its own ``pre_save`` and ``get_db_prep_save``."""
    ops = connection.ops
    if not type(field).__module__.startswith("django."):
        return "own"
    if isinstance(field, models.JSONField):
        return lambda v: None if v is None else ops.adapt_json_value(v, field.encoder)
    if isinstance(field, models.DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return ops.adapt_datefield_value
    if isinstance(field, models.DecimalField):
        return lambda v: None if v is None else str(v)
    return None


def analyze(*models_written: type[models.Model]) -> None:
    """Fresh planner statistics for the tables a bulk write filled (PostgreSQL; nothing on SQLite): the later
    steps' set-based queries (the monitoring batch, the settlement run) were planned as nested loops over
    tables the planner still thought empty, and took many minutes."""
    with connection.cursor() as cursor:
        for model in models_written:
            hot_sql.analyze(cursor, model._meta.db_table)


def insert(model: type[models.Model], objs: Iterable[models.Model], *, batch: int = 5000) -> list[models.Model]:
    objs = list(objs)
    if not objs:
        return objs
    if hot_sql.supports_copy():
        return bulk.insert(model, objs, now=None)
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    adapters = [(f, f.attname, _adapter(f)) for f in fields]
    q = connection.ops.quote_name
    table, pk = q(meta.db_table), q(meta.pk.column)
    columns = ", ".join([pk] + [q(f.column) for f in fields])
    sql = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * (len(fields) + 1))})"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(MAX({pk}), 0) FROM {table}")
        first = cursor.fetchone()[0] + 1
        rows = []
        for offset, obj in enumerate(objs):
            row = [first + offset]
            for field, attname, adapt in adapters:
                if adapt == "own":
                    row.append(field.get_db_prep_save(field.pre_save(obj, True), connection))
                    continue
                value = getattr(obj, attname)
                row.append(adapt(value) if adapt is not None and value is not None else value)
            rows.append(row)
        for start in range(0, len(rows), batch):
            cursor.executemany(sql, rows[start:start + batch])
    for offset, obj in enumerate(objs):
        obj.pk = first + offset
        obj._state.adding, obj._state.db = False, connection.alias
    return objs
