"""The review chain in detail: configurable stages (R-APP-4), append-only decisions, deadlines in working
days (R-APP-5), expiry (R-APP-6), filing after first use (R-APP-10), physician area (R-APP-8), termination."""
import datetime as dt

import pytest
from django.utils import timezone

from apps.applications import selectors, services, tasks
from apps.applications.models import Application, ApplicationReview, Stage
from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.models import CalendarDay, RegionSettings
from tests import factories as f
from tests.applications.factories import NOW, approve_through, setup_hospital, submit, stage_actor

pytestmark = pytest.mark.django_db


def at(day: dt.date, hour=10):
    return timezone.make_aware(dt.datetime.combine(day, dt.time(hour)))


@pytest.fixture
def world(zhongwei):
    institution, physician, pharmacy, hospital = setup_hospital()
    f.DrugFactory()
    return {"institution": institution, "physician": physician, "pharmacy": pharmacy, "hospital": hospital,
            "reviewer": f.reviewer("640500")}


def test_r_app_4_region_configures_stages(world):
    RegionSettings.objects.create(region=f.region("640500"), review_stages=["insurance_office", "bureau"])
    app = submit(world["hospital"], world["physician"])
    assert app.review_stages == ["insurance_office", "bureau"] and app.current_stage == Stage.INSURANCE_OFFICE
    app = services.application_decide(application=app, actor=stage_actor(app), decision="approve", now=NOW)
    assert app.current_stage == Stage.BUREAU


def test_r_app_4_each_decision_records_who_when_opinion_and_is_append_only(world):
    app = submit(world["hospital"], world["physician"])
    app = services.application_decide(application=app, actor=stage_actor(app), decision="approve",
                                      opinion="签名确认", now=NOW)
    review = app.reviews.get()
    assert (review.stage, review.decision, review.opinion, review.reviewer, review.decided_at) == (
        Stage.PHYSICIAN, "approve", "签名确认", world["physician"].user, NOW)
    review.opinion = "改过的意见"
    with pytest.raises(ValueError):
        review.save()
    with pytest.raises(ValueError):
        review.delete()
    assert ApplicationReview.objects.get(pk=review.pk).opinion == "签名确认"
    assert events_for(app).filter(action="application_approve").exists()


def test_r_app_4_return_from_bureau_restarts_chain_at_physician(world):
    app = submit(world["hospital"], world["physician"])
    for _ in range(3):
        app = services.application_decide(application=app, actor=stage_actor(app), decision="approve", now=NOW)
    app = services.application_decide(application=app, actor=world["reviewer"], decision="return",
                                      opinion="补充病理报告", now=NOW)
    assert app.status == Application.Status.RETURNED and app.current_stage == Stage.PHYSICIAN
    with pytest.raises(ApplicationError):
        services.application_resubmit(application=app, actor=world["reviewer"], now=timezone.now())
    app = services.application_resubmit(application=app, actor=world["hospital"], note="已补充", now=NOW)
    assert app.status == Application.Status.SUBMITTED and app.stage_due_date is not None
    app = approve_through(app, world["hospital"], world["reviewer"])
    assert app.status == Application.Status.APPROVED
    assert list(app.reviews.values_list("decision", flat=True)) == [
        "approve", "approve", "approve", "return", "resubmit", "approve", "approve", "approve", "approve"]


def test_r_app_5_bureau_due_in_15_working_days_skipping_holidays(world):
    # given a holiday week and a make-up working day (调休)
    for day in range(1, 8):
        CalendarDay.objects.update_or_create(date=dt.date(2026, 10, day), defaults={"kind": "holiday"})
    CalendarDay.objects.update_or_create(date=dt.date(2026, 10, 10), defaults={"kind": "workday"})
    app = submit(world["hospital"], world["physician"], now=at(dt.date(2026, 9, 29)))
    for _ in range(3):
        app = services.application_decide(application=app, actor=stage_actor(app), decision="approve",
                                          now=at(dt.date(2026, 9, 30)))
    # received 30 Sep; working days: 8, 9, 10 (调休), 12..16, 19..23, 26, 27 → the 15th is 27 Oct
    assert app.stage_received_on == dt.date(2026, 9, 30)
    assert app.stage_due_date == dt.date(2026, 10, 27)


def test_r_app_5_insurance_office_due_next_working_day(world):
    app = submit(world["hospital"], world["physician"], now=at(dt.date(2026, 11, 6)))  # a Friday
    assert app.stage_due_date == dt.date(2026, 11, 9)  # Monday


