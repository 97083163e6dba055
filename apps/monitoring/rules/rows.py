"""The rows the dispensing rules (R-MON-1, -2, -3, -5) read: one per dispensing line, with what the rules need
about its dispensing, prescription and drug. Read for a month by ``line_rows_for_month`` (ORM, any database) and
for one dispensing by ``apps.monitoring.hot`` (from memory plus one query)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Exists, OuterRef

from apps.catalogue.selectors import payment_standard_version_on
from apps.monitoring.rules.base import local_day, month_bounds
from apps.prescriptions.models import Dispensing, DispensingLine, PrescriptionItem


@dataclass(frozen=True)
class LineRow:
    line_id: int
    dispensing_id: int
    prescription_id: int
    period: dt.date
    dispensed_at: dt.datetime
    pharmacy_id: int
    pharmacy_region_id: int
    institution_id: int | None
    institution_region_id: int
    person_id: int
    physician_id: int
    issued_on: dt.date
    care_setting: str
    drug_id: int
    generic_name: str
    dosage_form: str
    therapeutic_area_id: int | None
    quantity: int
    unit_price: Decimal
    standard_in_force: Decimal | None
    fund: Decimal
    days_supply: int

    @property
    def day(self) -> dt.date:
        return local_day(self.dispensed_at)


def _live_lines():
    """Lines of normal dispensings that were not reversed (a reversed dispensing paid nothing in the end)."""
    reversed_ = Dispensing.objects.filter(reverses_id=OuterRef("dispensing_id"))
    return (DispensingLine.objects.filter(dispensing__kind=Dispensing.Kind.NORMAL)
            .exclude(Exists(reversed_)))


def line_rows(qs) -> list[LineRow]:
    """``LineRow`` for the lines of ``qs`` (a ``DispensingLine`` queryset), with the payment standard in force on
    the dispensing day (R-CAT-3) and the prescribed days of supply."""
    lines = list(qs.select_related("drug", "dispensing__prescription", "dispensing__pharmacy",
                                   "dispensing__institution").order_by("id"))
    items = {(i.prescription_id, i.drug_id): i.days_supply for i in PrescriptionItem.objects.filter(
        prescription_id__in={l.dispensing.prescription_id for l in lines})}
    rows = []
    for l in lines:
        d = l.dispensing
        day = local_day(d.dispensed_at)
        version = payment_standard_version_on(drug=l.drug, on=day)
        rows.append(LineRow(
            line_id=l.pk, dispensing_id=d.pk, prescription_id=d.prescription_id, period=d.period,
            dispensed_at=d.dispensed_at, pharmacy_id=d.pharmacy_id, pharmacy_region_id=d.pharmacy.region_id,
            institution_id=d.institution_id, institution_region_id=d.institution.region_id, person_id=d.person_id,
            physician_id=d.prescription.physician_id, issued_on=local_day(d.prescription.issued_at),
            care_setting=d.care_setting, drug_id=l.drug_id, generic_name=l.drug.generic_name,
            dosage_form=l.drug.dosage_form, therapeutic_area_id=l.drug.therapeutic_area_id, quantity=l.quantity,
            unit_price=l.unit_price, standard_in_force=version.amount if version else None, fund=l.fund_payment,
            days_supply=items.get((d.prescription_id, l.drug_id), 0)))
    return rows


def line_rows_for_month(*, period: dt.date, lookback_days: int = 0) -> list[LineRow]:
    """The live lines of dispensings counted in ``period`` — plus, with ``lookback_days``, the live lines
    dispensed that many days before the month began (R-MON-5 needs the supplies still running)."""
    start, _end = month_bounds(period)
    qs = _live_lines().filter(dispensing__period=start)
    if lookback_days:
        since = dt.datetime.combine(start - dt.timedelta(days=lookback_days), dt.time.min,
                                    tzinfo=dt.timezone(dt.timedelta(hours=8)))
        earlier = _live_lines().filter(dispensing__dispensed_at__gte=since, dispensing__period__lt=start)
        qs = qs | earlier
    return line_rows(qs)
