# Issue 16: a bureau user's count of the applications it may see reads a narrow index (insured region, institution).

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('applications', '0006_list_order_indexes'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='application',
            index=models.Index(fields=['insured_region', 'institution'], name='application_scope'),
        ),
    ]
