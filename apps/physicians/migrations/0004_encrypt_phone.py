"""PIPL: the physician's phone is stored encrypted (AES-256-GCM, ``apps.core.fields``); existing rows are encrypted
in place, the reverse decrypts them."""
from django.db import migrations

import apps.core.fields
from apps.core.fields import encrypt_columns


class Migration(migrations.Migration):

    dependencies = [
        ("physicians", "0003_physician_last_rechecked_on_physician_user"),
    ]

    operations = [
        migrations.AlterField(
            model_name="physician",
            name="phone",
            field=apps.core.fields.EncryptedCharField(blank=True, kind="phone", max_length=20, verbose_name="联系电话"),
        ),
        migrations.RunPython(*encrypt_columns("physicians_physician", [("phone", "phone", {})]), elidable=False),
    ]
