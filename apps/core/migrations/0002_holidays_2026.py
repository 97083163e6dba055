"""R-APP-5: the State Council's 2026 holiday arrangement as the calendar's starting data."""
import csv
from pathlib import Path

from django.db import migrations

CSV = Path(__file__).resolve().parents[3] / "fixtures" / "holidays-2026.csv"


def load(apps, schema_editor):
    CalendarDay = apps.get_model("core", "CalendarDay")
    with CSV.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            CalendarDay.objects.update_or_create(date=row["date"], defaults={"kind": row["kind"], "name": row["name"]})


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
