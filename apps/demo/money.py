"""Money examples inside the demo year (issue 11 via issue 15 item 14), so the money pages are not empty: each is a
service call at its moment, between the monthly settlement runs of ``apps.demo.year.settle_past_months``.

- R-SET-2 / 000 五(三): ward deliveries — inpatients of 中卫市人民医院 supplied by 国大药房 to the ward; they count
  in the hospital's statement, and the hospital records its payments to the pharmacy (one month in full, the next
  in part);
- R-SET-5: a deduction (拒付/追回费用) against 百草堂大药房, taken from its next statement; a payment deferral
  (暂缓拨付) against 老百姓大药房 that holds its statements until the bureau releases it;
- R-SET-1 / R-SET-5: the 5 % quality deposit withheld from every confirmed Zhongwei statement (the settlement does
  that) and, after the annual assessment, the previous year's deposit returned — in full to one pharmacy, in part
  to the other.

Dates are relative to the window (``apps.demo.window``), so the examples exist whatever ``--today`` is; an example
whose moment has not come by ``today`` is left out."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Callable

from django.db.models import Sum
from django.utils import timezone

from apps.catalogue.models import Drug
from apps.core.idnumber import make_id_number
from apps.core.models import Sanction
from apps.demo.window import demo_start
from apps.pharmacies.models import Pharmacy
from apps.policies.models import CareSetting
from apps.prescriptions.models import Delivery, Dispensing
from apps.prescriptions.services import dispensing as rx_dispensing
from apps.prescriptions.services import upload as rx_upload
from apps.settlement import money_services
from apps.settlement.models import DepositEntry, Statement, WardPayment

WARD_PHARMACY, WARD_HOSPITAL = "P640500001", "H640500001"
WARD_PATIENTS = [("沈国华", (1957, 5, 21), False), ("吕桂珍", (1963, 8, 9), True), ("姚德明", (1950, 1, 30), False)]
WARD_DRUG = "奥希替尼"
DEDUCTION = ("P640500002", Decimal("1200.00"), "2026年二季度专项检查：超限定支付范围配药 3 人次，追回基金支付")
DEFERRAL = ("P430100001", "药品追溯码上传不全，整改完成前暂缓拨付")
DEFERRAL_RELEASE = "整改已完成，经复查合格，解除暂缓拨付"


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


def _month(start: dt.date, offset: int, day: int) -> dt.date:
    month = start.month - 1 + offset
    return dt.date(start.year + month // 12, month % 12 + 1, day)


def actions(*, today: dt.date, users: dict) -> list[tuple[dt.datetime, Callable[[dt.datetime], None]]]:
    """The examples as ``(moment, call)``, each call to be made with its moment as ``now`` when the demo year
    reaches it (``settle_past_months`` runs them in order between the monthly settlements)."""
    start = demo_start(today)
    out: list[tuple[dt.datetime, Callable]] = []
    admin, admin_cs, hospital = users["admin"], users["admin_cs"], users["hospital"]
    # ward deliveries in three months, paid for once their statements are confirmed
    for offset in (7, 8, 9):
        for n, day in enumerate((9, 21)):
            on = _month(start, offset, day)
            out.append((_at(on, 10, 5 * n), lambda now, o=offset, k=n: _ward_delivery(now, users=users, seq=o * 2 + k)))
    for offset, share in ((8, Decimal("1")), (9, Decimal("0.5"))):
        pay_on = _month(start, offset + 1, 15)
        out.append((_at(pay_on, 15), lambda now, o=offset, s=share: _ward_payment(now, hospital=hospital,
                                                                                 period=_month(start, o, 1), share=s)))
    # a deduction taken from the next statement; a deferral held and released
    code, amount, reason = DEDUCTION
    deducted_on = _month(start, 9, 18)
    out.append((_at(deducted_on, 16), lambda now: money_services.sanction_money_record(
        organisation=Pharmacy.objects.get(code=code), kind=Sanction.Kind.DEDUCTION, amount=amount,
        decided_on=timezone.localdate(now), reason=reason, actor=admin, now=now)))
    code, reason = DEFERRAL
    deferred_on = _month(start, 5, 10)
    out.append((_at(deferred_on, 16), lambda now: money_services.sanction_money_record(
        organisation=Pharmacy.objects.get(code=code), kind=Sanction.Kind.PAYMENT_DEFERRAL, amount=None,
        decided_on=timezone.localdate(now), reason=reason, actor=admin_cs, now=now)))
    out.append((_at(_month(start, 7, 20), 11), lambda now: money_services.deferral_release(
        sanction=Sanction.objects.filter(kind=Sanction.Kind.PAYMENT_DEFERRAL, reason=DEFERRAL[1]).latest("id"),
        actor=admin_cs, reason=DEFERRAL_RELEASE, now=now)))
    # the previous year's deposit after the annual assessment (in March)
    assessed = dt.date(start.year + 1, 3, 16)
    for code, decision in (("P640500001", DepositEntry.Decision.ALL), ("P640500002", DepositEntry.Decision.PART)):
        out.append((_at(assessed, 10), lambda now, c=code, d=decision: _deposit_return(
            now, code=c, decision=d, year=start.year, actor=admin)))
    now = _at(today, 12)
    return sorted(((m, f) for m, f in out if m < now), key=lambda pair: pair[0])


def _ward_delivery(now: dt.datetime, *, users: dict, seq: int) -> None:
    """An inpatient's prescription delivered to the ward (R-RX-7): uploaded by the hospital, dispensed by the pharmacy
    two hours later; it counts in the hospital's statement (R-SET-2)."""
    hospital, pharmacist = users["hospital"], users["pharmacy"]
    name, birth, female = WARD_PATIENTS[seq % len(WARD_PATIENTS)]
    id_number = make_id_number("640502", dt.date(*birth), 880 + seq % len(WARD_PATIENTS), female=female)
    drug = Drug.objects.filter(generic_name=WARD_DRUG, route=Drug.Route.ORAL).order_by("code").first()
    serial = f"ZY{timezone.localdate(now):%Y%m%d}{seq:02d}"
    prescription, _ = rx_upload.prescription_upload(user=hospital, now=now, data=rx_upload.UploadData(
        serial_no=serial, physician_code="D640500001", pharmacy_code=WARD_PHARMACY, issued_at=now,
        signature=f"SM2:{serial}", care_setting=CareSetting.INPATIENT, delivery=Delivery.WARD,
        patient={"name": name, "id_number": id_number, "insurance_type": "employee", "insured_region": "640500",
                 "phone": f"139{id_number[-8:]}"},
        items=[rx_upload.UploadItem(drug.code, 1, 14)]))
    later = now + dt.timedelta(hours=2)
    price = drug.payment_standard
    rx_dispensing.stock_movement_record(
        user=pharmacist, pharmacy=pharmacist.pharmacy, drug_code=drug.code, kind="purchase", quantity=1,
        unit_price=(price * Decimal("0.95")).quantize(Decimal("0.01")), occurred_at=now, now=now)
    codes = [f"83{prescription.pk:012d}{seq:06d}"]
    rx_dispensing.prescription_dispense(prescription_id=prescription.pk, user=pharmacist, dispensed_at=later,
                                        now=later, items=[rx_dispensing.DispenseItem(drug.code, 1, price, codes)])


