"""Test data for settlement: dispensings written directly (no prescription services), with their lines."""
from __future__ import annotations

import datetime as dt
import itertools
from decimal import ROUND_HALF_UP, Decimal

from django.utils import timezone

from apps.applications.models import InsuredPerson
from apps.prescriptions.models import Delivery, Dispensing, DispensingLine, Prescription, PrescriptionItem
from tests import factories as f

_seq = itertools.count(1)
TZ = timezone.get_fixed_timezone(8 * 60)
#: the moment the settlement tests act at (November 2026 has ended); services are given it, never the real clock
AT = dt.datetime(2026, 12, 3, 9, 0, tzinfo=TZ)


def clock() -> dt.datetime:
    return AT


def q2(value) -> Decimal:
    return Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def person(insurance_type="employee", region_code="640502") -> InsuredPerson:
    n = next(_seq)
    return InsuredPerson.objects.create(
        id_number=f.id_number(region_code, seq=n % 999 + 1, birth=dt.date(1970 + n % 30, 1, 1)), name=f"患者{n}",
        sex="male", birth_date=dt.date(1970 + n % 30, 1, 1), insurance_type=insurance_type,
        insured_region=f.region(region_code))


def prescription(*, institution, pharmacy, drug, quantity=3, patient=None, status=Prescription.Status.DISPENSED,
                 issued_at=None, delivery=Delivery.PICKUP, care_setting="outpatient") -> Prescription:
    patient = patient or person()
    physician = f.PhysicianFactory(institution=institution)
    issued_at = issued_at or dt.datetime(2026, 11, 2, 9, 0, tzinfo=TZ)
    rx = Prescription.objects.create(
        institution=institution, serial_no=f"RX{next(_seq):010d}", person=patient, physician=physician,
        pharmacy=pharmacy, issued_at=issued_at, care_setting=care_setting, delivery=delivery, signature="sig",
        status=status, expires_at=issued_at + dt.timedelta(days=3), content_hash="x")
    PrescriptionItem.objects.create(prescription=rx, drug=drug, quantity=quantity, days_supply=30)
    return rx


def dispensing(*, pharmacy, institution=None, drug=None, quantity=3, unit_price="980.00", fund_ratio="0.75",
               first_self_pay_ratio="0.10", deductible="0.00", period=dt.date(2026, 11, 1), dispensed_at=None,
               delivery=Delivery.PICKUP, rx=None, rx_quantity=None, rx_status=Prescription.Status.DISPENSED,
               insurance_type="employee", settlement=Dispensing.Settlement.DIRECT) -> Dispensing:
    """A normal dispensing of one drug with amounts computed as R-PAY-3 (no cap)."""
    institution = institution or f.InstitutionFactory()
    drug = drug or f.DrugFactory()
    dispensed_at = dispensed_at or dt.datetime(period.year, period.month, 3, 15, 0, tzinfo=TZ)
    if rx is None:
        rx = prescription(institution=institution, pharmacy=pharmacy, drug=drug,
                          quantity=quantity if rx_quantity is None else rx_quantity, status=rx_status,
                          delivery=delivery, issued_at=dispensed_at - dt.timedelta(hours=5),
                          patient=person(insurance_type))
    total = q2(Decimal(unit_price) * quantity)
    first = q2(total * Decimal(first_self_pay_ratio))
    in_scope = total - first
    deductible = q2(deductible)
    fund = q2((in_scope - deductible) * Decimal(fund_ratio)) if settlement == Dispensing.Settlement.DIRECT else Decimal("0.00")
    personal = total - fund
    d = Dispensing.objects.create(
        prescription=rx, pharmacy=pharmacy, institution=institution, person=rx.person, insurance_type=insurance_type,
        insured_region=rx.person.insured_region, policy=f.policy("640500", "zhongwei-2021"),
        care_setting=rx.care_setting, settlement=settlement, dispensed_at=dispensed_at, period=period,
        total=total, first_self_pay=first, in_scope=in_scope, deductible=deductible, fund_payment=fund,
        personal_payment=personal, delivery=delivery)
    DispensingLine.objects.create(
        dispensing=d, period=d.period, drug=drug, quantity=quantity, unit_price=Decimal(unit_price), line_total=total,
        payment_standard=drug.payment_standard, first_self_pay_ratio=Decimal(first_self_pay_ratio),
        reimbursement_ratio=Decimal(fund_ratio), first_self_pay=first, in_scope=in_scope, fund_payment=fund,
        personal_payment=personal)
    return d


def reversal(original: Dispensing, *, period: dt.date, at=None) -> Dispensing:
    """The reversal (冲正) of ``original``: the same figures negated, in ``period``."""
    at = at or original.dispensed_at + dt.timedelta(days=1)
    r = Dispensing.objects.create(
        prescription=original.prescription, pharmacy=original.pharmacy, institution=original.institution,
        person=original.person, insurance_type=original.insurance_type, insured_region=original.insured_region,
        policy=original.policy, care_setting=original.care_setting, settlement=original.settlement, dispensed_at=at,
        period=period, kind=Dispensing.Kind.REVERSAL, reverses=original, total=-original.total,
        first_self_pay=-original.first_self_pay, in_scope=-original.in_scope, deductible=-original.deductible,
        fund_payment=-original.fund_payment, personal_payment=-original.personal_payment, delivery=original.delivery)
    for line in original.lines.all():
        DispensingLine.objects.create(
            dispensing=r, period=r.period, drug=line.drug, quantity=-line.quantity, unit_price=line.unit_price,
            line_total=-line.line_total, payment_standard=line.payment_standard,
            first_self_pay_ratio=line.first_self_pay_ratio, reimbursement_ratio=line.reimbursement_ratio,
            first_self_pay=-line.first_self_pay, in_scope=-line.in_scope, fund_payment=-line.fund_payment,
            personal_payment=-line.personal_payment)
    return r


def move_dispensings(pks, *, period: dt.date) -> None:
    """Move dispensings and their lines to another month — never done by the application (a dispensing's month
    is fixed), only by tests that need a month to lose a dispensing. One statement, so the lines' composite
    foreign key (dispensing_id, period) to their dispensing holds at its end (PostgreSQL, issue 16)."""
    from django.db import connection

    line, disp = DispensingLine._meta.db_table, Dispensing._meta.db_table
    ids = list(pks)
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute(f"""WITH lines AS (UPDATE {line} SET period = %s WHERE dispensing_id IN ({marks}))
                            UPDATE {disp} SET period = %s WHERE id IN ({marks})""", [period, *ids, period, *ids])
        else:
            cur.execute(f"UPDATE {line} SET period = %s WHERE dispensing_id IN ({marks})", [period, *ids])
            cur.execute(f"UPDATE {disp} SET period = %s WHERE id IN ({marks})", [period, *ids])
