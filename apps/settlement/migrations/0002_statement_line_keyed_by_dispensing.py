"""StatementLine keyed by its dispensing (one index fewer on the month's million lines), without a database
foreign key to the dispensing (see the model). Lines are recomputed by every settlement run, so the table is
recreated rather than altered."""
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("prescriptions", "0001_initial"),
        ("settlement", "0001_initial"),
    ]

    operations = [
        migrations.DeleteModel(name="StatementLine"),
        migrations.CreateModel(
            name="StatementLine",
            fields=[
                ("dispensing", models.OneToOneField(db_constraint=False,
                                                    on_delete=django.db.models.deletion.PROTECT, primary_key=True,
                                                    related_name="statement_line", serialize=False,
                                                    to="prescriptions.dispensing", verbose_name="配药结算")),
                ("statement", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="lines",
                                                to="settlement.statement", verbose_name="结算单")),
            ],
            options={"verbose_name": "结算单明细", "verbose_name_plural": "结算单明细"},
        ),
    ]
