"""A year of work for each demo region (issue 15 item 14): twelve full months before ``today``'s month plus the
current month so far (``apps.demo.window``). Hundreds of patients per region whose applications went through the
review chain (each stage decided inside its R-APP-5 limit; some returned, rejected, still waiting at a stage or
terminated), their monthly prescriptions dispensed at the demo pharmacies with traceability codes (a few reversed
the same day with a reason and dispensed again, R-RX-6), the pharmacies' purchases, and every past month settled by
the real settlement run on the 1st and its statements confirmed on the 5th (R-SET-1).

Two stages:

1. ``plan(today)`` draws the year from ``random.Random(SEED-region)``: who applies when, each stage's decision
   moment (working hours, the same or next working day), each month's prescription, purchase, dispensing and
   reversal. Deterministic: the same ``today`` gives the same plan.
2. A writer turns the plan into rows. ``write_bulk`` (what ``load`` uses) writes them set-based — a few
   ``bulk_create`` per table — with the figures computed by the services' own pieces: the review chain's due
   dates (``stage_due_date``), validity (``default_valid_until``), the prescription's content hash and validity,
   the payment standard and policy in force and the reimbursement engine (``engine.settle``) over each patient's
   year-to-date accumulator (R-PAY-3). ``write_through_services`` writes the same plan by calling the services one
   action at a time; ``tests/demo/test_year.py`` checks that both give the same rows (the per-call services take
   minutes for a year; the bulk writer seconds).

Every row and event carries the moment it describes (``created_at``, ``Event.at``, the audit log's ``timestamp``),
never the machine's clock. Loading again adds nothing (a region whose first patient exists is skipped)."""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import functools
import random
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

from auditlog.models import LogEntry
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import Q
from django.utils import timezone

from apps.applications import services as application_services
from apps.applications.models import Application, ApplicationReview, InsuredPerson, Stage
from apps.catalogue.models import Drug, PaymentStandard
from apps.core import working_days
from apps.core.events import EventAction
from apps.core.exceptions import ApplicationError
from apps.core.idnumber import make_id_number, parse_id_number
from apps.core.models import Event, Region
from apps.core.selectors import region_settings_for
from apps.core.working_days import is_provisional, is_working_day
from apps.demo import money, rows
from apps.demo.window import demo_start
from apps.institutions.models import HospitalDuty
from apps.policies.models import CareSetting
from apps.prescriptions import engine
from apps.prescriptions.models import (
    Delivery, Dispensing, DispensingLine, PatientYearUsage, Prescription, PrescriptionItem, StockMovement, TraceCode,
)
from apps.prescriptions.selectors import payment_standards_on
from apps.prescriptions.services import dispensing as rx_dispensing
from apps.prescriptions.services import upload as rx_upload
from apps.prescriptions.sql_reads import policy_in_force
from apps.settlement import services as settlement
from apps.settlement.models import Statement
from apps.settlement.periods import next_period, period_of

SEED = 20261201

# region → (hospital user, reviewer, [(pharmacy code, pharmacist user)], county codes of the patients, physicians,
#           patients)
REGIONS = {
    "640500": ("hospital", "reviewer", [("P640500001", "pharmacy"), ("P640500002", "pharmacy2")],
               ["640502", "640521", "640522"], ["D640500001", "D640500002"], 300),
    "430100": ("hospital_cs", "reviewer_cs", [("P430100001", "pharmacy_cs")],
               ["430102", "430104", "430105", "430112"], ["D430100001", "D430100002"], 260),
}
ADMINS = {"640500": "admin", "430100": "admin_cs"}
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
TERMINATION_RATE = 0.03
TERMINATION_REASON = "参保关系已转出本统筹区，待遇终止"
REVERSAL_RATE = 0.04
REASONS = ["单价录入错误，冲正后重新结算", "数量录入错误，冲正后重新配药", "参保人当日改为住院用药，退药冲正"]
APPROVE_OPINION = "符合用药指征，同意"
LAST_OPINIONS = {"reject": "病历未见基因检测阳性结果，不符合限定支付范围", "return": "请补充近三个月的影像学检查报告"}


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour, minute)))


# --------------------------------------------------------------------------------------------------------------
# The plan
# --------------------------------------------------------------------------------------------------------------

@dataclass
class Decision:
    at: dt.datetime
    decision: str      # approve / reject / return
    opinion: str


@dataclass
class Visit:
    """One month's prescription: uploaded, the packs bought in an hour before, dispensed the same day; perhaps
    reversed within the hour and dispensed again."""
    serial: str
    issued: dt.datetime
    purchased: dt.datetime
    dispensed: dt.datetime
    price_factor: str
    reversal: tuple[dt.datetime, str, dt.datetime] | None = None   # (reversed at, reason, dispensed again at)

    def codes(self, quantity: int) -> list[str]:
        """20-digit traceability codes, one per pack (R-RX-5): ``82`` + the serial's digits + the pack."""
        digits = "".join(c for c in self.serial if c.isdigit())
        return [f"82{digits[-12:]:0>12}{k:06d}" for k in range(quantity)]


@dataclass
class PatientPlan:
    region: str
    seq: int
    name: str
    female: bool
    birth: dt.date
    id_number: str
    insurance_type: str
    phone: str
    pharmacy: str
    pharmacist: str
    physician: str
    generic: str
    icd: str
    diagnosis: str
    usage: str
    submitted: dt.datetime
    outcome: str
    decisions: list[Decision] = field(default_factory=list)
    terminated_on: dt.date | None = None
    visits: list[Visit] = field(default_factory=list)

    @property
    def key(self) -> str:
        return f"{self.region}-{self.seq:04d}"


