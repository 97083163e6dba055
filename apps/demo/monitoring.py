"""Demo monitoring (section 9): a few records of the loader's month in Zhongwei that each monitoring rule finds
— written as rows, the way imported or corrected records reach the system (several of them are what R-RX would
refuse at the counter: a price above the standard, a suspended prescriber, no application) — then the monthly
batch over that month, so the reviewer's alert queue holds at least one alert of every rule on first start.
Safe to run again: the records are made once (keyed by their serial numbers) and a rerun of the batch raises
nothing twice."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.utils import timezone

from apps.applications.models import Application, InsuredPerson
from apps.catalogue.models import Drug
from apps.catalogue.selectors import payment_standard_on
from apps.core.idnumber import make_id_number
from apps.core.models import Region
from apps.institutions.models import Institution
from apps.monitoring.models import Alert, Rule
from apps.monitoring.services import monitoring_run_now
from apps.pharmacies.models import Pharmacy
from apps.pharmacies.services import pharmacy_update
from apps.physicians.models import Physician
from apps.policies.models import PaymentPolicy
from apps.prescriptions.models import (
    Dispensing, DispensingLine, Prescription, PrescriptionItem, StockMovement, TraceCode,
)

SERIAL = "JK"  # the demo monitoring prescriptions' serial prefix
PATIENTS = [("监控甲", "640502", dt.date(1961, 3, 9)), ("监控乙", "640502", dt.date(1975, 7, 21)),
            ("监控丙", "640521", dt.date(1958, 11, 2)), ("监控丁", "640502", dt.date(1969, 5, 17)),
            ("监控戊", "640521", dt.date(1980, 1, 30)), ("监控己", "640502", dt.date(1972, 9, 12)),
            ("监控庚", "640502", dt.date(1966, 4, 4))]


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    def say(message):
        if stdout is not None:
            stdout.write(message)

    region = Region.objects.filter(code="640500").first()
    hospital = Institution.objects.filter(code="H640500001").first()
    pharmacies = list(Pharmacy.objects.filter(code__in=["P640500001", "P640500002"]).order_by("code"))
    doctors = {p.code: p for p in Physician.objects.filter(institution=hospital, status=Physician.Status.FILED,
                                                            therapeutic_areas__code="oncology")}
    drug = Drug.objects.filter(therapeutic_area__code="oncology").order_by("code").first()
    policy = PaymentPolicy.objects.filter(region=region).order_by("-valid_from").first()
    # a drug of another area that the home pharmacy has never stocked nor sold (R-MON-8 then counts only ours)
    other_area = (Drug.objects.exclude(therapeutic_area__code="oncology")
                  .exclude(pk__in=StockMovement.objects.filter(pharmacy__code="P640500001").values("drug_id"))
                  .exclude(pk__in=DispensingLine.objects.filter(dispensing__pharmacy__code="P640500001")
                           .values("drug_id")).order_by("code").first())
    if None in (region, hospital, drug, other_area, policy) or len(pharmacies) < 2 or not doctors:
        say("  智能监控：缺少中卫市的演示机构、药店、医师或药品，跳过")
        return
    if not Prescription.objects.filter(serial_no__startswith=SERIAL + "-", institution=hospital).exists():
        _records(today=today, now=now, hospital=hospital, pharmacies=pharmacies, doctors=doctors, drug=drug,
                 other_area=other_area, policy=policy)
    # R-MON-7: a pharmacy unable to serve for more than six months (through the registry's own service)
    if pharmacies[1].unable_to_serve_since is None:
        pharmacy_update(pharmacy=pharmacies[1], actor=None,
                        data={"unable_to_serve_since": _months_before(today, 7)})
    run = monitoring_run_now(period=today.replace(day=1), now=now)
    counts = {r: Alert.objects.filter(rule=r, region__code__startswith="6405").count() for r in Rule}
    say(f"  智能监控：{run.period:%Y-%m} 发现 {run.findings} 项，新增预警 {run.alerts_raised} 条；"
        + "，".join(f"{r.value} {n}" for r, n in counts.items()))


def _months_before(day: dt.date, months: int) -> dt.date:
    y, m = divmod(day.year * 12 + day.month - 1 - months, 12)
    return dt.date(y, m + 1, 1)


def _records(*, today, now, hospital, pharmacies, doctors, drug, other_area, policy):
    day = _DAY["today"] = today
    first_hour = timezone.make_aware(dt.datetime.combine(day, dt.time(0, 30)))
    moments = iter(first_hour + dt.timedelta(minutes=5 * k) for k in range(200))
    people = [_person(name, county, birth, k) for k, (name, county, birth) in enumerate(PATIENTS)]
    for p in people[:6]:
        _application(p, doctors, drug, hospital, today)
    main_doc = sorted(doctors.values(), key=lambda d: d.code)[0]
    home, other = pharmacies
    n = {"rx": 0, "code": 0}

    def dispense(person, *, pharmacy=home, physician=main_doc, item=drug, days=30, quantity=1, price=None,
                 codes=()):
        n["rx"] += 1
        moment = min(next(moments), now - dt.timedelta(minutes=1))
        price = drug_price(item) if price is None else price
        total = price * quantity
        fund = (total * Decimal("0.6")).quantize(Decimal("0.01"))
        rx = Prescription.objects.create(
            institution=physician.institution, serial_no=f"{SERIAL}-{today:%Y%m}-{n['rx']:03d}", person=person,
            physician=physician, pharmacy=pharmacy, issued_at=moment - dt.timedelta(minutes=2), signature="demo",
            status=Prescription.Status.DISPENSED, expires_at=moment + dt.timedelta(days=3), content_hash="demo")
        PrescriptionItem.objects.create(prescription=rx, drug=item, quantity=quantity, days_supply=days)
        d = Dispensing.objects.create(
            prescription=rx, pharmacy=pharmacy, institution=physician.institution, person=person,
            insurance_type=person.insurance_type, insured_region=person.insured_region, policy=policy,
            care_setting="outpatient", dispensed_at=moment, period=day.replace(day=1), total=total,
            first_self_pay=Decimal("0"), in_scope=total, deductible=Decimal("0"), fund_payment=fund,
            personal_payment=total - fund)
        line = DispensingLine.objects.create(
            dispensing=d, period=d.period, drug=item, quantity=quantity, unit_price=price, line_total=total,
            payment_standard=drug_price(item), first_self_pay_ratio=Decimal("0"), reimbursement_ratio=Decimal("0.6"),
            first_self_pay=Decimal("0"), in_scope=total, fund_payment=fund, personal_payment=total - fund)
        for c in codes:
            TraceCode.objects.create(code=c, line=line, drug=item, pharmacy=pharmacy, dispensed_at=moment)
        return d

    # R-MON-5 (issue 12's case): 30 + 20 + 30 + 84 days of one drug on one day from two pharmacies
    for days, pharmacy in ((30, home), (20, other), (30, home), (84, other)):
        dispense(people[0], days=days, pharmacy=pharmacy)
    # R-MON-1: a corrected record priced above the payment standard
    dispense(people[1], price=drug_price(drug) + Decimal("120.00"))
    # R-MON-2: a prescription of a drug outside the physician's therapeutic areas
    dispense(people[2], item=other_area)
    # R-MON-3: a patient without any application
    dispense(people[6])
    # R-MON-4: a pack dispensed, reversed (released) and then dispensed by another pharmacy
    code = f"69{today:%Y%m%d}{hospital.pk:010d}"[:20].ljust(20, "0")
    first = dispense(people[3], codes=[code])
    _reverse(first, now=min(next(moments), now - dt.timedelta(minutes=1)))
    dispense(people[3], pharmacy=other, codes=[code])
    # R-MON-8: the home pharmacy reports stock; it bought 1 pack of the other drug and sells 4
    StockMovement.objects.create(pharmacy=home, drug=other_area, kind=StockMovement.Kind.PURCHASE, quantity=1,
                                 unit_price=drug_price(other_area), occurred_at=first_hour - dt.timedelta(days=1))
    dispense(people[4], item=other_area, physician=_other_area_doctor(hospital, other_area) or main_doc, quantity=4)
    # R-MON-9 (and R-MON-6's top patients): five peers with one prescription each; one physician with five
    # prescriptions for one patient
    peers = _peers(hospital, main_doc, 5)
    for k, peer in enumerate(peers):
        dispense(people[5] if k == 0 else people[k % 5 + 1], physician=peer, days=7)
    for _ in range(5):
        dispense(people[5], physician=main_doc, days=7)


def drug_price(drug: Drug) -> Decimal:
    """The payment standard in force (R-CAT-3) on the demo's records' day."""
    return _PRICES.setdefault(drug.pk, payment_standard_on(drug=drug, on=_DAY["today"]))


_PRICES: dict[int, Decimal] = {}
_DAY: dict[str, dt.date] = {}


def _person(name, county, birth, k) -> InsuredPerson:
    number = make_id_number(county, birth, 900 + k)
    person = InsuredPerson.objects.filter(id_number=number).first()
    return person or InsuredPerson.objects.create(
        id_number=number, name=name, sex="male" if int(number[16]) % 2 else "female", birth_date=birth,
        insurance_type="employee", insured_region=Region.objects.get(code=county))


def _application(person, doctors, drug, hospital, today):
    doc = sorted(doctors.values(), key=lambda d: d.code)[0]
    if Application.objects.filter(person=person, generic_name=drug.generic_name).exists():
        return
    Application.objects.create(
        number=f"JK{person.pk:010d}", person=person, insured_region=person.insured_region, institution=hospital,
        physician=doc, generic_name=drug.generic_name, dosage_form=drug.dosage_form,
        therapeutic_area=drug.therapeutic_area, diagnosis_code="C34.9", diagnosis_name="肺恶性肿瘤",
        usage="遵医嘱", course_days=90, status=Application.Status.APPROVED,
        submitted_at=timezone.make_aware(dt.datetime.combine(today - dt.timedelta(days=60), dt.time(9))),
        applied_on=today - dt.timedelta(days=60), valid_from=today - dt.timedelta(days=50),
        valid_until=today + dt.timedelta(days=300))


def _reverse(d: Dispensing, *, now):
    r = Dispensing.objects.create(
        prescription=d.prescription, pharmacy=d.pharmacy, institution=d.institution, person=d.person,
        insurance_type=d.insurance_type, insured_region=d.insured_region, policy=d.policy,
        care_setting=d.care_setting, dispensed_at=now, period=d.period, kind=Dispensing.Kind.REVERSAL, reverses=d,
        total=-d.total, first_self_pay=0, in_scope=-d.in_scope, deductible=0, fund_payment=-d.fund_payment,
        personal_payment=-d.personal_payment)
    for l in d.lines.all():
        DispensingLine.objects.create(
            dispensing=r, period=r.period, drug=l.drug, quantity=-l.quantity, unit_price=l.unit_price,
            line_total=-l.line_total,
            payment_standard=l.payment_standard, first_self_pay_ratio=0, reimbursement_ratio=l.reimbursement_ratio,
            first_self_pay=0, in_scope=-l.in_scope, fund_payment=-l.fund_payment, personal_payment=-l.personal_payment)
    TraceCode.objects.filter(line__dispensing=d).update(released_at=now, released_by=r)


def _other_area_doctor(hospital, drug):
    return Physician.objects.filter(institution=hospital, status=Physician.Status.FILED,
                                    therapeutic_areas=drug.therapeutic_area).order_by("code").first()


def _peers(hospital, main_doc, count):
    """Filed physicians of Zhongwei other than ``main_doc`` (the peers R-MON-9 compares with); areas do not matter
    to R-MON-9 (R-MON-2 may flag some of these records too)."""
    return list(Physician.objects.filter(institution__region__code__startswith="6405", status=Physician.Status.FILED)
                .exclude(pk=main_doc.pk).order_by("code")[:count])