def _ward_payment(now: dt.datetime, *, hospital, period: dt.date, share: Decimal) -> None:
    statement = Statement.objects.filter(institution__code=WARD_HOSPITAL, period=period,
                                         status=Statement.Status.CONFIRMED).first()
    if statement is None:
        return
    owed = (Dispensing.objects.filter(statement_line__statement=statement, delivery=Delivery.WARD)
            .aggregate(s=Sum("total"))["s"] or Decimal("0"))
    paid = WardPayment.objects.filter(statement=statement, reversed_at__isnull=True).aggregate(s=Sum("amount"))["s"]
    amount = ((owed - (paid or 0)) * share).quantize(Decimal("0.01"))
    if amount > 0:
        money_services.ward_payment_record(statement=statement, actor=hospital, paid_on=timezone.localdate(now),
                                           amount=amount, reference=f"DZ{period:%Y%m}{int(share * 100):03d}",
                                           now=now, pharmacy_code=WARD_PHARMACY)


def _deposit_return(now: dt.datetime, *, code: str, decision: str, year: int, actor) -> None:
    pharmacy = Pharmacy.objects.get(code=code)
    amount = None
    if decision == DepositEntry.Decision.PART:
        withheld = (DepositEntry.objects.filter(account__pharmacy=pharmacy, kind=DepositEntry.Kind.WITHHELD,
                                                statement__period__year=year).aggregate(s=Sum("amount"))["s"])
        if not withheld:
            return
        amount = (withheld / 2).quantize(Decimal("0.01"))
    money_services.deposit_return(organisation=pharmacy, year=year, decision=decision, actor=actor, now=now,
                                  amount=amount, reason="年度考核合格，返还质量保证金" if decision == "all"
                                  else "年度考核扣分 8 分，返还一半质量保证金")