#: the working-day calendar of the demo year (statutory holidays, 调休 workdays), read once per plan
_CALENDAR: dict = {}


def _working_day_on_or_after(day: dt.date) -> dt.date:
    """The first working day on or after ``day`` (R-APP-5's calendar: holidays off, 调休 Saturdays on)."""
    while not is_working_day(day, _CALENDAR):
        day += dt.timedelta(days=1)
    return day


def _add_working_days(start: dt.date, n: int) -> dt.date:
    """``apps.core.working_days.add_working_days`` over the calendar read once for the year (it reads the calendar
    on each call; the bulk writer asks for a due date a thousand times)."""
    day = start
    if n == 0:
        return _working_day_on_or_after(day)
    while n:
        day += dt.timedelta(days=1)
        if is_working_day(day, _CALENDAR):
            n -= 1
    return day


@functools.cache
def _provisional_years(first: int, last: int) -> bool:
    return is_provisional(dt.date(first, 1, 1), dt.date(last, 1, 1))


def _is_provisional(start: dt.date, end: dt.date) -> bool:
    """``apps.core.working_days.is_provisional``, asked once per pair of years."""
    return _provisional_years(min(start, end).year, max(start, end).year)


def _next_moment(rng, moment: dt.datetime, today: dt.date) -> dt.datetime | None:
    """A decision 1–5 hours later, moved to the next working morning after office hours; never on or after today
    (so every decided stage met its one-working-day limit and nothing is dated in the future)."""
    later = moment + dt.timedelta(hours=1 + rng.randrange(5), minutes=rng.randrange(60))
    local = timezone.localtime(later)
    if local.hour >= 17 or not is_working_day(local.date(), _CALENDAR):
        day = _working_day_on_or_after(local.date() + dt.timedelta(days=1))
        later = _at(day, 9, rng.randrange(60))
    return later if timezone.localdate(later) < today else None


def plan(today: dt.date) -> list[PatientPlan]:
    """The whole year, drawn from the seed: the same ``today`` gives the same plan."""
    _CALENDAR.clear()
    _provisional_years.cache_clear()
    _CALENDAR.update(working_days.exceptions_between(today - dt.timedelta(days=400), today + dt.timedelta(days=30)))
    start = demo_start(today)
    out: list[PatientPlan] = []
    stages_of = {code: _stages(code) for code in REGIONS}
    for region_code, (_h, _r, pharmacies, counties, physicians, count) in REGIONS.items():
        rng = random.Random(f"{SEED}-{region_code}")
        days = (today - dt.timedelta(days=3) - start).days
        patients = []
        for seq in range(count):
            female = rng.random() < 0.48
            birth = dt.date(1945 + rng.randrange(45), 1 + rng.randrange(12), 1 + rng.randrange(28))
            county = rng.choice(counties)
            # enrolment front-loaded: many patients were already treated when the window opens
            offset = int(days * (rng.random() ** 1.4))
            submitted_on = min(_working_day_on_or_after(start + dt.timedelta(days=1 + offset)),
                               today - dt.timedelta(days=1))
            pharmacy, pharmacist = rng.choice(pharmacies)
            generic, icd, diagnosis, usage = rng.choice(DRUGS)
            patients.append(PatientPlan(
                region=region_code, seq=seq, name=rng.choice(SURNAMES) + rng.choice(GIVEN), female=female,
                birth=birth, id_number=make_id_number(county, birth, 500 + seq, female=female),
                insurance_type="employee" if rng.random() < 0.55 else "resident",
                phone=f"13{rng.randrange(10 ** 9):09d}", pharmacy=pharmacy, pharmacist=pharmacist,
                physician=rng.choice(physicians), generic=generic, icd=icd, diagnosis=diagnosis, usage=usage,
                submitted=_at(submitted_on, 9, rng.randrange(60)), outcome=rng.choice(OUTCOMES)))
        patients.sort(key=lambda p: (p.submitted, p.seq))
        for patient in patients:
            _plan_review(rng, patient, stages_of[region_code], today)
            _plan_visits(rng, patient, today)
        out += patients
    return out


def _plan_review(rng, patient: PatientPlan, stages: list[str], today: dt.date) -> None:
    day = timezone.localdate(patient.submitted)
    if (today - day).days < 4:
        patient.outcome = "submitted" if (today - day).days < 2 else "in_review"
    moment = patient.submitted + dt.timedelta(hours=1, minutes=rng.randrange(60))
    for index, _stage in enumerate(stages):
        last = index == len(stages) - 1
        if patient.outcome == "submitted" or (patient.outcome == "in_review" and last):
            break
        moment = _next_moment(rng, moment, today)
        if moment is None:  # the chain reaches today: still waiting at this stage
            patient.outcome = "in_review" if index else "submitted"
            break
        decision = {"rejected": "reject", "returned": "return"}.get(patient.outcome, "approve") if last else "approve"
        patient.decisions.append(Decision(moment, decision, LAST_OPINIONS.get(decision, APPROVE_OPINION)))
    draw, offset = rng.random(), rng.random()
    if patient.outcome == "approved" and draw < TERMINATION_RATE:
        approved_on = timezone.localdate(patient.decisions[-1].at)
        if (today - approved_on).days > 90:
            patient.terminated_on = approved_on + dt.timedelta(days=60 + int(offset * ((today - approved_on).days - 75)))


