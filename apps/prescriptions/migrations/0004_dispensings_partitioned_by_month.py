"""Dispensings and their lines partitioned by month on PostgreSQL (issue 16 "Beyond one machine").

Both tables become ``PARTITION BY RANGE (period)`` with a default partition and one partition per month present;
later months are created ahead by the schedule (``apps.core.partitions.ensure_month_partitions``). A partitioned
table's keys must include the partition key, so the database keys are (id, period) — Django keeps ``id`` as the
primary key and the ids still come from one sequence. The lines get the dispensing's ``period`` (filled here from
their dispensing, then by every writer) and the composite foreign key ``(dispensing_id, period) REFERENCES
prescriptions_dispensing (id, period)``. The references that cannot name the month — a reversal's ``reverses`` (it may count in the next
month), a trace code's ``line`` and ``released_by``, a manual claim's ``dispensing`` — keep no database constraint
(the services hold them; PROTECT in the ORM). R-RX-6's reversed-once key becomes (reverses, period): the
database holds it within a month, ``dispensing_reverse`` (row lock on the original) across months. On SQLite the
column is added and the tables stay plain."""
import datetime as dt

from django.db import migrations, models
import django.db.models.deletion

from apps.core.partitions import repartition

DISPENSING, LINE = "prescriptions_dispensing", "prescriptions_dispensingline"
LINE_FK = "prescriptions_dispensingline_dispensing_period_fk"


def fill_line_periods(apps, schema_editor):
    with schema_editor.connection.cursor() as cur:
        cur.execute(f"UPDATE {LINE} SET period = (SELECT d.period FROM {DISPENSING} d WHERE d.id = {LINE}.dispensing_id)")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        repartition(cur, DISPENSING, partitioned=True)
        repartition(cur, LINE, partitioned=True)
        cur.execute(f"""ALTER TABLE {LINE} ADD CONSTRAINT {LINE_FK} FOREIGN KEY (dispensing_id, period)
                        REFERENCES {DISPENSING} (id, period)""")


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(f"ALTER TABLE {LINE} DROP CONSTRAINT {LINE_FK}")
        repartition(cur, LINE, partitioned=False)
        repartition(cur, DISPENSING, partitioned=False)


class Migration(migrations.Migration):

    # after every migration that created a foreign key to a dispensing by its id alone (settlement's), so that none
    # is created after the key became (id, period)
    dependencies = [
        ('prescriptions', '0003_help_texts_without_rule_ids'),
        ('settlement', '0007_help_texts_without_rule_ids'),
    ]

    operations = [
        migrations.AddField(
            model_name='dispensingline',
            name='period',
            field=models.DateField(default=dt.date(1970, 1, 1), help_text='所属配药结算的结算月份（按月分区）', verbose_name='结算月份'),
            preserve_default=False,
        ),
        migrations.RunPython(fill_line_periods, migrations.RunPython.noop),
        migrations.AlterField(
            model_name='dispensing',
            name='reverses',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='reversals', to='prescriptions.dispensing', verbose_name='被冲正的配药'),
        ),
        migrations.AlterField(
            model_name='dispensingline',
            name='dispensing',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.CASCADE, related_name='lines', to='prescriptions.dispensing', verbose_name='配药结算'),
        ),
        migrations.AlterField(
            model_name='tracecode',
            name='line',
            field=models.ForeignKey(db_constraint=False, on_delete=django.db.models.deletion.PROTECT, related_name='trace_codes', to='prescriptions.dispensingline', verbose_name='配药明细'),
        ),
        migrations.AlterField(
            model_name='tracecode',
            name='released_by',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='released_codes', to='prescriptions.dispensing', verbose_name='释放它的冲正'),
        ),
        migrations.AlterField(
            model_name='manualclaim',
            name='dispensing',
            field=models.OneToOneField(blank=True, db_constraint=False, help_text='本系统内全额自付的配药，可为空（外地发票）', null=True, on_delete=django.db.models.deletion.PROTECT, related_name='manual_claim', to='prescriptions.dispensing', verbose_name='对应配药记录'),
        ),
        migrations.RemoveConstraint(
            model_name='dispensing',
            name='uniq_dispensing_reversed_once',
        ),
        migrations.AddConstraint(
            model_name='dispensing',
            constraint=models.UniqueConstraint(fields=('reverses', 'period'), name='uniq_dispensing_reversed_once'),
        ),
        migrations.RunPython(partition, unpartition),
    ]
