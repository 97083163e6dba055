"""A year of work for each demo region (issue 15): patients whose applications went through the review chain
month after month (review times inside the one-working-day stage limit of R-APP-5, a few returned, rejected or
still in review), their monthly prescriptions dispensed by the demo pharmacies with traceability codes (a few
reversed the same day, with a reason), the pharmacies' monthly purchases, and every past month settled: the
statements of each month confirmed early in the next one (R-SET-1). Everything goes through the services, each
call told the moment it happens, so the event log's times are the dates the rows describe.

Deterministic: the patients, drugs, days and hours come from ``random.Random(SEED + region)``; loading again adds
nothing (a region whose first patient exists is skipped). The window is the twelve months before ``today``,
starting no earlier than the demo catalogue and agreements (1 January of ``today``'s year, apps/demo/catalogue.py)
and than the region's payment policy."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils import timezone

from apps.applications import services as application_services
from apps.applications.models import Application, Stage
from apps.catalogue.models import Drug
from apps.core.exceptions import ApplicationError
from apps.core import working_days
from apps.core.models import Event
from apps.core.working_days import is_working_day
from apps.core.idnumber import make_id_number
from apps.demo.applications import stage_actor
from apps.policies.models import PaymentPolicy
from apps.prescriptions.models import StockMovement
from apps.prescriptions.services import dispensing as rx_dispensing
from apps.prescriptions.services import upload as rx_upload
from apps.settlement import services as settlement
from apps.settlement.models import Statement
from apps.settlement.periods import next_period, period_of

SEED = 20261201

# region → (hospital user, reviewer, [(pharmacy code, pharmacist user)], county codes of the patients, physicians,
#           patients)
REGIONS = {
    "640500": ("hospital", "reviewer", [("P640500001", "pharmacy"), ("P640500002", "pharmacy2")],
               ["640502", "640521", "640522"], ["D640500001", "D640500002"], 110),
    "430100": ("hospital_cs", "reviewer_cs", [("P430100001", "pharmacy_cs")],
               ["430102", "430104", "430105", "430112"], ["D430100001", "D430100002"], 90),
}
# oral oncology drugs the demo physicians prescribe (apps/demo/catalogue.py), with the diagnosis they treat
DRUGS = [
    ("奥希替尼", "C34.9", "肺恶性肿瘤", "80mg 每日一次"),
    ("阿美替尼", "C34.1", "肺上叶恶性肿瘤", "110mg 每日一次"),
    ("伏美替尼", "C34.9", "肺恶性肿瘤", "80mg 每日一次"),
    ("安罗替尼", "C34.3", "肺下叶恶性肿瘤", "12mg d1-14 每21天"),
    ("哌柏西利", "C50.9", "乳腺恶性肿瘤", "125mg d1-21 每28天"),
    ("奥拉帕利", "C56", "卵巢恶性肿瘤", "300mg 每日两次"),
]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢"
GIVEN = ["建国", "秀英", "桂兰", "志强", "丽娟", "海燕", "卫东", "凤英", "明华", "玉梅", "永红", "文博", "晓梅", "国庆",
         "淑珍", "德胜", "红霞", "金花", "学军", "春燕", "俊杰", "雪梅", "振华", "美玲"]
OUTCOMES = ["approved"] * 17 + ["rejected", "returned", "in_review"]  # 85 % approved
REVERSAL_RATE = 0.04
REASONS = ["单价录入错误，冲正后重新结算", "数量录入错误，冲正后重新配药", "参保人当日改为住院用药，退药冲正"]


class _Stamp:
    """The log rows a service call writes carry the call's moment, not the machine's clock: ``Event.at`` and
    django-auditlog's ``timestamp`` are set when the row is inserted (``auto_now_add``), so the loader dates the rows
    the call just wrote with the ``now`` it gave the service. (The lasting fix is for ``record_event`` to take the
    service's ``now``; until then the demo's log reads as the year it describes.)"""

    def __init__(self):
        self.event = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.audit = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def __call__(self, moment: dt.datetime) -> None:
        Event.objects.filter(pk__gt=self.event).update(at=moment)
        LogEntry.objects.filter(pk__gt=self.audit).update(timestamp=moment)
        self.__init__()


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


#: the working-day calendar of the demo year (statutory holidays, 调休 workdays), loaded once by ``load``
_CALENDAR: dict = {}


def _weekday_on_or_after(day: dt.date) -> dt.date:
    """The first working day on or after ``day`` (R-APP-5's calendar: holidays off, 调休 Saturdays on)."""
    while not is_working_day(day, _CALENDAR):
        day += dt.timedelta(days=1)
    return day


def window(today: dt.date, region_code: str) -> dt.date:
    """First day of the demo year of a region: twelve months back, not before the demo agreements and policy."""
    start = (today.replace(day=1) - dt.timedelta(days=335)).replace(day=1)
    start = max(start, dt.date(today.year, 1, 2))
    policy = PaymentPolicy.objects.filter(region__code=region_code).order_by("valid_from").first()
    if policy is not None:
        start = max(start, policy.valid_from)
    return start


def load(*, today: dt.date, now: dt.datetime, stdout=None):
    User = get_user_model()
    users = {u.username: u for u in User.objects.select_related("pharmacy", "institution")}
    totals = {"patients": 0, "dispensings": 0, "reversals": 0, "refused": 0}
    stamp = _Stamp()
    loaded: list[tuple[str, dt.date]] = []
    _CALENDAR.clear()
    _CALENDAR.update(working_days.exceptions_between(today - dt.timedelta(days=400), today + dt.timedelta(days=30)))
    for region_code, (hospital_name, reviewer_name, pharmacies, counties, physicians, count) in REGIONS.items():
        hospital, reviewer = users.get(hospital_name), users.get(reviewer_name)
        if hospital is None or reviewer is None:
            continue
        rng = random.Random(f"{SEED}-{region_code}")
        start = window(today, region_code)
        if start >= today - dt.timedelta(days=7):
            continue
        patients = _patients(rng, region_code, counties, count, start, today)
        if Application.objects.filter(person__id_number=patients[0]["id_number"]).exists():
            continue  # loaded before
        loaded.append((region_code, start))
        drugs = {name: Drug.objects.filter(generic_name=name, route=Drug.Route.ORAL).order_by("code").first()
                 for name, *_ in DRUGS}
        for patient in patients:
            pharmacy_code, pharmacist_name = rng.choice(pharmacies)
            pharmacist = users.get(pharmacist_name)
            generic, icd, diagnosis, usage = rng.choice(DRUGS)
            drug = drugs.get(generic)
            if pharmacist is None or drug is None:
                continue
            application = _apply(rng, patient, stamp, hospital=hospital, reviewer=reviewer, pharmacy_code=pharmacy_code,
                                 physician=rng.choice(physicians), generic=generic, icd=icd, diagnosis=diagnosis,
                                 usage=usage, today=today, totals=totals)
            totals["patients"] += 1
            if application is None or application.status != Application.Status.APPROVED:
                continue
            _dispense_monthly(rng, application, drug, stamp, hospital=hospital, pharmacist=pharmacist,
                              pharmacy_code=pharmacy_code, today=today, totals=totals)
    if loaded:
        _settle_past_months(stamp, start=min(start for _, start in loaded), today=today,
                            admins={code: users.get("admin_cs" if code == "430100" else "admin") for code, _ in loaded})
    if stdout:
        stdout.write(f"  一年业务：{totals['patients']} 名参保人，{totals['dispensings']} 次配药，"
                     f"{totals['reversals']} 次冲正（{totals['refused']} 项被规则拒绝，已跳过）")


def patient_id_numbers(today: dt.date) -> list[str]:
    """The ID numbers of the year's patients as of ``today`` (the same draw as ``load``), so the other demo steps
    can leave them alone when the demo is loaded again."""
    out = []
    for region_code, (_h, _r, _p, counties, _d, count) in REGIONS.items():
        start = window(today, region_code)
        if start < today - dt.timedelta(days=7):
            out += [p["id_number"] for p in _patients(random.Random(f"{SEED}-{region_code}"), region_code, counties,
                                                      count, start, today)]
    return out


def _patients(rng: random.Random, region_code: str, counties: list[str], count: int, start: dt.date,
              today: dt.date) -> list[dict]:
    """``count`` patients, their applications spread over the window (more in recent months, as enrolment grows)."""
    days = (today - dt.timedelta(days=3) - start).days
    out = []
    for seq in range(count):
        female = rng.random() < 0.48
        birth = dt.date(1945 + rng.randrange(45), 1 + rng.randrange(12), 1 + rng.randrange(28))
        county = rng.choice(counties)
        submitted = _weekday_on_or_after(start + dt.timedelta(days=int(days * (rng.random() ** 0.8))))
        out.append({
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN), "female": female, "birth": birth,
            "id_number": make_id_number(county, birth, 500 + seq, female=female),
            "insurance_type": "employee" if rng.random() < 0.55 else "resident",
            "submitted": min(submitted, today - dt.timedelta(days=1)),
        })
    out.sort(key=lambda p: p["submitted"])
    return out


