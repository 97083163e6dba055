"""Demo prescriptions for the Zhongwei demo pharmacy (国大药房中卫鼓楼店, user ``pharmacy``): prescriptions in every
state, dispensings across the last few months with traceability codes, one reversal, stock purchases. Runs after
the applications demo and goes through the services (with an "as of" time for the past). Re-runnable: a
prescription whose demo serial number exists is skipped."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from apps.core.roles import Role
from apps.applications import services as application_services
from apps.applications.models import Application
from apps.catalogue.models import Drug
from apps.core.exceptions import ApplicationError
from apps.core.idnumber import make_id_number
from apps.demo import year
from apps.demo.window import demo_start
from apps.demo.applications import stage_actor
from apps.prescriptions.services import dispensing as rx_dispensing, upload as rx_upload
from apps.prescriptions.models import Dispensing, Prescription, StockMovement

PHARMACY = "P640500001"
MONTHS_BACK = 4

# Patients of the dispensing demo (their applications approved about five months ago through the review chain):
# name, birth, female, generic name, physician, ICD-10, diagnosis, insurance type
PATIENTS = [
    ("马建国", (1963, 4, 18), False, "奥希替尼", "D640500001", "C34.9", "肺恶性肿瘤", "employee"),
    ("李凤英", (1970, 9, 2), True, "哌柏西利", "D640500002", "C50.9", "乳腺恶性肿瘤", "resident"),
    ("王志明", (1958, 12, 30), False, "安罗替尼", "D640500001", "C34.1", "肺上叶恶性肿瘤", "employee"),
    ("张秀梅", (1966, 6, 11), True, "奥拉帕利", "D640500002", "C56", "卵巢恶性肿瘤", "resident"),
    ("杨卫东", (1961, 2, 7), False, "阿美替尼", "D640500001", "C34.3", "肺下叶恶性肿瘤", "employee"),
    ("海丽娟", (1973, 10, 23), True, "伏美替尼", "D640500001", "C34.9", "肺恶性肿瘤", "resident"),
]


def _at(day: dt.date, hour: int) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, 0)))


def _drug_for(generic: str, day: dt.date) -> Drug | None:
    for drug in Drug.objects.filter(generic_name=generic).order_by("code"):
        if drug.is_listed_on(day) and drug.route != Drug.Route.INJECTION:
            return drug
    return Drug.objects.filter(generic_name=generic).order_by("code").first()


def _codes(prescription_id: int, quantity: int) -> list[str]:
    return [f"81{prescription_id:012d}{k:06d}" for k in range(quantity)]


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    User = get_user_model()
    pharmacist = User.objects.filter(username="pharmacy", role=Role.PHARMACY).select_related("pharmacy").first()
    if pharmacist is None:
        if stdout:
            stdout.write("  prescriptions: demo pharmacy user missing, skipped")
        return
    _ensure_applications(today=today, now=now)
    applications = list(
        Application.objects.filter(pharmacy__code=PHARMACY, status=Application.Status.APPROVED,
                                   valid_from__lte=today, valid_until__gte=today)
        .filter(Q(terminated_on__isnull=True) | Q(terminated_on__gt=today))
        .exclude(person__id_number__in=year.patient_id_numbers(today))  # the year's patients have their own
        .select_related("person", "physician", "institution").order_by("id"))
    hospitals = {u.institution_id: u for u in User.objects.filter(role=Role.HOSPITAL, institution__isnull=False)}
    created = dispensed = 0
    start = (today.replace(day=1) - dt.timedelta(days=31 * (MONTHS_BACK - 1))).replace(day=1)
    for index, application in enumerate(applications):
        hospital = hospitals.get(application.institution_id)
        drug = _drug_for(application.generic_name, today)
        if hospital is None or drug is None:
            continue
        price = (drug.payment_standard * Decimal("0.98")).quantize(Decimal("0.01"))
        quantity = 1 if drug.payment_standard > Decimal("5000") else 2
        first = max(application.valid_from, start, demo_start(today) + dt.timedelta(days=1))
        # monthly dispensings from the first covered month up to last week
        day, n = first, 0
        while day <= today - dt.timedelta(days=7):
            prescription = _upload(hospital, application, drug, quantity, f"{application.number}-{n:02d}",
                                   _at(day, 9), now)
            if prescription is not None:
                created += 1
                if prescription.status == Prescription.Status.FLOWED:
                    _purchase(pharmacist, drug, quantity, price, _at(day, 8), now)
                    try:
                        rx_dispensing.prescription_dispense(
                            prescription_id=prescription.pk, user=pharmacist, dispensed_at=_at(day, 15),
                            items=[rx_dispensing.DispenseItem(drug.code, quantity, price,
                                                         _codes(prescription.pk, quantity))],
                            now=_at(day, 15))
                        dispensed += 1
                    except ApplicationError as exc:
                        if stdout:
                            stdout.write(f"  prescriptions: {application.number} not dispensed: {exc.message}")
            day += dt.timedelta(days=30)
            n += 1
        # today's prescription, in a state chosen by the patient's place in the list
        state = ("flowed", "flowed", "declined", "cancelled", "expired", "reversed")[index % 6]
        issued = _at(today, 8) if state != "expired" else _at(today - dt.timedelta(days=5), 9)
        issued = min(issued, now - dt.timedelta(minutes=5))
        prescription = _upload(hospital, application, drug, quantity, f"{application.number}-T", issued, now)
        if prescription is None or prescription.status != Prescription.Status.FLOWED:
            continue
        created += 1
        if state == "declined":
            rx_dispensing.prescription_decline(prescription=prescription, user=pharmacist,
                                          reason=Prescription.DeclineReason.OUT_OF_STOCK, note="冷链到货延迟",
                                          now=now)
        elif state == "cancelled":
            rx_upload.prescription_cancel(prescription=prescription, user=hospital, reason="患者住院，改为住院用药",
                                         now=now)
        elif state == "reversed":
            _purchase(pharmacist, drug, quantity, price, issued, now)
            dispensing = rx_dispensing.prescription_dispense(
                prescription_id=prescription.pk, user=pharmacist, dispensed_at=issued + dt.timedelta(minutes=1),
                items=[rx_dispensing.DispenseItem(drug.code, quantity, price, _codes(prescription.pk, quantity))],
                now=issued + dt.timedelta(minutes=1))
            rx_dispensing.dispensing_reverse(dispensing=dispensing, user=pharmacist, reason="单价录入错误，冲正后重新结算",
                                        now=now)
    expired = rx_upload.prescriptions_expire_due(now=now)
    if stdout:
        stdout.write(f"  prescriptions: {created} created, {dispensed} dispensed in past months, {expired} expired; "
                     f"{Prescription.objects.count()} prescriptions, {Dispensing.objects.count()} dispensing rows, "
                     f"{StockMovement.objects.count()} stock movements in total")


def _upload(hospital, application: Application, drug: Drug, quantity: int, serial: str, issued_at: dt.datetime,
            now: dt.datetime) -> Prescription | None:
    serial = f"DEMO{serial}"
    if Prescription.objects.filter(institution_id=hospital.institution_id, serial_no=serial).exists():
        return None
    try:
        prescription, _ = rx_upload.prescription_upload(user=hospital, now=now, data=rx_upload.UploadData(
            serial_no=serial, application=application.pk, physician_code=application.physician.code,
            pharmacy_code=PHARMACY, issued_at=issued_at, signature=f"SM2:{serial}",
            items=[rx_upload.UploadItem(drug.code, quantity, 30)]))
    except ApplicationError:
        return None
    return prescription


def _purchase(pharmacist, drug: Drug, quantity: int, price: Decimal, when: dt.datetime, now: dt.datetime) -> None:
    rx_dispensing.stock_movement_record(user=pharmacist, pharmacy=pharmacist.pharmacy, drug_code=drug.code,
                                   kind=StockMovement.Kind.PURCHASE, quantity=quantity + 1, now=now,
                                   unit_price=(price * Decimal("0.95")).quantize(Decimal("0.01")), occurred_at=when)


def _ensure_applications(*, today: dt.date, now: dt.datetime) -> None:
    """Approved applications for the demo patients, submitted and reviewed through the applications services."""
    User = get_user_model()
    hospital = User.objects.filter(username="hospital").first()
    reviewer = User.objects.filter(username="reviewer").first()
    if hospital is None or reviewer is None:
        return
    submitted = max(demo_start(today) + dt.timedelta(days=1), today - dt.timedelta(days=150))
    for seq, (name, birth, female, generic, physician, icd, diagnosis, insurance) in enumerate(PATIENTS, start=61):
        id_number = make_id_number("640502", dt.date(*birth), seq, female=female)
        if Application.objects.filter(person__id_number=id_number, generic_name=generic).exists():
            continue
        try:
            application = application_services.application_submit(
                actor=hospital, patient={"name": name, "id_number": id_number, "insurance_type": insurance,
                                         "insured_region": "640500", "phone": f"139{id_number[-8:]}"},
                physician_code=physician, pharmacy_code=PHARMACY, generic_name=generic, diagnosis_code=icd,
                diagnosis_name=diagnosis, usage="遵医嘱", course_days=180, now=_at(submitted, 9))
            step = 0
            while application.status not in (Application.Status.APPROVED, Application.Status.REJECTED) and step < 6:
                actor = reviewer if application.current_stage == "bureau" else stage_actor(application)
                application = application_services.application_decide(
                    application=application, actor=actor, decision="approve", opinion="符合用药指征",
                    now=_at(submitted, 10 + step))
                step += 1
        except ApplicationError:
            continue
