"""Issue 15 item 14: a year of work per demo region — twelve full months before today's month plus the current one,
deterministic, with review times inside the stage limit, reversals with their reason, every past month settled by
the real settlement run and confirmed, and log rows dated with the moments they describe. The bulk writer gives
the rows the per-call services give for the same plan (parity)."""
import datetime as dt
from decimal import Decimal

import pytest
from auditlog.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Count, F
from django.db.models.functions import TruncMonth
from django.utils import timezone

from apps.applications.models import Application, ApplicationReview, InsuredPerson
from apps.core.models import Event
from apps.demo import catalogue, regions, year
from apps.demo.loader import moment_of
from apps.monitoring.models import Alert
from apps.prescriptions.models import (
    Dispensing, DispensingLine, PatientYearUsage, Prescription, StockMovement, TraceCode,
)
from apps.settlement.models import Statement

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 1)


def test_r_app_5_r_rx_6_r_set_1_demo_year_of_work():
    """One load (it is the expensive part), then each property of the year."""
    now = moment_of(TODAY)
    for step in (regions, catalogue, year):
        with transaction.atomic():
            step.load(today=TODAY, now=now)
    for check in (_twelve_months_of_activity_in_every_region, _applications_in_every_state_within_the_limits,
                  _reversals_have_a_reason_and_are_redispensed, _accumulators_are_the_sum_of_the_dispensings,
                  _every_past_month_settled_and_confirmed, _log_times_are_the_moments_they_describe,
                  _deterministic_and_loads_once):
        check(now)


def _twelve_months_of_activity_in_every_region(loaded):
    """2025-12 … 2026-11 in each region; hundreds of patients, at least 3,000 dispensings in all."""
    people = set(year.patient_id_numbers(TODAY))
    assert len(people) == sum(r[-1] for r in year.REGIONS.values()) >= 500
    assert Application.objects.filter(person__id_number__in=people).count() == len(people)
    year_dispensings = Dispensing.objects.filter(person__id_number__in=people)
    assert year_dispensings.filter(kind=Dispensing.Kind.NORMAL).count() >= 3000
    expected = {dt.date(2025, 12, 1)} | {dt.date(2026, m, 1) for m in range(1, 12)}
    for prefix in ("64", "43"):
        in_region = year_dispensings.filter(pharmacy__region__code__startswith=prefix)
        months = {m.date() if isinstance(m, dt.datetime) else m
                  for m in in_region.annotate(m=TruncMonth("dispensed_at", tzinfo=timezone.get_current_timezone()))
                  .values_list("m", flat=True)}
        assert expected <= months, (prefix, sorted(months))
        patients = InsuredPerson.objects.filter(id_number__in=people, insured_region__code__startswith=prefix)
        assert patients.count() >= 200


def _applications_in_every_state_within_the_limits(loaded):
    """R-APP-4/5: every state a year produces; each decided stage within its due date, decided by the stage's
    duty holder (never one person for two stages); validity to 31 December of the next year (R-APP-6)."""
    applications = Application.objects.filter(person__id_number__in=year.patient_id_numbers(TODAY))
    states = set(applications.values_list("status", flat=True))
    assert {"submitted", "in_review", "returned", "approved", "rejected", "terminated"} <= states, states
    reviews = ApplicationReview.objects.filter(application__in=applications)
    assert reviews.count() >= 1500 and not reviews.filter(overdue=True).exists()
    for review in reviews.filter(due_date__isnull=False)[:400]:
        assert timezone.localdate(review.decided_at) <= review.due_date
    assert not (reviews.values("application", "reviewer").annotate(n=Count("id")).filter(n__gt=1).exists())
    for application in applications.filter(status="approved")[:50]:
        assert application.valid_until == dt.date(application.applied_on.year + 1, 12, 31)
    waiting = applications.filter(status="in_review").exclude(stage_due_date=None)
    assert waiting.exists() and all(a.stage_received_on <= TODAY for a in waiting)