def _apply(rng, patient, stamp, *, hospital, reviewer, pharmacy_code, physician, generic, icd, diagnosis, usage,
           today, totals) -> Application | None:
    day = patient["submitted"]
    outcome = "in_review" if (today - day).days < 4 else rng.choice(OUTCOMES)
    try:
        application = application_services.application_submit(
            actor=hospital, patient={"name": patient["name"], "id_number": patient["id_number"],
                                     "insurance_type": patient["insurance_type"],
                                     "insured_region": hospital.institution.region.code[:4] + "00",
                                     "phone": f"13{rng.randrange(10 ** 9):09d}"},
            physician_code=physician, pharmacy_code=pharmacy_code, generic_name=generic, diagnosis_code=icd,
            diagnosis_name=diagnosis, usage=usage, course_days=180, now=(submitted := _at(day, 9, rng.randrange(60))))
        stamp(submitted)
        # each stage decided the same or the next working day, inside the R-APP-5 limit
        moment = _at(day, 10, rng.randrange(60))
        stages_left = len(application.review_stages or [])
        for index in range(stages_left):
            if outcome == "in_review" and index == stages_left - 1:
                break
            moment = _next_moment(rng, moment, today)
            if moment is None:
                break
            actor = reviewer if application.current_stage == Stage.BUREAU else stage_actor(application)
            last = application.current_stage == Stage.BUREAU
            decision, opinion = "approve", "符合用药指征，同意"
            if last and outcome == "rejected":
                decision, opinion = "reject", "病历未见基因检测阳性结果，不符合限定支付范围"
            elif last and outcome == "returned":
                decision, opinion = "return", "请补充近三个月的影像学检查报告"
            application = application_services.application_decide(
                application=application, actor=actor, decision=decision, opinion=opinion, now=moment)
            stamp(moment)
        return application
    except ApplicationError:
        totals["refused"] += 1
        stamp(timezone.make_aware(dt.datetime.combine(day, dt.time(9))))
        return None


