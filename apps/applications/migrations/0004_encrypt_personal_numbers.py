"""PIPL: the insured person's ID number and phone, the application's phone and a proposed change's facts are stored
encrypted (AES-256-GCM, ``apps.core.fields``); the ID number is looked up and kept unique through its keyed
digest. Existing rows are encrypted in place (raw SQL, SQLite and PostgreSQL); the reverse decrypts them."""
from django.db import migrations

import apps.core.fields
from apps.core.fields import encrypt_columns

PERSON = encrypt_columns("applications_insuredperson",
                         [("id_number", "id_number", {"id_number_digest": 0, "id_number_tail_digest": 4}),
                          ("phone", "phone", {})])
APPLICATION = encrypt_columns("applications_application", [("patient_phone", "phone", {})])
CHANGE = encrypt_columns("applications_insuredpersonchange",
                         [("before", "person_facts", {}), ("after", "person_facts", {})])


class Migration(migrations.Migration):

    dependencies = [
        ("applications", "0003_insured_person_change"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="insuredperson",
            options={"ordering": ["name", "id"], "verbose_name": "参保人", "verbose_name_plural": "参保人"},
        ),
        migrations.AddField(
            model_name="insuredperson",
            name="id_number_digest",
            field=apps.core.fields.DigestField(null=True, source="id_number", verbose_name="身份证号摘要"),
        ),
        migrations.AddField(
            model_name="insuredperson",
            name="id_number_tail_digest",
            field=apps.core.fields.DigestField(help_text="按身份证号后四位查找", null=True, source="id_number", tail=4,
                                               verbose_name="身份证号后四位摘要"),
        ),
        migrations.AlterField(
            model_name="insuredperson",
            name="id_number",
            field=apps.core.fields.EncryptedCharField(digest_field="id_number_digest", kind="id_number", max_length=18,
                                                      tail_digest_field="id_number_tail_digest",
                                                      verbose_name="身份证号"),
        ),
        migrations.AlterField(
            model_name="insuredperson",
            name="phone",
            field=apps.core.fields.EncryptedCharField(blank=True, kind="phone", max_length=20, verbose_name="联系电话"),
        ),
        migrations.AlterField(
            model_name="application",
            name="patient_phone",
            field=apps.core.fields.EncryptedCharField(blank=True, kind="phone", max_length=20,
                                                      verbose_name="申请时联系电话"),
        ),
        migrations.RunPython(*PERSON, elidable=False),
        migrations.AlterField(
            model_name="insuredpersonchange",
            name="before",
            field=apps.core.fields.EncryptedJSONField(default=dict, kind="person_facts", verbose_name="修改前"),
        ),
        migrations.AlterField(
            model_name="insuredpersonchange",
            name="after",
            field=apps.core.fields.EncryptedJSONField(default=dict, kind="person_facts", verbose_name="修改后"),
        ),
        migrations.RunPython(*APPLICATION, elidable=False),
        migrations.RunPython(*CHANGE, elidable=False),
        migrations.AlterField(
            model_name="insuredperson",
            name="id_number_digest",
            field=apps.core.fields.DigestField(source="id_number", unique=True, verbose_name="身份证号摘要"),
        ),
        migrations.AlterField(
            model_name="insuredperson",
            name="id_number_tail_digest",
            field=apps.core.fields.DigestField(db_index=True, help_text="按身份证号后四位查找", source="id_number", tail=4,
                                               verbose_name="身份证号后四位摘要"),
        ),
    ]