def _reversals_have_a_reason_and_are_redispensed(loaded):
    """R-RX-6: same-day reversal, its reason on the event, the codes released, the prescription dispensed again."""
    reversals = Dispensing.objects.filter(kind=Dispensing.Kind.REVERSAL).select_related("reverses")
    assert reversals.count() >= 60
    dispensing_type = ContentType.objects.get_for_model(Dispensing)
    for reversal in reversals[:40]:
        event = Event.objects.get(content_type=dispensing_type, object_id=str(reversal.pk))
        assert event.reason in year.REASONS and event.at == reversal.dispensed_at
        assert reversal.total == -reversal.reverses.total and reversal.period == reversal.reverses.period
        assert not TraceCode.objects.filter(line__dispensing=reversal.reverses, released_at__isnull=True).exists()
        assert Dispensing.objects.filter(prescription=reversal.prescription, kind=Dispensing.Kind.NORMAL,
                                         dispensed_at__gt=reversal.dispensed_at).exists()
        assert reversal.prescription.status == Prescription.Status.DISPENSED


def _accumulators_are_the_sum_of_the_dispensings(loaded):
    """R-PAY-3: each patient's year accumulator is what the dispensings added (reversals subtracted); each
    dispensing starts from the running figures of the ones before it."""
    people = year.patient_id_numbers(TODAY)
    for usage in PatientYearUsage.objects.filter(person__id_number__in=people[:80]):
        rows = Dispensing.objects.filter(person_id=usage.person_id, dispensed_at__year=usage.year)
        fund = sum((d.fund_payment for d in rows), Decimal("0"))
        assert usage.fund_paid == fund and usage.dispensing_count == rows.filter(kind="normal").count() - \
            rows.filter(kind="reversal").count()
        running = Decimal("0")
        for d in rows.order_by("dispensed_at", "id"):
            assert d.fund_paid_before == running
            running += d.fund_payment
        for line in DispensingLine.objects.filter(dispensing__in=rows):
            assert line.unit_price <= line.payment_standard


def _every_past_month_settled_and_confirmed(loaded):
    """R-SET-1: a statement from the real settlement run for every pharmacy and every past month of the window,
    confirmed on the 5th of the next month at 10:00; November (its 5th not yet come) is a draft."""
    for code in ("P640500001", "P640500002", "P430100001"):
        periods = set(Statement.objects.filter(pharmacy__code=code, status=Statement.Status.CONFIRMED)
                      .values_list("period", flat=True))
        assert {dt.date(2025, 12, 1)} | {dt.date(2026, m, 1) for m in range(1, 11)} <= periods, (code, periods)
    assert not Statement.objects.filter(period=dt.date(2026, 11, 1), status=Statement.Status.CONFIRMED).exists()
    assert Statement.objects.filter(period=dt.date(2026, 11, 1), status=Statement.Status.DRAFT).exists()
    for statement in Statement.objects.filter(status=Statement.Status.CONFIRMED):
        local = timezone.localtime(statement.confirmed_at)
        assert (local.day, local.hour) == (5, 10) and local.date() > statement.period
    october = Statement.objects.get(pharmacy__code="P640500001", period=dt.date(2026, 10, 1))
    dispensed = Dispensing.objects.filter(pharmacy__code="P640500001", period=dt.date(2026, 10, 1))
    assert october.fund_payment == sum((d.fund_payment for d in dispensed), Decimal("0")) > 0


