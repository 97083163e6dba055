"""PIPL: the contact phone is stored encrypted (AES-256-GCM, ``apps.core.fields``); existing rows are encrypted in
place, the reverse decrypts them."""
from django.db import migrations

import apps.core.fields
from apps.core.fields import encrypt_columns


class Migration(migrations.Migration):

    dependencies = [
        ("pharmacies", "0002_pharmacy_bank_details"),
    ]

    operations = [
        migrations.AlterField(
            model_name="pharmacy",
            name="contact_phone",
            field=apps.core.fields.EncryptedCharField(blank=True, kind="phone", max_length=20, verbose_name="联系电话"),
        ),
        migrations.RunPython(*encrypt_columns("pharmacies_pharmacy", [("contact_phone", "phone", {})]), elidable=False),
    ]
