"""Issue 15 item 14: a year of work per demo region — deterministic, through the services, with review times
inside the stage limit, reversals with their reason, past months settled and confirmed, and log rows dated with
the moments they describe."""
import datetime as dt

import pytest
from auditlog.models import LogEntry
from django.contrib.contenttypes.models import ContentType
from django.db.models.functions import TruncMonth

from apps.applications.models import Application, ApplicationReview
from apps.core.models import Event
from apps.demo import catalogue, regions, year
from apps.demo.loader import moment_of
from apps.prescriptions.models import Dispensing, Prescription
from apps.settlement.models import Statement

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 1)


def test_r_app_5_r_rx_6_r_set_1_demo_year_of_work():
    """One load (it is the expensive part), then each property of the year."""
    now = moment_of(TODAY)
    for step in (regions, catalogue, year):
        step.load(today=TODAY, now=now)
    for check in (_months_of_activity_in_every_region, _reviews_meet_the_stage_limit,
                  _reversals_have_a_reason_and_are_redispensed, _past_months_confirmed_last_one_draft,
                  _log_times_are_the_moments_they_describe, _deterministic_and_loads_once):
        check(now)


def _months_of_activity_in_every_region(loaded):
    people = set(year.patient_id_numbers(TODAY))
    applications = Application.objects.filter(person__id_number__in=people)
    assert len(people) == 200 and applications.count() == 200
    assert {"approved", "rejected", "returned", "in_review"} <= set(applications.values_list("status", flat=True))
    for prefix in ("64", "43"):
        dispensings = Dispensing.objects.filter(pharmacy__region__code__startswith=prefix, person__id_number__in=people)
        months = {d.month for d in dispensings.annotate(m=TruncMonth("dispensed_at")).values_list("m", flat=True)}
        assert len(months) >= 10, (prefix, sorted(months))
        assert dispensings.filter(kind=Dispensing.Kind.NORMAL).count() >= 300
    assert Dispensing.objects.filter(kind=Dispensing.Kind.REVERSAL).count() >= 20


def _reviews_meet_the_stage_limit(loaded):
    """R-APP-5."""
    reviews = ApplicationReview.objects.filter(application__person__id_number__in=year.patient_id_numbers(TODAY))
    assert reviews.count() >= 400 and not reviews.filter(overdue=True).exists()


def _reversals_have_a_reason_and_are_redispensed(loaded):
    """R-RX-6."""
    reversals = Dispensing.objects.filter(kind=Dispensing.Kind.REVERSAL)
    dispensing_type = ContentType.objects.get_for_model(Dispensing)
    for reversal in reversals:
        event = Event.objects.get(content_type=dispensing_type, object_id=str(reversal.pk))
        assert event.reason in year.REASONS
        assert Dispensing.objects.filter(prescription=reversal.prescription, kind=Dispensing.Kind.NORMAL,
                                         dispensed_at__gt=reversal.dispensed_at).exists()


def _past_months_confirmed_last_one_draft(loaded):
    """R-SET-1."""
    confirmed = Statement.objects.filter(status=Statement.Status.CONFIRMED)
    periods = set(confirmed.values_list("period", flat=True))
    assert dt.date(2026, 1, 1) in periods and dt.date(2026, 10, 1) in periods
    assert not Statement.objects.filter(period=dt.date(2026, 11, 1), status=Statement.Status.CONFIRMED).exists()
    for statement in confirmed:  # confirmed on the 5th of the next month, at 10:00
        local = statement.confirmed_at.astimezone(moment_of(TODAY).tzinfo)
        assert (local.day, local.hour) == (5, 10) and local.date() > statement.period


def _log_times_are_the_moments_they_describe(loaded):
    """Every event of a demo dispensing is dated with the dispensing's own time; nothing after "today"."""
    dispensing_type = ContentType.objects.get_for_model(Dispensing)
    by_pk = dict(Dispensing.objects.values_list("pk", "dispensed_at"))
    events = Event.objects.filter(content_type=dispensing_type)
    assert events.count() >= 900
    for object_id, at in events.values_list("object_id", "at"):
        assert at == by_pk[int(object_id)]
    # the year's rows (applications, prescriptions, dispensings, statements): nothing dated after "today"
    year_types = [ContentType.objects.get_for_model(m) for m in (Application, Dispensing, Prescription, Statement)]
    assert not Event.objects.filter(content_type__in=year_types, at__gt=loaded).exists()
    assert not LogEntry.objects.filter(content_type__in=year_types, timestamp__gt=loaded).exists()


def _deterministic_and_loads_once(loaded):
    assert year.patient_id_numbers(TODAY) == year.patient_id_numbers(TODAY)
    counts = (Application.objects.count(), Dispensing.objects.count(), Event.objects.count())
    year.load(today=TODAY, now=loaded)
    assert (Application.objects.count(), Dispensing.objects.count(), Event.objects.count()) == counts
