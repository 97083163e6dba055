"""Hand-made monitoring data: prescriptions, dispensings, lines and trace codes written as rows (as an import
would), so a test can put exactly the situation a rule looks for — including what R-RX would refuse."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from apps.monitoring import services
from apps.monitoring.rules.base import Finding
from apps.prescriptions.models import Dispensing, DispensingLine, Prescription, PrescriptionItem, StockMovement, TraceCode
from tests import factories as f
from tests.prescriptions import factories as rxf

NOV = dt.date(2026, 11, 1)
NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=rxf.TZ)
_n = {"rx": 0, "code": 50_000_000}


def world():
    """Zhongwei: one institution with a filed oncology physician, two pharmacies, one oncology drug (standard
    1,000.00), one patient with an approved application for it (2026-01-01 … 2027-12-31)."""
    s = rxf.setup()
    s.pharmacy2 = f.PharmacyFactory()
    return s


def code() -> str:
    _n["code"] += 1
    return f"7{_n['code']:019d}"


def dispense(s, *, day: dt.date, days_supply: int = 30, quantity: int = 1, price: Decimal = Decimal("900.00"),
             fund: Decimal | None = None, pharmacy=None, person=None, physician=None, drug=None,
             care_setting: str = "outpatient", codes: list[str] | None = None, hour: int = 9) -> Dispensing:
    """One prescription issued and dispensed on ``day`` (period = its month). Fund = 50 % of the line unless
    given."""
    _n["rx"] += 1
    pharmacy, person = pharmacy or s.pharmacy, person or s.person
    physician, drug = physician or s.physician, drug or s.drug
    moment = rxf.at(day, hour)
    total = price * quantity
    fund = (total / 2).quantize(Decimal("0.01")) if fund is None else fund
    rx = Prescription.objects.create(
        institution=physician.institution, serial_no=f"MON{_n['rx']:06d}", person=person, physician=physician,
        pharmacy=pharmacy, issued_at=moment - dt.timedelta(hours=1), care_setting=care_setting, signature="sig",
        status=Prescription.Status.DISPENSED, expires_at=moment + dt.timedelta(days=3), content_hash="h")
    PrescriptionItem.objects.create(prescription=rx, drug=drug, quantity=quantity, days_supply=days_supply)
    d = Dispensing.objects.create(
        prescription=rx, pharmacy=pharmacy, institution=physician.institution, person=person,
        insurance_type=person.insurance_type, insured_region=person.insured_region, policy=f.policy(),
        care_setting=care_setting, dispensed_at=moment, period=day.replace(day=1), total=total,
        first_self_pay=Decimal("0"), in_scope=total, deductible=Decimal("0"), fund_payment=fund,
        personal_payment=total - fund)
    line = DispensingLine.objects.create(
        dispensing=d, period=d.period, drug=drug, quantity=quantity, unit_price=price, line_total=total,
        payment_standard=drug.payment_standard, first_self_pay_ratio=Decimal("0"), reimbursement_ratio=Decimal("0.5"),
        first_self_pay=Decimal("0"), in_scope=total, fund_payment=fund, personal_payment=total - fund)
    for c in codes or []:
        TraceCode.objects.create(code=c, line=line, drug=drug, pharmacy=pharmacy, dispensed_at=moment)
    return d


def reverse(d: Dispensing, *, day: dt.date) -> Dispensing:
    """A reversal of ``d`` (its codes released), as R-RX-6 writes it."""
    moment = rxf.at(day, 15)
    r = Dispensing.objects.create(
        prescription=d.prescription, pharmacy=d.pharmacy, institution=d.institution, person=d.person,
        insurance_type=d.insurance_type, insured_region=d.insured_region, policy=d.policy,
        care_setting=d.care_setting, dispensed_at=moment, period=d.period, kind=Dispensing.Kind.REVERSAL,
        reverses=d, total=-d.total, first_self_pay=0, in_scope=-d.in_scope, deductible=0,
        fund_payment=-d.fund_payment, personal_payment=-d.personal_payment)
    for l in d.lines.all():
        DispensingLine.objects.create(
            dispensing=r, period=r.period, drug=l.drug, quantity=-l.quantity, unit_price=l.unit_price,
            line_total=-l.line_total,
            payment_standard=l.payment_standard, first_self_pay_ratio=0, reimbursement_ratio=l.reimbursement_ratio,
            first_self_pay=0, in_scope=-l.in_scope, fund_payment=-l.fund_payment, personal_payment=-l.personal_payment)
    TraceCode.objects.filter(line__dispensing=d).update(released_at=moment, released_by=r)
    return r


def stock(pharmacy, drug, *, quantity: int, day: dt.date, kind: str = StockMovement.Kind.PURCHASE):
    return StockMovement.objects.create(pharmacy=pharmacy, drug=drug, kind=kind, quantity=quantity,
                                        unit_price=Decimal("800.00"), occurred_at=rxf.at(day, 8))


def findings(rule: str, period: dt.date = NOV) -> list[Finding]:
    """The rule's findings for the month by the pure function over the month's rows; on PostgreSQL also by the
    set-based SQL, which must agree (parity on every hand-made data set)."""
    th = services.thresholds_context()
    from apps.core import sql

    pure = _pure(rule, period, th)
    if sql.is_postgresql():
        batch = services._month_findings(rule, period, th)
        assert sorted(x.identity() for x in batch) == sorted(x.identity() for x in pure), (batch, pure)
    return pure


def _pure(rule, period, th):
    from apps.monitoring.rules import codes, organisations, prescribing, pricing, supply, volume
    from apps.monitoring.rules.rows import line_rows_for_month
    from apps.monitoring import selectors

    if rule == "R-MON-1":
        return pricing.find(line_rows_for_month(period=period)) + \
            pricing.find_claims(pricing.claim_rows_for_month(period=period))
    if rule == "R-MON-2":
        rows = line_rows_for_month(period=period)
        return prescribing.find_physician(rows, prescribing.physician_rows(r.physician_id for r in rows))
    if rule == "R-MON-3":
        rows = line_rows_for_month(period=period)
        return prescribing.find_application(rows, prescribing.application_rows(person_ids=[r.person_id for r in rows]))
    if rule == "R-MON-4":
        return codes.find(codes.rows_for_month(period=period), period=period)
    if rule == "R-MON-5":
        rows = line_rows_for_month(period=period, lookback_days=supply.LOOKBACK_DAYS)
        return supply.find(rows, lambda r: th["by_region"].get(r, selectors.DEFAULT_THRESHOLDS).supply_margin_days,
                           period=period)
    if rule == "R-MON-6":
        return volume.find(line_rows_for_month(period=period), city_of=th["city_of"],
                           region_of_city=lambda c: th["cities"].get(c), thresholds_for=th["high_cost_for"])
    if rule == "R-MON-7":
        return organisations.find_exit(organisations.exit_rows(period=period), period=period)
    if rule == "R-MON-8":
        return organisations.find_stock(organisations.stock_rows(period=period), period=period)
    if rule == "R-MON-9":
        return services.physicians_find_rows(line_rows_for_month(period=period), th)
    raise ValueError(rule)
