"""Helpers for the tests of the tables partitioned by month (issue 16, PostgreSQL)."""
from django.db import connection

from apps.settlement import settlement_sql


def partitions_of(table: str) -> dict[str, str]:
    """Partition name → its bound, as PostgreSQL describes it."""
    with connection.cursor() as cur:
        cur.execute("""SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i
                       JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass""", [table])
        return dict(cur.fetchall())


def rows_in(relation: str) -> int:
    with connection.cursor() as cur:
        cur.execute(f"SELECT count(*) FROM {relation}")
        return cur.fetchone()[0]


def drop_month_partitions() -> None:
    """Partitions are DDL and outlive a test's data: leave every table partitioned by month with its default
    partition only (the flushed tables are empty). Detached first: the dispensings are referenced by foreign keys."""
    for table in settlement_sql.month_partitioned_tables():
        for name in partitions_of(table):
            if name != f"{table}_default":
                with connection.cursor() as cur:
                    cur.execute(f"ALTER TABLE {table} DETACH PARTITION {name}")
                    cur.execute(f"DROP TABLE {name}")
