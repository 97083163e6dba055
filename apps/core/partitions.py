"""Tables partitioned by month on PostgreSQL (issue 16 "Beyond one machine"): dispensings, their lines and
statement lines are ``PARTITION BY RANGE (period)`` — ``period`` is the first day of the settlement month (a
month in Asia/Shanghai, as every ``period`` of the project). Each table has a default partition and one partition
per month, named ``<table>_p<yyyymm>``; the schedule creates them ahead of the months (``ensure_month_partitions``)
and moves rows that landed in the default partition (written before their month's partition existed) into it.
The database's primary key is (id, period) while Django keeps ``id`` as the primary key: ids come from one
sequence, so they stay unique across the months. On SQLite (a developer's quick run) the tables are plain and
every function here does nothing.

``repartition`` is the migrations' part: it rebuilds a plain table as a partitioned one (or back), rows,
indexes, unique and outbound foreign-key constraints kept; foreign keys that pointed *at* the table are dropped
and the migration adds the composite ones (``(x_id, period) REFERENCES t (id, period)``)."""
from __future__ import annotations

import datetime as dt

from django.db import connection, transaction

from apps.core import sql as hot_sql

PARTITION_LOCK_KEY = 73511  # creating a month partition (any table): one at a time


def month_after(period: dt.date) -> dt.date:
    return dt.date(period.year + 1, 1, 1) if period.month == 12 else dt.date(period.year, period.month + 1, 1)


def month_before(period: dt.date) -> dt.date:
    return dt.date(period.year - 1, 12, 1) if period.month == 1 else dt.date(period.year, period.month - 1, 1)


def months_around(today: dt.date, *, ahead: int) -> list[dt.date]:
    """Last month, this month and ``ahead`` months after it (first days): what the schedule keeps ready."""
    months = [month_before(today.replace(day=1)), today.replace(day=1)]
    for _ in range(ahead):
        months.append(month_after(months[-1]))
    return months


def partition_name(table: str, period: dt.date) -> str:
    return f"{table}_p{period:%Y%m}"


def is_partitioned(table: str) -> bool:
    """Whether ``table`` is a partitioned table (PostgreSQL, after its migration)."""
    if not hot_sql.is_postgresql():
        return False
    with connection.cursor() as cur:
        cur.execute("SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(%s)", [table])
        return cur.fetchone() is not None


def partition_months(table: str) -> list[dt.date]:
    """The months of ``table`` that have a partition of their own (sorted)."""
    if not is_partitioned(table):
        return []
    with connection.cursor() as cur:
        cur.execute("""SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                       WHERE i.inhparent = to_regclass(%s)""", [table])
        names = [row[0] for row in cur.fetchall()]
    prefix = f"{table}_p"
    return sorted(dt.date(int(n[len(prefix):len(prefix) + 4]), int(n[len(prefix) + 4:]), 1)
                  for n in names if n.startswith(prefix) and n[len(prefix):].isdigit() and len(n) == len(prefix) + 6)


def default_partition_months(table: str, *, column: str = "period") -> list[dt.date]:
    """Months whose rows sit in ``table``'s default partition (written before their month's partition existed)."""
    if not is_partitioned(table):
        return []
    with connection.cursor() as cur:
        cur.execute(f"SELECT DISTINCT date_trunc('month', {column})::date FROM {table}_default ORDER BY 1")
        return [row[0] for row in cur.fetchall()]


def _columns(cur, table: str) -> list[str]:
    cur.execute("""SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0
                   AND NOT attisdropped ORDER BY attnum""", [table])
    return [row[0] for row in cur.fetchall()]


def _inbound_foreign_keys(cur, table: str) -> list[tuple[str, str, str]]:
    """(referencing table, name, definition) of the foreign keys that point at ``table`` (top level only)."""
    cur.execute("""SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE confrelid = to_regclass(%s) AND contype = 'f' AND conparentid = 0 ORDER BY 1, 2""", [table])
    return cur.fetchall()