def _plan_visits(rng, patient: PatientPlan, today: dt.date) -> None:
    """A prescription every 28–31 days from approval, dispensed the same day at the patient's pharmacy."""
    if patient.outcome != "approved":
        return
    approved_on = timezone.localdate(patient.decisions[-1].at)
    valid_until = application_services.default_valid_until(timezone.localdate(patient.submitted))
    end = min(today - dt.timedelta(days=2), valid_until, patient.terminated_on or valid_until)
    day = _working_day_on_or_after(approved_on + dt.timedelta(days=rng.randrange(1, 6)))
    n = 0
    while day < end:
        issued = _at(day, 8 + rng.randrange(3), rng.randrange(60))
        dispensed = issued + dt.timedelta(hours=2 + rng.randrange(5), minutes=rng.randrange(60))
        visit = Visit(serial=f"Y{patient.region}{patient.seq:04d}-{n:02d}", issued=issued,
                      purchased=issued - dt.timedelta(hours=1), dispensed=dispensed,
                      price_factor=rng.choice(["0.96", "0.98", "1.00"]))
        if rng.random() < REVERSAL_RATE:
            reversed_at = dispensed + dt.timedelta(minutes=20 + rng.randrange(90))
            if timezone.localdate(reversed_at) == timezone.localdate(dispensed):
                visit.reversal = (reversed_at, rng.choice(REASONS), reversed_at + dt.timedelta(minutes=10))
        patient.visits.append(visit)
        day = _working_day_on_or_after(day + dt.timedelta(days=28 + rng.randrange(4)))
        n += 1


def _stages(region_code: str) -> list[str]:
    return application_services._stages_for(Region.objects.get(code=region_code))


def patient_id_numbers(today: dt.date) -> list[str]:
    """The ID numbers of the year's patients as of ``today`` (the same draw as ``load``), so the other demo steps
    can leave them alone when the demo is loaded again."""
    return [p.id_number for p in plan(today)]


# --------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------

def load(*, today: dt.date, now: dt.datetime, stdout=None):
    users = {u.username: u for u in get_user_model().objects.select_related("pharmacy", "institution", "region")}
    needed = {name for code, (h, r, pharmacies, *_rest) in REGIONS.items() for name in (h, r, ADMINS[code],
                                                                                      *(p for _c, p in pharmacies))}
    if not needed <= set(users) or demo_start(today) >= today - dt.timedelta(days=7):
        return
    patients = plan(today)
    if InsuredPerson.objects.filter(id_number=patients[0].id_number).exists():
        return  # loaded before
    totals = write_bulk(patients, users=users, today=today)
    settle_past_months(start=demo_start(today), today=today, admins={c: users[a] for c, a in ADMINS.items()},
                       actions=money.actions(today=today, users=users))
    if stdout:
        stdout.write(f"  一年业务：{totals['patients']} 名参保人，{totals['dispensings']} 次配药，"
                     f"{totals['reversals']} 次冲正")


# --------------------------------------------------------------------------------------------------------------
# The bulk writer
# --------------------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def _dated_rows(*model_classes):
    """``auto_now``/``auto_now_add`` off for the duration, so the rows keep the moment the plan gives them (the
    services' rows carry the moment of the call that wrote them; the bulk writer writes a year in one go)."""
    switched = []
    for model in model_classes:
        for f in model._meta.concrete_fields:
            if isinstance(f, models.DateTimeField) and (f.auto_now or f.auto_now_add):
                switched.append((f, f.auto_now, f.auto_now_add))
                f.auto_now = f.auto_now_add = False
    try:
        yield
    finally:
        for f, auto_now, auto_now_add in switched:
            f.auto_now, f.auto_now_add = auto_now, auto_now_add


class _Events:
    """The event rows of a bulk write (R-SEC-3), each with the moment it describes."""

    def __init__(self):
        self.rows: list[Event] = []
        self.types: dict[type, ContentType] = {}

    def add(self, subject, action, *, at, actor=None, from_status="", to_status="", reason="", data=None):
        model = type(subject)
        if model not in self.types:
            self.types[model] = ContentType.objects.get_for_model(model, for_concrete_model=True)
        self.rows.append(Event(content_type=self.types[model], object_id=str(subject.pk), action=EventAction(action),
                               actor=actor, from_status=from_status or "", to_status=to_status or "",
                               reason=reason or "", data=data or {}, at=at))


def _audit_rows(objects, *, actor_of, at_of) -> list[LogEntry]:
    """django-auditlog's "created" rows for objects written by ``bulk_create`` (which sends no signal), with the
    changes auditlog itself computes for a creation."""
    from auditlog.diff import model_instance_diff

    rows = []
    for obj in objects:
        changes = model_instance_diff(None, obj, use_json_for_changes=settings.AUDITLOG_STORE_JSON_CHANGES)
        ct = ContentType.objects.get_for_model(obj, for_concrete_model=True)
        rows.append(LogEntry(content_type=ct, object_pk=str(obj.pk), object_id=obj.pk, object_repr=str(obj)[:200],
                             action=LogEntry.Action.CREATE, changes=changes, actor=actor_of(obj),
                             timestamp=at_of(obj)))
    return rows


