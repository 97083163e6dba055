"""Issue 16 (pages): the dispensing lists sort newest first on an index (on PostgreSQL a partitioned index: one
per month partition, merged by the planner)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('prescriptions', '0004_dispensings_partitioned_by_month'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='dispensing',
            index=models.Index(fields=['-dispensed_at', '-id'], name='disp_dispensed_desc'),
        ),
        migrations.AddIndex(
            model_name='dispensing',
            index=models.Index(fields=['pharmacy', '-dispensed_at', '-id'], name='disp_pharmacy_dispensed_desc'),
        ),
    ]