def ensure_month_partitions(table: str, periods, *, column: str = "period") -> list[dt.date]:
    """Create the missing month partitions of ``table`` for ``periods`` (any day of each month), each in its own
    transaction. Returns the months created. Nothing to do on SQLite.

    A month created ahead (the schedule's case) is empty in the default partition and is simply created. Rows of
    the month already in the default partition (written before the partition existed: a back-dated load, a
    schedule that did not run) are moved into it: the new table is filled from the default partition, then
    attached. A foreign key pointing at ``table`` would refuse that move (PostgreSQL checks it per partition), so
    such keys are dropped for the move and added back, which checks them again over the referencing table."""
    if not is_partitioned(table):
        return []
    existing = set(partition_months(table))
    created = []
    for period in sorted({p.replace(day=1) for p in periods} - existing):
        name, upper = partition_name(table, period), month_after(period)
        with transaction.atomic(), connection.cursor() as cur:
            # two runs (or a run and the schedule) creating the same month take turns; the second finds it made
            hot_sql.advisory_xact_lock(cur, PARTITION_LOCK_KEY, 0)
            cur.execute("SELECT to_regclass(%s)", [name])
            if cur.fetchone()[0] is not None:
                continue
            cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table}_default WHERE {column} >= %s AND {column} < %s)",
                        [period, upper])
            if not cur.fetchone()[0]:
                cur.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)", [period, upper])
                created.append(period)
                continue
            inbound = _inbound_foreign_keys(cur, table)
            for referencing, fk, _definition in inbound:
                cur.execute(f"ALTER TABLE {referencing} DROP CONSTRAINT {fk}")
            # the new month's table, filled from the default partition, then attached (its indexes, keys and
            # outbound foreign keys are created by the attachment); the parent is locked for the moment this takes
            cur.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
            cur.execute(f"ALTER TABLE {name} ADD CONSTRAINT {name}_month CHECK ({column} >= %s AND {column} < %s)",
                        [period, upper])
            columns = ", ".join(_columns(cur, table))
            cur.execute(f"""WITH moved AS (DELETE FROM {table}_default WHERE {column} >= %s AND {column} < %s
                                          RETURNING {columns})
                            INSERT INTO {name} ({columns}) SELECT {columns} FROM moved""", [period, upper])
            cur.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", [period, upper])
            cur.execute(f"ALTER TABLE {name} DROP CONSTRAINT {name}_month")
            for referencing, fk, definition in inbound:
                cur.execute(f"ALTER TABLE {referencing} ADD CONSTRAINT {fk} {definition}")
        created.append(period)
    return created


# --------------------------------------------------------------------------- migrations

def repartition(cur, table: str, *, partitioned: bool, column: str = "period", key: str = "id") -> None:
    """Rebuild ``table`` (PostgreSQL) as ``PARTITION BY RANGE (column)`` with primary key (key, column), a default
    partition and one partition per month present in its rows — or, ``partitioned=False``, back into a plain table
    with primary key (key). The rows, the identity sequence's position, the CHECK, NOT NULL and default clauses,
    every index, unique constraint and outbound foreign key are kept under their names. Foreign keys from other
    tables to this one are dropped (the caller adds what the new key allows). Used inside a migration."""
    old = f"{table}_rebuilt"
    cur.execute(f"ALTER TABLE {table} RENAME TO {old}")
    cur.execute("SELECT pg_get_serial_sequence(%s, %s)", [old, key])
    cur.execute(f"SELECT last_value, is_called FROM {cur.fetchone()[0]}")
    last_value, is_called = cur.fetchone()
    cur.execute("""SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint
                   WHERE conrelid = to_regclass(%s) AND contype IN ('u', 'f') ORDER BY conname""", [old])
    constraints = cur.fetchall()
    cur.execute("""SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                   WHERE x.indrelid = to_regclass(%s)
                     AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
                   ORDER BY i.relname""", [old])
    indexes = cur.fetchall()
    cur.execute(f"""CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING IDENTITY INCLUDING CONSTRAINTS)
                    {f'PARTITION BY RANGE ({column})' if partitioned else ''}""")
    if partitioned:
        cur.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
        cur.execute(f"SELECT DISTINCT date_trunc('month', {column})::date FROM {old} ORDER BY 1")
        for (period,) in cur.fetchall():
            cur.execute(f"CREATE TABLE {partition_name(table, period)} PARTITION OF {table} "
                        f"FOR VALUES FROM (%s) TO (%s)", [period, month_after(period)])
    columns = ", ".join(_columns(cur, table))
    cur.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {old}")
    cur.execute(f"DROP TABLE {old} CASCADE")  # and the foreign keys that pointed at it
    cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY "
                f"({key}{f', {column}' if partitioned else ''})")
    for name, definition in constraints:
        cur.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {definition}")
    for name, definition in indexes:
        # a partitioned table's index is described "ON ONLY <table>": recreated on the whole new table
        for described in (f" ON ONLY public.{old} ", f" ON public.{old} ", f" ON ONLY {old} ", f" ON {old} "):
            definition = definition.replace(described, f" ON {table} ")
        cur.execute(definition)
    # the new identity sequence continues where the old one was, under the old one's name
    cur.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, key])
    sequence = cur.fetchone()[0]
    cur.execute("SELECT setval(%s, %s, %s)", [sequence, last_value, is_called])
    wanted = f"public.{table}_{key}_seq"
    if sequence != wanted:
        cur.execute(f"ALTER SEQUENCE {sequence} RENAME TO {table}_{key}_seq")