def write_bulk(patients: list[PatientPlan], *, users: dict, today: dt.date) -> dict:
    """The plan as rows, set-based (see the module docstring for what each figure is computed by)."""
    totals = {"patients": 0, "dispensings": 0, "reversals": 0}
    with _dated_rows(InsuredPerson, Application, Event, Prescription, Dispensing, StockMovement, PatientYearUsage):
        applications = _bulk_applications(patients, users=users, today=today)
        totals["patients"] = len(applications)
        dispensings, reversals = _bulk_dispensings(patients, applications, users=users)
        totals["dispensings"], totals["reversals"] = dispensings, reversals
    rows.analyze(InsuredPerson, Application, ApplicationReview, Event, LogEntry, Prescription, PrescriptionItem,
                 StockMovement, Dispensing, DispensingLine, TraceCode, PatientYearUsage)
    return totals


def _stage_actor(application: Application, stage: str, duties: dict, reviewer):
    """R-APP-4: who decides ``stage`` — the physician's own account, the institution's duty holder, the bureau."""
    if stage == Stage.PHYSICIAN:
        return application.physician.user
    if stage == Stage.BUREAU:
        return reviewer
    return duties[(application.institution_id, stage)]


def _bulk_applications(patients, *, users, today) -> dict[str, Application]:
    from apps.physicians.models import Physician

    regions = {r.code: r for r in Region.objects.all()}
    physicians = {p.code: p for p in Physician.objects.select_related("user", "institution__region")}
    duties = {(d.institution_id, d.duty): d.user for d in HospitalDuty.objects.select_related("user").order_by("-id")}
    from apps.pharmacies.models import Pharmacy
    pharmacies = {p.code: p for p in Pharmacy.objects.all()}
    drugs = {g: Drug.objects.filter(generic_name=g, route=Drug.Route.ORAL).select_related("therapeutic_area")
             .order_by("code").first() for g, *_ in DRUGS}
    stages_of = {code: _stages(code) for code in REGIONS}
    limits = {code: region_settings_for(regions[code]) for code in REGIONS}

    def due(stage, received_on, region):
        """``stage_due_date`` (R-APP-5) over the calendar read once for the year."""
        settings = limits[region.code]
        days = settings.bureau_review_days if stage == Stage.BUREAU else settings.insurance_office_review_days
        return _add_working_days(received_on, days)

    events = _Events()
    persons, apps, numbers = [], [], set(Application.objects.values_list("number", flat=True))
    for patient in patients:
        hospital = users[REGIONS[patient.region][0]]
        info = parse_id_number(patient.id_number, today=timezone.localdate(patient.submitted))
        region = regions[patient.region]
        persons.append(InsuredPerson(
            id_number=info.number, name=patient.name, sex=info.sex, birth_date=info.birth_date,
            insurance_type=patient.insurance_type, insured_region=region, phone=patient.phone,
            created_at=patient.submitted, updated_at=patient.submitted))
    InsuredPerson.objects.bulk_create(persons)
    for patient, person in zip(patients, persons):
        hospital = users[REGIONS[patient.region][0]]
        events.add(person, EventAction.INSURED_PERSON_CREATED, at=patient.submitted, actor=hospital)
        day = timezone.localdate(patient.submitted)
        rng = random.Random(f"{SEED}-number-{patient.key}")
        number = f"SQ{day:%Y%m%d}{rng.randrange(10 ** 6):06d}"
        while number in numbers:
            number = f"SQ{day:%Y%m%d}{rng.randrange(10 ** 6):06d}"
        numbers.add(number)
        drug, physician = drugs[patient.generic], physicians[patient.physician]
        stages = stages_of[patient.region]
        apps.append(Application(
            number=number, person=person, insured_region=person.insured_region, institution=physician.institution,
            pharmacy=pharmacies[patient.pharmacy], physician=physician, generic_name=patient.generic,
            dosage_form=drug.dosage_form, manufacturer="", therapeutic_area=drug.therapeutic_area,
            diagnosis_code=patient.icd.upper(), diagnosis_name=patient.diagnosis, usage=patient.usage,
            course_days=180, first_use_on=None, patient_phone=person.phone, status=Application.Status.SUBMITTED,
            review_stages=stages, current_stage=stages[0], stage_received_on=day,
            stage_due_date=due(stages[0], day, person.insured_region), submitted_at=patient.submitted, applied_on=day,
            created_by=hospital, created_at=patient.submitted, updated_at=patient.submitted))
    # as submitted, for the audit log's "created" rows (the decisions are in the event log and the reviews)
    as_submitted = [copy.copy(a) for a in apps]
    # the chain, decision by decision, on the unsaved applications (what application_decide does to each)
    reviews: list[tuple[Application, ApplicationReview, str, dict]] = []
    submitted_events = []
    for patient, application in zip(patients, apps):
        submitted_events.append((application, dict(
            action=EventAction.APPLICATION_SUBMITTED, at=patient.submitted, actor=application.created_by,
            to_status=Application.Status.SUBMITTED,
            data={"number": application.number, "stage": application.current_stage,
                  "generic_name": application.generic_name})))
        stages = application.review_stages
        for decision in patient.decisions:
            decided_on = timezone.localdate(decision.at)
            stage = application.current_stage
            is_last = stage == stages[-1]
            reviewer = users[REGIONS[patient.region][1]]
            review = ApplicationReview(
                application=application, stage=stage, decision=decision.decision, opinion=decision.opinion,
                reviewer=_stage_actor(application, stage, duties, reviewer), decided_at=decision.at,
                due_date=application.stage_due_date,
                overdue=bool(application.stage_due_date and decided_on > application.stage_due_date),
                valid_until=application_services.default_valid_until(application.applied_on)
                if decision.decision == "approve" and is_last else None)
            from_status = application.status
            if decision.decision == "approve" and not is_last:
                application.status = Application.Status.IN_REVIEW
                application.current_stage = stages[stages.index(stage) + 1]
                application.stage_received_on = decided_on
                application.stage_due_date = due(application.current_stage, decided_on, application.insured_region)
            else:
                application.current_stage, application.stage_received_on, application.stage_due_date = "", None, None
                application.decided_at = decision.at
                if decision.decision == "approve":
                    application.status = Application.Status.APPROVED
                    application.valid_from = application.applied_on
                    application.valid_until = review.valid_until
                elif decision.decision == "reject":
                    application.status = Application.Status.REJECTED
                else:
                    application.status = Application.Status.RETURNED
                    application.current_stage = stages[0]
                    application.decided_at = None
            application.updated_at = decision.at
            reviews.append((application, review, from_status, dict(
                action=application_services.DECISION_EVENTS[decision.decision], at=decision.at,
                actor=review.reviewer, from_status=from_status, to_status=application.status,
                reason=decision.opinion, valid_until=str(application.valid_until or ""))))
        application.stage_due_provisional = bool(
            application.stage_due_date and application.stage_received_on
            and _is_provisional(application.stage_received_on, application.stage_due_date))
    Application.objects.bulk_create(apps)
    for snapshot, application in zip(as_submitted, apps):
        snapshot.pk = application.pk
    for review_row in (r for _a, r, _f, _e in reviews):
        review_row.application_id = review_row.application.pk
    ApplicationReview.objects.bulk_create([r for _a, r, _f, _e in reviews])
    for application, kwargs in submitted_events:
        events.add(application, **kwargs)
    for application, review, _from, kwargs in reviews:
        valid_until = kwargs.pop("valid_until")
        events.add(application, kwargs.pop("action"), **kwargs,
                   data={"stage": review.stage, "review": review.pk, "overdue": review.overdue,
                         "valid_until": valid_until})
    # terminated by the insured region's bureau (the patient's insurance moved away)
    terminated = []
    for patient, application in zip(patients, apps):
        if patient.terminated_on is not None and application.status == Application.Status.APPROVED:
            reviewer = users[REGIONS[patient.region][1]]
            at = _at(patient.terminated_on, 10)
            application.status, application.terminated_on = Application.Status.TERMINATED, patient.terminated_on
            application.termination_reason, application.updated_at = TERMINATION_REASON, at
            terminated.append(application)
            events.add(application, EventAction.APPLICATION_TERMINATED, at=at, actor=reviewer,
                       from_status=Application.Status.APPROVED, to_status=Application.Status.TERMINATED,
                       reason=TERMINATION_REASON, data={})
    Application.objects.bulk_update(terminated, ["status", "terminated_on", "termination_reason", "updated_at"])
    rows.insert(Event, events.rows)
    rows.insert(LogEntry, 
        _audit_rows(persons, actor_of=lambda o: users[REGIONS[o.insured_region.code][0]], at_of=lambda o: o.created_at)
        + _audit_rows(as_submitted, actor_of=lambda o: o.created_by, at_of=lambda o: o.submitted_at)
        + _audit_rows([r for _a, r, _f, _e in reviews], actor_of=lambda o: o.reviewer, at_of=lambda o: o.decided_at))
    return {p.key: a for p, a in zip(patients, apps)}


