"""Fast inserts for imports: PostgreSQL ``COPY … FROM STDIN`` with ids drawn from the table's sequence first
(so the caller knows every new row's id), ``bulk_create`` on other databases. The rows are plain dicts
(attname → value): building 50,000 model instances alone costs seconds. Used by the import engine for new
drugs, their payment-standard versions, registry rows and the audit rows (R-CAT-2: a national catalogue file in one run).

``copies_in_background()`` (issue 16): inside it, a ``COPY`` is handed to a writer thread on the same connection
(same transaction) and the caller goes on parsing the next rows while PostgreSQL writes these — psycopg2 releases
the GIL while it waits for the server, so the two cores work at once. The COPYs run one after the other in the
order given; any other statement of the caller first waits for them (an execute wrapper), and so does leaving the
block, which raises a COPY's error as Django would have (``IntegrityError`` …)."""
from __future__ import annotations

import contextlib
import io
import json
import queue
import threading
from decimal import Decimal
from typing import Iterable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from apps.core import sql as hot_sql
from apps.core.fields import DigestField, EncryptedCharField

BATCH_SIZE = 2000
COPY_CHUNK = 10000


class _Writer:
    """One thread that runs the queued COPYs of one connection in order."""

    #: COPY buffers waiting at most (each a chunk of rows): bounds the memory when PostgreSQL is the slower side
    MAX_WAITING = 4

    def __init__(self, raw_connection):
        self.raw = raw_connection
        self.jobs: queue.Queue = queue.Queue(maxsize=self.MAX_WAITING)
        self.error: BaseException | None = None
        self.cancelled = False
        self.thread = threading.Thread(target=self._run, name="excel-copy-writer", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            job = self.jobs.get()
            try:
                if job is None:
                    return
                if self.error is None and not self.cancelled:  # after an error the transaction is lost
                    sql, buffer = job
                    with self.raw.cursor() as cursor:
                        cursor.copy_expert(sql, buffer)
            except BaseException as exc:  # raised in the caller's thread by wait()
                self.error = exc
            finally:
                self.jobs.task_done()

    def submit(self, sql: str, buffer) -> None:
        self.raise_error()
        self.jobs.put((sql, buffer))

    def wait(self) -> None:
        self.jobs.join()
        self.raise_error()

    def raise_error(self) -> None:
        if self.error is not None:
            error, self.error = self.error, None
            with connection.wrap_database_errors:  # psycopg2's error as Django's (IntegrityError, DataError …)
                raise error

    def stop(self, *, cancel: bool) -> None:
        self.cancelled = cancel
        self.jobs.put(None)
        self.thread.join()


_local = threading.local()  # the writer of this thread's connection, inside copies_in_background()


@contextlib.contextmanager
def copies_in_background():
    """Run the ``COPY``s of ``insert_values`` in a writer thread while the caller goes on (PostgreSQL; elsewhere
    nothing changes). Use it inside the transaction the rows belong to."""
    if not hot_sql.supports_copy() or getattr(_local, "writer", None) is not None:
        yield
        return
    connection.ensure_connection()
    writer = _Writer(connection.connection)

    def wait_first(execute, sql, params, many, context):
        writer.wait()
        return execute(sql, params, many, context)

    _local.writer = writer
    failed = True
    try:
        with connection.execute_wrapper(wait_first):
            yield
        writer.wait()
        failed = False
    finally:
        _local.writer = None
        writer.stop(cancel=failed)  # a failed block's remaining COPYs are dropped (it is rolled back)


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
        decimal_ = Decimal
        return lambda v: r"\N" if v is None else format(v if v.__class__ is decimal_ else Decimal(v), "f")
    if isinstance(field, (models.IntegerField, models.AutoField, models.ForeignKey)):
        return lambda v: r"\N" if v is None else (str(v) if v.__class__ is int else str(int(v)))
    str_ = str
    return lambda v: r"\N" if v is None else _escape(v if v.__class__ is str_ else str(v))


def insert_values(model: type[models.Model], rows: list[dict], *, now, ids: bool = True) -> list[int]:
    """Insert ``rows`` ({attname: value}; missing fields take their model default, ``auto_now(_add)`` fields
    ``now``, the caller's time of the write) and return the new primary keys in order (``ids=False``: the caller
    needs none; PostgreSQL numbers the rows as it writes them, one statement less)."""
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
        return [o.pk for o in objs] if ids else []
    digest_fields = [f for f in fields if isinstance(f, DigestField)]
    if digest_fields:  # keyed lookup digests of encrypted fields, as pre_save() would compute them (PIPL)
        rows = [{**row, **{f.attname: f.digest_of_row(row) for f in digest_fields}} for row in rows]
    pk = meta.pk
    table = meta.db_table
    new_ids = hot_sql.next_ids(table, pk.column, len(rows)) if ids else None
    auto = {f.attname for f in fields if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)}
    # the columns every row gives are converted row by row; the others hold one value (their default, or ``now``),
    # converted once and written at the end of every line
    keys = rows[0].keys()
    if not all(row.keys() == keys for row in rows):  # rows giving different columns: each gets the defaults
        rows = [{**defaults, **row} for row in rows]
        keys = rows[0].keys()
    given = [f for f in fields if f.attname in keys]
    constant = [f for f in fields if f not in given]
    q = connection.ops.quote_name
    columns = ", ".join([q(pk.column)] * ids + [q(f.column) for f in given] + [q(f.column) for f in constant])
    sql = f"COPY {q(table)} ({columns}) FROM STDIN"
    tail = "".join("\t" + _converter(f)(now if defaults[f.attname] is None and f.attname in auto
                                         else defaults[f.attname]) for f in constant)
    if not (ids or given):  # the line starts with the constants
        tail = tail[1:]
    tail += "\n"
    converters = [(f.attname, _converter(f), now if f.attname in auto else None) for f in given]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), COPY_CHUNK):  # bounded buffers, one transaction
            _copy_chunk(cursor, sql, new_ids[start:start + COPY_CHUNK] if ids else None,
                        rows[start:start + COPY_CHUNK], converters, tail)
    return new_ids or []


def _copy_chunk(cursor, sql, ids, rows, converters, tail) -> None:
    """One ``COPY`` of ``rows``: per line the new id (unless ``ids`` is ``None``), the given columns (``None`` in
    an ``auto_now`` column is the write's time), then the constant ``tail``."""
    join = "\t".join
    plain = [(attname, convert) for attname, convert, when_none in converters if when_none is None]
    if len(plain) == len(converters):
        fields = [join([convert(row[attname]) for attname, convert in plain]) for row in rows]
    else:
        fields = [join([convert(when_none if (value := row[attname]) is None and when_none is not None else value)
                        for attname, convert, when_none in converters]) for row in rows]
    if ids is None:
        lines = [f"{line}{tail}" for line in fields]
    elif converters:
        lines = [f"{new_id}\t{line}{tail}" for new_id, line in zip(ids, fields)]
    else:
        lines = [f"{new_id}{tail}" for new_id in ids]
    buffer = io.StringIO("".join(lines))
    writer = getattr(_local, "writer", None)
    if writer is not None:
        writer.submit(sql, buffer)
    else:
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

