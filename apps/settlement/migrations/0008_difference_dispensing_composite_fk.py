"""A reconciliation difference's dispensing through the composite key (issue 16): dispensings are partitioned by
month on PostgreSQL and keyed (id, period) (``prescriptions/0004``, which dropped the single-column constraint);
a difference names a dispensing of its own month, so ``(dispensing_id, period)`` references it. SQLite keeps no constraint."""
from django.db import migrations, models
import django.db.models.deletion

TABLE = "settlement_reconciliationdifference"
FK = "settlement_reconciliationdifference_dispensing_period_fk"


def forward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(f"""ALTER TABLE {TABLE} ADD CONSTRAINT {FK} FOREIGN KEY (dispensing_id, period)
                        REFERENCES prescriptions_dispensing (id, period)""")


def backward(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(f"ALTER TABLE {TABLE} DROP CONSTRAINT {FK}")


class Migration(migrations.Migration):

    dependencies = [
        ('prescriptions', '0004_dispensings_partitioned_by_month'),
        ('settlement', '0007_help_texts_without_rule_ids'),
    ]

    operations = [
        migrations.AlterField(
            model_name='reconciliationdifference',
            name='dispensing',
            field=models.ForeignKey(blank=True, db_constraint=False, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='prescriptions.dispensing', verbose_name='配药结算'),
        ),
        migrations.RunPython(forward, backward),
    ]