def _standard_on(versions: list, day: dt.date) -> Decimal:
    """``payment_standards_on`` (R-CAT-3) over one drug's versions read once: the latest one in force on ``day``."""
    for version in versions:  # newest first
        if version.valid_from <= day and (version.valid_until is None or version.valid_until >= day):
            return version.amount
    raise ApplicationError("drug_not_listed", f"药品在 {day} 没有有效的支付标准")


class _Usage:
    """A patient's year-to-date accumulator (``PatientYearUsage``) kept in memory while the year is written."""

    def __init__(self):
        self.deductible_met = engine.ZERO
        self.fund_paid = engine.ZERO
        self.count = 0
        self.updated_at = None


def _bulk_dispensings(patients, applications: dict[str, Application], *, users) -> tuple[int, int]:
    drugs = {g: Drug.objects.filter(generic_name=g, route=Drug.Route.ORAL).order_by("code").first()
             for g, *_ in DRUGS}
    standards: dict = {}
    versions = defaultdict(list)
    for version in PaymentStandard.objects.filter(drug__in=drugs.values()).order_by("-valid_from"):
        versions[version.drug_id].append(version)
    policies: dict = {}
    validity: dict = {}
    events = _Events()
    usage: dict[tuple[int, int], _Usage] = defaultdict(_Usage)
    prescriptions, items, movements = [], [], []
    # dispensings in the order they happen; each with its lines' inputs and codes
    dispensing_rows: list[tuple[Dispensing, list[DispensingLine], list[str]]] = []
    released: list[tuple[int, Dispensing]] = []   # (index of the reversed dispensing in dispensing_rows, reversal)
    reasons: dict[int, str] = {}                   # id(reversal) → the pharmacist's reason
    totals = [0, 0]
    for patient in patients:
        application = applications[patient.key]
        if not patient.visits:
            continue
        hospital = users[REGIONS[patient.region][0]]
        pharmacist = users[patient.pharmacist]
        pharmacy = pharmacist.pharmacy
        drug = drugs[patient.generic]
        quantity = 1 if drug.payment_standard > Decimal("5000") else 2
        person = application.person
        institution = application.institution
        if institution.pk not in validity:
            validity[institution.pk] = region_settings_for(institution.region).prescription_validity_days
        for visit in patient.visits:
            issued_on = timezone.localdate(visit.issued)
            data = rx_upload.UploadData(
                serial_no=visit.serial, application=application.pk, physician_code=application.physician.code,
                pharmacy_code=patient.pharmacy, issued_at=visit.issued, signature=f"SM2:{visit.serial}",
                items=[rx_upload.UploadItem(drug.code, quantity, 30)])
            prescription = Prescription(
                institution=institution, serial_no=visit.serial, application=application, person=person,
                physician=application.physician, pharmacy=pharmacy, issued_at=visit.issued, long_term=False,
                care_setting=CareSetting.OUTPATIENT, delivery=Delivery.PICKUP, signature=data.signature,
                expires_at=visit.issued + dt.timedelta(days=validity[institution.pk]),
                content_hash=data.content_hash(), uploaded_by=hospital, created_at=visit.issued,
                status=Prescription.Status.DISPENSED,
                status_changed_at=visit.reversal[2] if visit.reversal else visit.dispensed)
            prescriptions.append(prescription)
            items.append(PrescriptionItem(prescription=prescription, drug=drug, quantity=quantity, days_supply=30))
            day = timezone.localdate(visit.dispensed)
            if (drug.pk, day) not in standards:
                standards[(drug.pk, day)] = _standard_on(versions[drug.pk], day)
            standard = standards[(drug.pk, day)]
            price = (drug.payment_standard * Decimal(visit.price_factor)).quantize(Decimal("0.01"))
            price = min(price, standard)
            movements.append(StockMovement(
                pharmacy=pharmacy, drug=drug, kind=StockMovement.Kind.PURCHASE, quantity=quantity,
                unit_price=(price * Decimal("0.95")).quantize(Decimal("0.01")), occurred_at=visit.purchased,
                recorded_by=pharmacist, created_at=visit.purchased))
            if (person.insured_region_id, day) not in policies:
                policies[(person.insured_region_id, day)] = policy_in_force(region=person.insured_region, on=day)
            policy = policies[(person.insured_region_id, day)]
            care, ins = CareSetting.OUTPATIENT, person.insurance_type
            ratio = policy.ratio(care_setting=care, insurance_type=ins)
            terms = engine.PolicyTerms(deductible=policy.deductible(care_setting=care, insurance_type=ins),
                                       ratio=ratio, cap=policy.annual_cap(insurance_type=ins))
            acc = usage[(person.pk, day.year)]
            codes = visit.codes(quantity)

            def dispense(at, acc=acc):
                result = engine.settle(lines=[engine.LineInput(quantity, price, drug.first_self_pay_ratio, standard)],
                                       terms=terms, usage=engine.YearUsage(acc.deductible_met, acc.fund_paid))
                row = Dispensing(
                    prescription=prescription, pharmacy=pharmacy, institution=institution, person=person,
                    insurance_type=ins, insured_region=person.insured_region, policy=policy, care_setting=care,
                    settlement=Dispensing.Settlement.DIRECT, dispensed_at=at, period=day.replace(day=1),
                    kind=Dispensing.Kind.NORMAL, delivery=Delivery.PICKUP, dispensed_by=pharmacist,
                    deductible_met_before=acc.deductible_met, fund_paid_before=acc.fund_paid, created_at=at,
                    **result.figures())
                r = result.lines[0]
                line = DispensingLine(dispensing=row, period=row.period, drug=drug, quantity=r.quantity,
                                      unit_price=r.unit_price,
                                      line_total=r.line_total, payment_standard=standard,
                                      first_self_pay_ratio=drug.first_self_pay_ratio, reimbursement_ratio=ratio,
                                      first_self_pay=r.first_self_pay, in_scope=r.in_scope,
                                      fund_payment=r.fund_payment, personal_payment=r.personal_payment)
                acc.deductible_met += result.deductible
                acc.fund_paid += result.fund_payment
                acc.count += 1
                acc.updated_at = at
                dispensing_rows.append((row, [line], codes))
                totals[0] += 1
                return row, line

            original, original_line = dispense(visit.dispensed)
            if visit.reversal:
                reversed_at, reason, again = visit.reversal
                reversal = Dispensing(
                    prescription=prescription, pharmacy=pharmacy, institution=institution, person=person,
                    insurance_type=ins, insured_region=person.insured_region, policy=policy, care_setting=care,
                    settlement=original.settlement, dispensed_at=reversed_at, period=original.period,
                    kind=Dispensing.Kind.REVERSAL, reverses=original, delivery=original.delivery,
                    dispensed_by=pharmacist, total=-original.total, first_self_pay=-original.first_self_pay,
                    in_scope=-original.in_scope, deductible=-original.deductible,
                    fund_payment=-original.fund_payment, personal_payment=-original.personal_payment,
                    deductible_met_before=acc.deductible_met, fund_paid_before=acc.fund_paid, created_at=reversed_at)
                l = original_line
                reversal_line = DispensingLine(
                    dispensing=reversal, period=reversal.period, drug=drug, quantity=-l.quantity, unit_price=l.unit_price,
                    line_total=-l.line_total, payment_standard=l.payment_standard,
                    first_self_pay_ratio=l.first_self_pay_ratio, reimbursement_ratio=l.reimbursement_ratio,
                    first_self_pay=-l.first_self_pay, in_scope=-l.in_scope, fund_payment=-l.fund_payment,
                    personal_payment=-l.personal_payment)
                acc.deductible_met -= original.deductible
                acc.fund_paid -= original.fund_payment
                acc.count -= 1
                acc.updated_at = reversed_at
                released.append((len(dispensing_rows) - 1, reversal))
                reasons[id(reversal)] = reason
                dispensing_rows.append((reversal, [reversal_line], []))
                totals[1] += 1
                dispense(again)
    rows.insert(Prescription, prescriptions)
    for item in items:
        item.prescription_id = item.prescription.pk
    rows.insert(PrescriptionItem, items)
    rows.insert(StockMovement, movements)
    # dispensings: the originals first (a reversal points at its original), then lines and codes
    for row, _lines, _codes in dispensing_rows:
        row.prescription_id = row.prescription.pk
    originals = [row for row, _l, _c in dispensing_rows if row.kind == Dispensing.Kind.NORMAL]
    rows.insert(Dispensing, originals)
    reversals = [row for row, _l, _c in dispensing_rows if row.kind == Dispensing.Kind.REVERSAL]
    for row in reversals:
        row.reverses_id = row.reverses.pk
    rows.insert(Dispensing, reversals)
    lines = []
    for row, row_lines, _codes in dispensing_rows:
        for line in row_lines:
            line.dispensing_id = row.pk
            lines.append(line)
    rows.insert(DispensingLine, lines)
    released_by = {index: reversal for index, reversal in released}
    codes = []
    for index, (row, row_lines, row_codes) in enumerate(dispensing_rows):
        reversal = released_by.get(index)
        for code in row_codes:
            codes.append(TraceCode(code=code, line_id=row_lines[0].pk, drug=row_lines[0].drug,
                                   pharmacy=row.pharmacy, dispensed_at=row.dispensed_at,
                                   released_at=reversal.dispensed_at if reversal else None,
                                   released_by_id=reversal.pk if reversal else None))
    rows.insert(TraceCode, codes)
    rows.insert(PatientYearUsage, [
        PatientYearUsage(person_id=person_id, year=year, deductible_met=acc.deductible_met, fund_paid=acc.fund_paid,
                         dispensing_count=acc.count, updated_at=acc.updated_at)
        for (person_id, year), acc in usage.items()])
    # the events, as the services write them
    for prescription in prescriptions:
        events.add(prescription, EventAction.PRESCRIPTION_UPLOADED, at=prescription.issued_at,
                   actor=prescription.uploaded_by, to_status=Prescription.Status.FLOWED,
                   data={"serial_no": prescription.serial_no, "pharmacy": prescription.pharmacy.code})
    for movement in movements:
        events.add(movement, EventAction.STOCK_PURCHASE, at=movement.occurred_at, actor=movement.recorded_by,
                   data={"drug": movement.drug.code, "quantity": movement.quantity,
                         "unit_price": str(movement.unit_price)})
    for row, _lines, _codes in dispensing_rows:
        if row.kind == Dispensing.Kind.NORMAL:
            events.add(row, EventAction.DISPENSED, at=row.dispensed_at, actor=row.dispensed_by,
                       to_status=row.kind, data={"prescription": row.prescription_id, "total": str(row.total),
                                                 "fund": str(row.fund_payment)})
        else:
            reason = reasons[id(row)]
            events.add(row, EventAction.DISPENSING_REVERSED, at=row.dispensed_at, actor=row.dispensed_by,
                       to_status="reversal", reason=reason,
                       data={"reverses": row.reverses_id, "fund": str(row.fund_payment)})
            events.add(row.prescription, EventAction.PRESCRIPTION_DISPENSING_REVERSED, at=row.dispensed_at,
                       actor=row.dispensed_by, from_status="dispensed", to_status="flowed", reason=reason)
    rows.insert(Event, events.rows)
    return totals[0], totals[1]


