"""PIPL: the contact phone is stored encrypted (AES-256-GCM, ``apps.core.fields``); existing rows are encrypted in
place, the reverse decrypts them."""
from django.db import migrations

import apps.core.fields
from apps.core.fields import encrypt_columns


class Migration(migrations.Migration):

    dependencies = [
        ("institutions", "0003_institution_bank_account_name_and_more"),
    ]

    operations = [
        migrations.AlterField(
            model_name="institution",
            name="contact_phone",
            field=apps.core.fields.EncryptedCharField(blank=True, kind="phone", max_length=20, verbose_name="联系电话"),
        ),
        migrations.RunPython(*encrypt_columns("institutions_institution", [("contact_phone", "phone", {})]), elidable=False),
    ]