def _next_moment(rng, moment: dt.datetime, today: dt.date) -> dt.datetime | None:
    """A decision 1–5 hours later, moved to the next weekday morning after office hours; never after today."""
    later = moment + dt.timedelta(hours=1 + rng.randrange(5), minutes=rng.randrange(60))
    local = timezone.localtime(later)
    if local.hour >= 17 or not is_working_day(local.date(), _CALENDAR):
        day = _weekday_on_or_after(local.date() + dt.timedelta(days=1))
        later = _at(day, 9, rng.randrange(60))
    return later if timezone.localdate(later) < today else None


def _dispense_monthly(rng, application, drug, stamp, *, hospital, pharmacist, pharmacy_code, today, totals) -> None:
    """A prescription every 28–31 days from approval, dispensed the same day at the patient's pharmacy."""
    quantity = 1 if drug.payment_standard > Decimal("5000") else 2
    price = (drug.payment_standard * Decimal(rng.choice(["0.96", "0.98", "1.00"]))).quantize(Decimal("0.01"))
    day = _weekday_on_or_after(application.valid_from + dt.timedelta(days=rng.randrange(1, 6)))
    n = 0
    while day < today - dt.timedelta(days=2) and day <= application.valid_until:
        issued = _at(day, 8 + rng.randrange(3), rng.randrange(60))
        serial = f"Y{application.number}-{n:02d}"
        try:
            prescription, _ = rx_upload.prescription_upload(user=hospital, now=issued, data=rx_upload.UploadData(
                serial_no=serial, application=application.pk, physician_code=application.physician.code,
                pharmacy_code=pharmacy_code, issued_at=issued, signature=f"SM2:{serial}",
                items=[rx_upload.UploadItem(drug.code, quantity, 30)]))
            stamp(issued)
            purchase_at = issued - dt.timedelta(hours=1)
            rx_dispensing.stock_movement_record(
                user=pharmacist, pharmacy=pharmacist.pharmacy, drug_code=drug.code, kind=StockMovement.Kind.PURCHASE,
                quantity=quantity, unit_price=(price * Decimal("0.95")).quantize(Decimal("0.01")),
                occurred_at=purchase_at, now=purchase_at)
            stamp(purchase_at)
            dispensed_at = issued + dt.timedelta(hours=2 + rng.randrange(5), minutes=rng.randrange(60))
            codes = [f"82{prescription.pk:012d}{k:06d}" for k in range(quantity)]
            dispensing = rx_dispensing.prescription_dispense(
                prescription_id=prescription.pk, user=pharmacist, dispensed_at=dispensed_at, now=dispensed_at,
                items=[rx_dispensing.DispenseItem(drug.code, quantity, price, codes)])
            stamp(dispensed_at)
            totals["dispensings"] += 1
            if rng.random() < REVERSAL_RATE:
                reversed_at = dispensed_at + dt.timedelta(minutes=20 + rng.randrange(90))
                if timezone.localdate(reversed_at) == timezone.localdate(dispensed_at):
                    rx_dispensing.dispensing_reverse(dispensing=dispensing, user=pharmacist,
                                                     reason=rng.choice(REASONS), now=reversed_at)
                    stamp(reversed_at)
                    totals["reversals"] += 1
                    # R-RX-6: the prescription flowed again; the pharmacy dispenses it correctly (the packs'
                    # codes were released by the reversal)
                    again = reversed_at + dt.timedelta(minutes=10)
                    rx_dispensing.prescription_dispense(
                        prescription_id=prescription.pk, user=pharmacist, dispensed_at=again, now=again,
                        items=[rx_dispensing.DispenseItem(drug.code, quantity, price, codes)])
                    stamp(again)
                    totals["dispensings"] += 1
        except ApplicationError:
            totals["refused"] += 1
            stamp(issued)
        day = _weekday_on_or_after(day + dt.timedelta(days=28 + rng.randrange(4)))
        n += 1


def _settle_past_months(stamp, *, start: dt.date, today: dt.date, admins: dict) -> None:
    """Each ended month settled on the 1st of the next at 02:00 and the regions' statements confirmed on the 5th
    at 10:00 by their bureau administrator (R-SET-1); the last ended month stays a draft until its 5th."""
    period = period_of(start)
    while next_period(period) <= today:
        settled_on = next_period(period)
        settlement.settlement_run_now(period=period, clock=lambda day=settled_on: _at(day, 2))
        stamp(_at(settled_on, 2))
        confirm_on = settled_on + dt.timedelta(days=4)
        if confirm_on <= today:
            for region_code, admin in admins.items():
                prefix = region_code[:4]
                drafts = Statement.objects.filter(period=period, status=Statement.Status.DRAFT).filter(
                    Q(pharmacy__region__code__startswith=prefix) | Q(institution__region__code__startswith=prefix))
                for statement in drafts:
                    try:
                        settlement.statement_confirm(statement=statement, actor=admin, today=confirm_on,
                                                     now=_at(confirm_on, 10))
                    except ApplicationError:
                        pass
                    stamp(_at(confirm_on, 10))
        period = next_period(period)