# --------------------------------------------------------------------------------------------------------------
# The same plan through the services, one call per action (the reference the bulk writer is checked against)
# --------------------------------------------------------------------------------------------------------------

class _Stamp:
    """``Event.at`` and the audit log's ``timestamp`` are set when the row is inserted; the rows a service call just
    wrote are dated with the ``now`` the call was given."""

    def __init__(self):
        self.event = Event.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        self.audit = LogEntry.objects.order_by("-pk").values_list("pk", flat=True).first() or 0

    def __call__(self, moment: dt.datetime, *, events: bool = True) -> None:
        if events:  # services given now= date their events themselves (record_event(now=…)); others are restamped
            Event.objects.filter(pk__gt=self.event).update(at=moment)
        LogEntry.objects.filter(pk__gt=self.audit).update(timestamp=moment)
        self.__init__()


def write_through_services(patients: list[PatientPlan], *, users: dict, today: dt.date) -> None:
    from apps.demo.applications import stage_actor

    stamp = _Stamp()
    drugs = {g: Drug.objects.filter(generic_name=g, route=Drug.Route.ORAL).order_by("code").first()
             for g, *_ in DRUGS}
    for patient in patients:
        hospital, reviewer = users[REGIONS[patient.region][0]], users[REGIONS[patient.region][1]]
        application = application_services.application_submit(
            actor=hospital, patient={"name": patient.name, "id_number": patient.id_number,
                                     "insurance_type": patient.insurance_type,
                                     "insured_region": patient.region, "phone": patient.phone},
            physician_code=patient.physician, pharmacy_code=patient.pharmacy, generic_name=patient.generic,
            diagnosis_code=patient.icd, diagnosis_name=patient.diagnosis, usage=patient.usage, course_days=180,
            now=patient.submitted)
        stamp(patient.submitted)
        for decision in patient.decisions:
            actor = reviewer if application.current_stage == Stage.BUREAU else stage_actor(application)
            application = application_services.application_decide(
                application=application, actor=actor, decision=decision.decision, opinion=decision.opinion,
                now=decision.at)
            stamp(decision.at)
        if patient.terminated_on is not None and application.status == Application.Status.APPROVED:
            application_services.application_terminate(application=application, actor=reviewer,
                                                       reason=TERMINATION_REASON, on=patient.terminated_on,
                                                       today=patient.terminated_on)
            stamp(_at(patient.terminated_on, 10))
        drug = drugs[patient.generic]
        quantity = 1 if drug.payment_standard > Decimal("5000") else 2
        pharmacist = users[patient.pharmacist]
        for visit in patient.visits:
            prescription, _ = rx_upload.prescription_upload(user=hospital, now=visit.issued, data=rx_upload.UploadData(
                serial_no=visit.serial, application=application.pk, physician_code=patient.physician,
                pharmacy_code=patient.pharmacy, issued_at=visit.issued, signature=f"SM2:{visit.serial}",
                items=[rx_upload.UploadItem(drug.code, quantity, 30)]))
            stamp(visit.issued)
            day = timezone.localdate(visit.dispensed)
            standard = payment_standards_on(drugs=[drug], on=day)[drug.pk]
            price = min((drug.payment_standard * Decimal(visit.price_factor)).quantize(Decimal("0.01")), standard)
            rx_dispensing.stock_movement_record(
                user=pharmacist, pharmacy=pharmacist.pharmacy, drug_code=drug.code, kind=StockMovement.Kind.PURCHASE,
                quantity=quantity, unit_price=(price * Decimal("0.95")).quantize(Decimal("0.01")),
                occurred_at=visit.purchased, now=visit.purchased)
            stamp(visit.purchased)
            items = [rx_dispensing.DispenseItem(drug.code, quantity, price, visit.codes(quantity))]
            dispensing = rx_dispensing.prescription_dispense(prescription_id=prescription.pk, user=pharmacist,
                                                             dispensed_at=visit.dispensed, now=visit.dispensed,
                                                             items=items)
            stamp(visit.dispensed)
            if visit.reversal:
                reversed_at, reason, again = visit.reversal
                rx_dispensing.dispensing_reverse(dispensing=dispensing, user=pharmacist, reason=reason,
                                                 now=reversed_at)
                stamp(reversed_at)
                rx_dispensing.prescription_dispense(prescription_id=prescription.pk, user=pharmacist,
                                                    dispensed_at=again, now=again, items=items)
                stamp(again)


