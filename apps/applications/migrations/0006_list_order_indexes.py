# Issue 16: the application lists sort on an index (newest first, alone and under a status filter).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('applications', '0005_help_texts_without_rule_ids'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='application',
            index=models.Index(fields=['-submitted_at', '-id'], name='application_newest_first'),
        ),
        migrations.AddIndex(
            model_name='application',
            index=models.Index(fields=['status', '-submitted_at', '-id'], name='application_status_newest'),
        ),
    ]
