"""Fast inserts for imports: PostgreSQL ``COPY … FROM STDIN`` with ids drawn from the table's sequence first
(so the caller knows every new row's id), ``bulk_create`` on other databases. The rows are plain dicts
(attname → value): building 50,000 model instances alone costs seconds. Used by the import engine for new
drugs, their payment-standard versions, registry rows and the audit rows (R-CAT-2: a national catalogue file in one run)."""
from __future__ import annotations

import io
import json
from decimal import Decimal
from typing import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from apps.core import sql as hot_sql
from apps.core.fields import DigestField, EncryptedCharField

BATCH_SIZE = 2000
COPY_CHUNK = 10000


def _escape(s: str) -> str:
    """COPY text format: backslash, tab, newline and carriage return are escaped (checked first: rare)."""
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def _converter(field: models.Field):
    if isinstance(field, EncryptedCharField):  # personal numbers: the ciphertext, as save() would write (PIPL)
        return lambda v: r"\N" if v is None else _escape(field.get_db_prep_save(v, connection) or "")
    if isinstance(field, models.JSONField):
        return lambda v: r"\N" if v is None else json.dumps(v, cls=DjangoJSONEncoder,
                                                           ensure_ascii=False).replace("\\", "\\\\")
    if isinstance(field, models.BooleanField):
        return lambda v: r"\N" if v is None else ("t" if v else "f")
    if isinstance(field, (models.DateField, models.DateTimeField, models.TimeField)):
        return lambda v: r"\N" if v is None else v.isoformat()
    if isinstance(field, models.DecimalField):
        return lambda v: r"\N" if v is None else format(Decimal(v), "f")
    if isinstance(field, (models.IntegerField, models.AutoField, models.ForeignKey)):
        return lambda v: r"\N" if v is None else str(int(v))
    return lambda v: r"\N" if v is None else _escape(str(v))


def insert_values(model: type[models.Model], rows: list[dict], *, now) -> list[int]:
    """Insert ``rows`` ({attname: value}; missing fields take their model default, ``auto_now(_add)`` fields
    ``now``, the caller's time of the write) and return the new primary keys in order."""
    if not rows:
        return []
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    defaults = {}
    for f in fields:
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False):
            defaults[f.attname] = now
        elif f.has_default():
            defaults[f.attname] = f.get_default()
        else:
            defaults[f.attname] = "" if (not f.null and isinstance(f, (models.CharField, models.TextField))) else None
    if not hot_sql.supports_copy():
        auto_fields = [f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)]
        objs = [model(**{**{name: now for name in auto_fields}, **row}) for row in rows]
        model.objects.bulk_create(objs, batch_size=BATCH_SIZE)
        return [o.pk for o in objs]
    digest_fields = [f for f in fields if isinstance(f, DigestField)]
    if digest_fields:  # keyed lookup digests of encrypted fields, as pre_save() would compute them (PIPL)
        rows = [{**row, **{f.attname: f.digest_of_row(row) for f in digest_fields}} for row in rows]
    pk = meta.pk
    table = meta.db_table
    ids = hot_sql.next_ids(table, pk.column, len(rows))
    with connection.cursor() as cursor:
        auto = {f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}
        converters = [(f.attname, _converter(f), defaults[f.attname]) for f in fields]
        q = connection.ops.quote_name
        columns = ", ".join([q(pk.column)] + [q(f.column) for f in fields])
        sql = f"COPY {q(table)} ({columns}) FROM STDIN"
        for start in range(0, len(rows), COPY_CHUNK):  # bounded buffers, one transaction
            _copy_chunk(cursor, sql, ids[start:start + COPY_CHUNK], rows[start:start + COPY_CHUNK], converters,
                        auto, now)
    return ids


def _copy_chunk(cursor, sql, ids, rows, converters, auto, now) -> None:
    buffer = io.StringIO()
    write = buffer.write
    for new_id, row in zip(ids, rows):
        get = row.get
        line = [str(new_id)]
        for attname, convert, default in converters:
            value = get(attname, default)
            if value is None and attname in auto:
                value = now
            line.append(convert(value))
        write("\t".join(line))
        write("\n")
    buffer.seek(0)
    hot_sql.copy_from(cursor, sql, buffer)


def insert(model: type[models.Model], objs: Iterable[models.Model], *, now) -> list[models.Model]:
    """``insert_values`` for unsaved model instances; sets their primary keys."""
    objs = list(objs)
    fields = [f.attname for f in model._meta.concrete_fields if not f.primary_key]
    ids = insert_values(model, [{name: getattr(o, name) for name in fields} for o in objs], now=now)
    for obj, new_id in zip(objs, ids):
        obj.pk = new_id
        obj._state.adding = False
        obj._state.db = "default"
    return objs