# --------------------------------------------------------------------------------------------------------------
# Settlement of the past months (the real settlement run, then confirmation by the region's administrator)
# --------------------------------------------------------------------------------------------------------------

def settle_past_months(*, start: dt.date, today: dt.date, admins: dict, actions=()) -> None:
    """Each ended month settled on the 1st of the next at 02:00 by the settlement run and the regions' statements
    confirmed on the 5th at 10:00 by their bureau administrator (R-SET-1); the last ended month stays a draft until
    its 5th. ``actions`` (``(moment, call)``, e.g. ``apps.demo.money``) are made in order between them, each told
    its moment."""
    stamp = _Stamp()
    pending = sorted(actions, key=lambda pair: pair[0])

    def until(moment):
        while pending and pending[0][0] < moment:
            at, call = pending.pop(0)
            call(at)
            stamp(at, events=False)  # the actions pass their moments to the services (a ward dispensing: +2 h)

    period = period_of(start)
    while next_period(period) <= today:
        settled_on = next_period(period)
        until(_at(settled_on, 2))
        settlement.settlement_run_now(period=period, clock=lambda day=settled_on: _at(day, 2))
        stamp(_at(settled_on, 2))
        confirm_on = settled_on + dt.timedelta(days=4)
        if confirm_on <= today:
            until(_at(confirm_on, 10))
            for region_code, admin in admins.items():
                prefix = region_code[:4]
                drafts = Statement.objects.filter(period=period, status=Statement.Status.DRAFT).filter(
                    Q(pharmacy__region__code__startswith=prefix) | Q(institution__region__code__startswith=prefix))
                for statement in drafts:
                    settlement.statement_confirm(statement=statement, actor=admin, today=confirm_on,
                                                 now=_at(confirm_on, 10))
                    stamp(_at(confirm_on, 10))
        period = next_period(period)
    until(_at(today, 12))
