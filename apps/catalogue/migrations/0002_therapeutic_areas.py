"""Reference list of therapeutic areas, grouped as in the stocking reports (R-STK-2)."""
from django.db import migrations

AREAS = [
    ("oncology", "肿瘤", "oncology"),
    ("hematology", "血液病", "oncology"),
    ("rare_disease", "罕见病", "rare_disease"),
    ("endocrine", "内分泌与代谢", "chronic"),
    ("cardiovascular", "心脑血管", "chronic"),
    ("respiratory", "呼吸系统", "chronic"),
    ("immunology", "免疫与皮肤", "chronic"),
    ("neurology", "神经与精神", "chronic"),
    ("ophthalmology", "眼科", "chronic"),
    ("nephrology", "肾脏病", "chronic"),
    ("digestive", "消化系统", "chronic"),
    ("hepatitis", "病毒性肝炎", "chronic_infectious"),
    ("hiv", "艾滋病", "chronic_infectious"),
    ("tuberculosis", "结核病", "chronic_infectious"),
]


def load(apps, schema_editor):
    TherapeuticArea = apps.get_model("catalogue", "TherapeuticArea")
    for code, name, group in AREAS:
        TherapeuticArea.objects.update_or_create(code=code, defaults={"name": name, "group": group})


class Migration(migrations.Migration):
    dependencies = [("catalogue", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