def test_r_app_5_overdue_flagged_in_queue_and_review(world):
    late = submit(world["hospital"], world["physician"], seq=1, now=at(dt.date(2026, 10, 12)))
    fresh = submit(world["hospital"], world["physician"], seq=2, now=at(dt.date(2026, 11, 2)))
    for app in (late, fresh):
        for _ in range(3):
            app = services.application_decide(application=app, actor=stage_actor(app), decision="approve",
                                              now=at(app.applied_on))
    today = dt.date(2026, 11, 5)
    queue = list(selectors.review_queue_for(world["reviewer"], today=today))
    assert [a.pk for a in queue] == [late.pk, fresh.pk]
    assert queue[0].urgency == 0 and queue[1].urgency == 2
    counts = selectors.queue_counts(world["reviewer"], today=today)
    assert counts["waiting"] == 2 and counts["overdue"] == 1
    late.refresh_from_db()
    decided = services.application_decide(application=late, actor=world["reviewer"], decision="approve",
                                          now=at(today))
    assert decided.reviews.get(stage=Stage.BUREAU).overdue is True


def test_r_app_6_expiry_task_is_idempotent(world):
    app = approve_through(submit(world["hospital"], world["physician"]), world["hospital"], world["reviewer"],
                          valid_until=dt.date(2026, 12, 31))
    assert services.application_expire_due(today=dt.date(2026, 12, 31)) == 0
    assert services.application_expire_due(today=dt.date(2027, 1, 1)) == 1
    assert services.application_expire_due(today=dt.date(2027, 1, 1)) == 0
    app.refresh_from_db()
    assert app.status == Application.Status.EXPIRED
    assert tasks.expire_applications.run() == 0
    # expired later: still covers the days it was valid
    assert selectors.application_covering(person=app.person, generic_name="奥希替尼", on=dt.date(2026, 12, 1)) == app


def test_r_app_10_filing_after_first_use_only_where_region_allows(world):
    first_use = dt.date(2026, 10, 20)
    with pytest.raises(ApplicationError) as exc:
        submit(world["hospital"], world["physician"], first_use_on=first_use)
    assert exc.value.code == "filing_after_first_use_not_allowed"
    RegionSettings.objects.create(region=f.region("640500"), filing_after_first_use=True)
    app = approve_through(submit(world["hospital"], world["physician"], first_use_on=first_use),
                          world["hospital"], world["reviewer"])
    assert app.valid_from == first_use
    assert selectors.filing_after_first_use_allowed(app.person)
    assert selectors.application_covering(person=app.person, generic_name="奥希替尼", on=first_use) == app


def test_r_app_8_application_records_drug_area(world):
    app = submit(world["hospital"], world["physician"])
    assert app.therapeutic_area.code == "oncology"
    endocrine = f.PhysicianFactory(institution=world["institution"], areas=["endocrine"])
    with pytest.raises(ApplicationError) as exc:
        submit(world["hospital"], endocrine, seq=2)
    assert exc.value.code == "therapeutic_area_mismatch"


def test_bureau_terminates_approved_application_with_reason(world):
    app = approve_through(submit(world["hospital"], world["physician"]), world["hospital"], world["reviewer"])
    with pytest.raises(ApplicationError) as exc:
        services.application_terminate(application=app, actor=world["hospital"], reason="x", today=timezone.localdate())
    assert exc.value.status == 403
    app = services.application_terminate(application=app, actor=world["reviewer"], reason="参保关系转出",
                                         on=dt.date(2027, 1, 10), today=timezone.localdate())
    assert app.status == Application.Status.TERMINATED and app.termination_reason == "参保关系转出"
    assert selectors.application_covering(person=app.person, generic_name="奥希替尼", on=dt.date(2027, 1, 10)) is None
    assert selectors.application_covering(person=app.person, generic_name="奥希替尼", on=dt.date(2027, 1, 9)) == app


def test_r_cat_5_through_catalogue_withdrawal(world):
    from apps.catalogue.services import drug_withdraw

    app = approve_through(submit(world["hospital"], world["physician"]), world["hospital"], world["reviewer"])
    drug = f.DrugFactory._meta.model.objects.get(generic_name="奥希替尼")
    drug_withdraw(drug=drug, withdrawn_on=dt.date(2027, 3, 1), reason="17.1", note="批准证明文件被注销",
                  actor=f.system_admin(), now=NOW)
    app.refresh_from_db()
    assert app.status == Application.Status.TERMINATED and app.terminated_on == dt.date(2027, 3, 1)
    assert "药品调出目录" in app.termination_reason
    assert events_for(app).get(action="application_terminated").reason == app.termination_reason
