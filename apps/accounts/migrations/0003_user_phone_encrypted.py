"""PIPL: a staff user's phone is stored encrypted (AES-256-GCM, ``apps.core.fields``) like the physicians' and the
insured persons'; existing rows are encrypted in place, the reverse decrypts them."""
from django.db import migrations

import apps.core.fields
from apps.core.fields import encrypt_columns


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0002_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="user",
            name="phone",
            field=apps.core.fields.EncryptedCharField(blank=True, kind="phone", max_length=20, verbose_name="联系电话"),
        ),
        migrations.RunPython(*encrypt_columns("accounts_user", [("phone", "phone", {})]), elidable=False),
    ]