def _log_times_are_the_moments_they_describe(loaded):
    """Every event of a year dispensing is dated with the dispensing's own time; rows are created when they say;
    nothing is dated after "today"."""
    dispensing_type = ContentType.objects.get_for_model(Dispensing)
    by_pk = dict(Dispensing.objects.values_list("pk", "dispensed_at"))
    events = Event.objects.filter(content_type=dispensing_type)
    assert events.count() >= 3000
    for object_id, at in events.values_list("object_id", "at"):
        assert at == by_pk[int(object_id)]
    assert not Dispensing.objects.exclude(created_at=F("dispensed_at")).filter(
        person__id_number__in=year.patient_id_numbers(TODAY)).exists()
    year_types = [ContentType.objects.get_for_model(m) for m in (Application, Dispensing, Prescription, Statement,
                                                                StockMovement)]
    assert not Event.objects.filter(content_type__in=year_types, at__gt=loaded).exists()
    assert not LogEntry.objects.filter(content_type__in=year_types, timestamp__gt=loaded).exists()
    application = Application.objects.filter(person__id_number__in=year.patient_id_numbers(TODAY)).first()
    created = LogEntry.objects.get(content_type=ContentType.objects.get_for_model(Application),
                                   object_id=application.pk, action=LogEntry.Action.CREATE)
    assert created.timestamp == application.submitted_at == application.created_at


def _deterministic_and_loads_once(loaded):
    first, second = year.plan(TODAY), year.plan(TODAY)
    assert [(p.id_number, p.submitted, len(p.visits)) for p in first] == \
        [(p.id_number, p.submitted, len(p.visits)) for p in second]
    counts = (Application.objects.count(), Dispensing.objects.count(), Event.objects.count())
    year.load(today=TODAY, now=loaded)
    assert (Application.objects.count(), Dispensing.objects.count(), Event.objects.count()) == counts


# --------------------------------------------------------------------------------------------------------------
# Parity: the bulk writer and the services, on the same plan
# --------------------------------------------------------------------------------------------------------------

def _sample(patients):
    """Per region: approved patients (one with a reversal), a terminated one, and one of each other outcome."""
    out = []
    for region in year.REGIONS:
        mine = [p for p in patients if p.region == region]
        reversed_ = next(p for p in mine if any(v.reversal for v in p.visits))
        approved = [p for p in mine if p.outcome == "approved" and p.visits and p is not reversed_][:2]
        others = [next(p for p in mine if p.outcome == o) for o in ("rejected", "returned", "in_review")]
        out += [reversed_, *approved, *others]
        terminated = next((p for p in mine if p.terminated_on), None)
        if terminated is not None:
            out.append(terminated)
    return out


