# Issue 16: monthly report snapshots per city and county besides the province-wide one.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0008_help_texts_without_rule_ids'),
        ('settlement', '0008_difference_dispensing_composite_fk'),
    ]

    operations = [
        migrations.AddField(
            model_name='monthlyreportsnapshot',
            name='region',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='core.region', verbose_name='统筹区'),
        ),
        migrations.AlterField(
            model_name='monthlyreportsnapshot',
            name='period',
            field=models.DateField(verbose_name='月份'),
        ),
        migrations.AddConstraint(
            model_name='monthlyreportsnapshot',
            constraint=models.UniqueConstraint(condition=models.Q(('region__isnull', True)), fields=('period',), name='uniq_snapshot_period_whole'),
        ),
        migrations.AddConstraint(
            model_name='monthlyreportsnapshot',
            constraint=models.UniqueConstraint(condition=models.Q(('region__isnull', False)), fields=('period', 'region'), name='uniq_snapshot_period_region'),
        ),
    ]
