"""Statement lines partitioned by month on PostgreSQL (issue 16 "Beyond one machine").

The table becomes ``PARTITION BY RANGE (period)`` with a default partition and one partition per month that already
has statements; later months are created ahead by the schedule (``services.statement_line_partitions_ensure``).
Its primary key is (dispensing_id, period) — a partitioned table's unique keys must include the partition key; a
dispensing has one period, so it is still on one statement at most. Lines have no inbound foreign key, so nothing
else changes. On SQLite the column is simply added."""
from django.db import migrations, models

TABLE = "settlement_statementline"


def _month_after(period):
    return period.replace(year=period.year + 1, month=1) if period.month == 12 else period.replace(month=period.month + 1)


def forward(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cur:
        if connection.vendor != "postgresql":
            cur.execute(f"ALTER TABLE {TABLE} ADD COLUMN period date NOT NULL DEFAULT '1970-01-01'")
            cur.execute(f"""UPDATE {TABLE} SET period = (SELECT s.period FROM settlement_statement s
                                                         WHERE s.id = {TABLE}.statement_id)""")
            return
        cur.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_unpartitioned")
        cur.execute(f"""CREATE TABLE {TABLE} (
                            dispensing_id bigint NOT NULL,
                            statement_id bigint NOT NULL,
                            period date NOT NULL,
                            CONSTRAINT {TABLE}_pkey_period PRIMARY KEY (dispensing_id, period)
                        ) PARTITION BY RANGE (period)""")
        cur.execute(f"CREATE INDEX {TABLE}_statement_id_part ON {TABLE} (statement_id)")
        cur.execute(f"CREATE TABLE {TABLE}_default PARTITION OF {TABLE} DEFAULT")
        cur.execute("SELECT DISTINCT period FROM settlement_statement ORDER BY 1")
        for (period,) in cur.fetchall():
            cur.execute(f"""CREATE TABLE {TABLE}_p{period:%Y%m} PARTITION OF {TABLE}
                            FOR VALUES FROM (%s) TO (%s)""", [period, _month_after(period)])
        cur.execute(f"""INSERT INTO {TABLE} (dispensing_id, statement_id, period)
                        SELECT l.dispensing_id, l.statement_id, s.period FROM {TABLE}_unpartitioned l
                        JOIN settlement_statement s ON s.id = l.statement_id""")
        cur.execute(f"DROP TABLE {TABLE}_unpartitioned")


def backward(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cur:
        if connection.vendor != "postgresql":
            cur.execute(f"ALTER TABLE {TABLE} DROP COLUMN period")
            return
        cur.execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_partitioned")
        cur.execute(f"""CREATE TABLE {TABLE} (dispensing_id bigint PRIMARY KEY, statement_id bigint NOT NULL)""")
        cur.execute(f"CREATE INDEX {TABLE}_statement_id ON {TABLE} (statement_id)")
        cur.execute(f"INSERT INTO {TABLE} SELECT dispensing_id, statement_id FROM {TABLE}_partitioned")
        cur.execute(f"DROP TABLE {TABLE}_partitioned CASCADE")


class Migration(migrations.Migration):

    dependencies = [
        ("settlement", "0005_run_heartbeat"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="statementline",
                    name="period",
                    field=models.DateField(help_text="该月第一天（按月分区）", verbose_name="结算月份"),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