def _snapshot(people):
    """The rows a plan wrote, by natural keys (ids, random application numbers and content hashes that embed ids
    differ between the two runs and are left out)."""
    apps = Application.objects.filter(person__id_number__in=people).select_related("person")
    out = {}
    app_type = ContentType.objects.get_for_model(Application)
    for a in apps:
        out[("application", a.person.id_number)] = (
            a.status, a.current_stage, a.stage_received_on, a.stage_due_date, a.stage_due_provisional, a.valid_from,
            a.valid_until, a.decided_at, a.submitted_at, a.terminated_on, a.termination_reason, a.review_stages,
            a.dosage_form, a.therapeutic_area_id, a.institution_id, a.pharmacy_id, a.patient_phone,
            [(r.stage, r.decision, r.opinion, r.reviewer.username, r.decided_at, r.due_date, r.overdue,
              r.valid_until) for r in a.reviews.order_by("decided_at", "id")],
            [(e.action, e.actor_id, e.from_status, e.to_status, e.reason, e.at,
              {k: v for k, v in e.data.items() if k not in ("review", "number")})
             for e in Event.objects.filter(content_type=app_type, object_id=str(a.pk)).order_by("at", "id")])
        person = a.person
        out[("person", person.id_number)] = (person.name, person.sex, person.birth_date, person.insurance_type,
                                             person.insured_region_id, person.phone)
    rx_type = ContentType.objects.get_for_model(Prescription)
    for p in Prescription.objects.filter(person__id_number__in=people):
        out[("prescription", p.serial_no)] = (
            p.status, p.issued_at, p.expires_at, p.status_changed_at, p.delivery, p.care_setting, p.signature,
            p.physician_id, p.pharmacy_id, p.institution_id, p.uploaded_by_id,
            [(i.drug_id, i.quantity, i.days_supply) for i in p.items.all()],
            [(e.action, e.actor_id, e.from_status, e.to_status, e.reason, e.at, e.data)
             for e in Event.objects.filter(content_type=rx_type, object_id=str(p.pk)).order_by("at", "id")])
    d_type = ContentType.objects.get_for_model(Dispensing)
    figures = ("total", "first_self_pay", "in_scope", "deductible", "fund_payment", "personal_payment",
               "deductible_met_before", "fund_paid_before")
    for d in Dispensing.objects.filter(person__id_number__in=people).select_related("prescription"):
        out[("dispensing", d.prescription.serial_no, d.dispensed_at)] = (
            d.kind, d.period, d.policy_id, d.settlement, d.delivery, d.insurance_type, d.dispensed_by_id,
            [getattr(d, f) for f in figures],
            [(l.drug_id, l.quantity, l.unit_price, l.line_total, l.payment_standard, l.first_self_pay_ratio,
              l.reimbursement_ratio, l.first_self_pay, l.in_scope, l.fund_payment, l.personal_payment)
             for l in d.lines.order_by("id")],
            sorted((c.code, c.released_at) for c in TraceCode.objects.filter(line__dispensing=d)),
            [(e.action, e.actor_id, e.to_status, e.reason, e.at,
              {k: v for k, v in e.data.items() if k not in ("prescription", "reverses")})
             for e in Event.objects.filter(content_type=d_type, object_id=str(d.pk))])
    for u in PatientYearUsage.objects.filter(person__id_number__in=people).select_related("person"):
        out[("usage", u.person.id_number, u.year)] = (u.deductible_met, u.fund_paid, u.dispensing_count)
    pharmacies = {p.pharmacy for p in year.plan(TODAY) if p.id_number in people}
    s_type = ContentType.objects.get_for_model(StockMovement)
    for m in StockMovement.objects.filter(pharmacy__code__in=pharmacies):
        out[("stock", m.pharmacy_id, m.occurred_at)] = (
            m.drug_id, m.kind, m.quantity, m.unit_price, m.recorded_by_id,
            [(e.action, e.actor_id, e.at, e.data)
             for e in Event.objects.filter(content_type=s_type, object_id=str(m.pk))])
    return out


class _Rollback(Exception):
    pass


def test_r_pay_3_r_app_4_bulk_year_writes_what_the_services_write():
    """The same patients (every outcome, a reversal, a termination) written once by ``write_bulk`` and once by the
    services one call at a time: the same applications, reviews, due dates, prescriptions, dispensing figures,
    lines, codes, accumulators, purchases and events. The services' monitoring hook flags nothing on these clean
    rows, which is why the bulk writer has no hook to call."""
    now = moment_of(TODAY)
    regions.load(today=TODAY, now=now)
    catalogue.load(today=TODAY, now=now)
    users = {u.username: u for u in get_user_model().objects.select_related("pharmacy", "institution", "region")}
    sample = _sample(year.plan(TODAY))
    people = [p.id_number for p in sample]
    assert sum(len(p.visits) for p in sample) >= 20
    try:
        with transaction.atomic():
            year.write_bulk(sample, users=users, today=TODAY)
            bulk = _snapshot(people)
            raise _Rollback
    except _Rollback:
        pass
    assert not InsuredPerson.objects.filter(id_number__in=people).exists()
    alerts = Alert.objects.count()
    year.write_through_services(sample, users=users, today=TODAY)
    services = _snapshot(people)
    assert Alert.objects.count() == alerts
    assert bulk.keys() == services.keys()
    for key in services:
        assert bulk[key] == services[key], key
    assert any(k[0] == "dispensing" and v[0] == "reversal" for k, v in services.items())
    statuses = {v[0] for k, v in services.items() if k[0] == "application"}
    assert {"approved", "rejected", "returned", "in_review"} <= statuses
    written = [ContentType.objects.get_for_model(m) for m in (Application, Prescription, Dispensing, StockMovement)]
    assert not Event.objects.filter(content_type__in=written, at__gt=now).exists()
