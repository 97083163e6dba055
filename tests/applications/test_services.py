"""Service tests per rule: insured persons, submission, the review chain, deadlines, validity, withdrawal."""
from django.utils import timezone
import datetime as dt

import pytest

from apps.applications import selectors, services
from apps.applications.models import Application, InsuredPerson, Stage
from apps.catalogue import hooks
from apps.catalogue import services as catalogue_services
from apps.catalogue.models import Drug
from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from tests import factories as f
from tests.applications.factories import NOW, approve_through, setup_hospital, submit, stage_actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(zhongwei):
    institution, physician, pharmacy, hospital = setup_hospital()
    drug = f.DrugFactory()
    reviewer = f.reviewer("640500")
    return {"institution": institution, "physician": physician, "pharmacy": pharmacy, "hospital": hospital,
            "drug": drug, "reviewer": reviewer}


# --- R-APP-3 ----------------------------------------------------------------------------------------------------

def test_r_app_3_person_created_with_sex_and_birth_from_id(zhongwei):
    number = f.id_number(birth=dt.date(1980, 1, 1), seq=3, female=True)
    person = services.insured_person_upsert(name="李四", id_number=number, insurance_type="resident",
                                            insured_region_code="640500", sex="female", age=46,
                                            today=dt.date(2026, 11, 2))
    assert person.sex == "female" and person.birth_date == dt.date(1980, 1, 1)
    assert person.insured_region.code == "640500"


def test_r_app_3_bad_check_digit_refused_and_nothing_written(zhongwei):
    number = f.id_number(seq=4)
    wrong = number[:17] + ("0" if number[17] != "0" else "1")
    with pytest.raises(ApplicationError) as exc:
        services.insured_person_upsert(name="王五", id_number=wrong, insurance_type="employee",
                                       insured_region_code="640500", today=timezone.localdate())
    assert exc.value.code == "invalid_id_number"
    assert InsuredPerson.objects.count() == 0


@pytest.mark.parametrize("kw", [{"sex": "female"}, {"age": 30}])
def test_r_app_3_sex_or_age_disagreeing_with_id_refused(zhongwei, kw):
    with pytest.raises(ApplicationError) as exc:
        services.insured_person_upsert(name="王五", id_number=f.id_number(seq=5), insurance_type="employee",
                                       insured_region_code="640500", today=dt.date(2026, 11, 2), **kw)
    assert exc.value.code == "invalid_id_number"
    assert InsuredPerson.objects.count() == 0


def test_r_app_2_one_person_per_id_number_updated_in_place(zhongwei):
    number = f.id_number(seq=6)
    first = services.insured_person_upsert(name="赵六", id_number=number, insurance_type="employee",
                                           insured_region_code="640500", phone="13900000001", today=timezone.localdate())
    second = services.insured_person_upsert(name="赵六", id_number=number, insurance_type="resident",
                                            insured_region_code="640500", phone="13900000002", today=timezone.localdate())
    assert first.pk == second.pk and InsuredPerson.objects.count() == 1
    second.refresh_from_db()
    assert second.insurance_type == "resident" and second.phone == "13900000002"


# --- R-APP-6 / R-APP-7 / R-CAT-6 coverage -----------------------------------------------------------------------

def test_r_app_6_approval_valid_until_31_december_of_next_year(world):
    app = submit(world["hospital"], world["physician"])
    app = approve_through(app, world["hospital"], world["reviewer"])
    assert app.status == Application.Status.APPROVED
    assert app.valid_from == dt.date(2026, 11, 2)
    assert app.valid_until == dt.date(2027, 12, 31)


def test_r_app_6_reviewer_sets_earlier_end(world):
    app = submit(world["hospital"], world["physician"])
    app = approve_through(app, world["hospital"], world["reviewer"], valid_until=dt.date(2027, 3, 31))
    assert app.valid_until == dt.date(2027, 3, 31)
    assert app.reviews.get(stage=Stage.BUREAU).valid_until == dt.date(2027, 3, 31)


def test_r_app_6_end_beyond_two_natural_years_refused(world):
    app = submit(world["hospital"], world["physician"])
    for _ in range(3):
        app = services.application_decide(application=app, actor=stage_actor(app), decision="approve", now=NOW)
    with pytest.raises(ApplicationError) as exc:
        services.application_decide(application=app, actor=world["reviewer"], decision="approve",
                                    valid_until=dt.date(2028, 1, 1), now=NOW)
    assert exc.value.code == "invalid"
    app.refresh_from_db()
    assert app.status == Application.Status.IN_REVIEW and app.current_stage == Stage.BUREAU


def test_r_app_1_covering_only_approved_within_validity(world):
    app = submit(world["hospital"], world["physician"])
    person = app.person
    assert selectors.application_covering(person=person, generic_name="奥希替尼", on=dt.date(2026, 11, 3)) is None
    app = approve_through(app, world["hospital"], world["reviewer"])
    assert selectors.application_covering(person=person, generic_name="奥希替尼", on=dt.date(2026, 11, 3)) == app
    assert selectors.application_covering(person=person, generic_name="奥希替尼", on=dt.date(2026, 11, 1)) is None
    assert selectors.application_covering(person=person, generic_name="奥希替尼", on=dt.date(2028, 1, 1)) is None


def test_r_cat_6_manufacturer_switch_covered_by_same_application(world):
    app = approve_through(submit(world["hospital"], world["physician"]), world["hospital"], world["reviewer"])
    other = f.DrugFactory(manufacturer="另一家制药有限公司")  # same generic, same dosage form
    assert selectors.application_covering(person=app.person, generic_name=other.generic_name,
                                          on=dt.date(2026, 12, 1)) == app


def test_r_app_7_second_drug_needs_its_own_application(world):
    app = approve_through(submit(world["hospital"], world["physician"]), world["hospital"], world["reviewer"])
    f.DrugFactory(generic_name="吉非替尼")
    assert selectors.application_covering(person=app.person, generic_name="吉非替尼", on=dt.date(2026, 12, 1)) is None
    second = submit(world["hospital"], world["physician"], generic_name="吉非替尼")
    assert second.generic_name == "吉非替尼" and second.person == app.person


def test_r_app_7_second_application_for_same_generic_refused(world):
    submit(world["hospital"], world["physician"])
    with pytest.raises(ApplicationError) as exc:
        submit(world["hospital"], world["physician"])
    assert exc.value.code == "duplicate_application" and exc.value.status == 409
    assert Application.objects.count() == 1


# --- R-CAT-5 ----------------------------------------------------------------------------------------------------

def test_r_cat_5_withdrawal_terminates_active_applications_with_reason(world):
    approved = approve_through(submit(world["hospital"], world["physician"], seq=1), world["hospital"],
                               world["reviewer"])
    pending = submit(world["hospital"], world["physician"], seq=2)
    rejected = submit(world["hospital"], world["physician"], seq=3)
    rejected = services.application_decide(application=rejected, actor=stage_actor(rejected), decision="reject",
                                           opinion="不符合用药指征", now=NOW)
    other_drug = f.DrugFactory(generic_name="阿来替尼")
    other = submit(world["hospital"], world["physician"], seq=4, generic_name="阿来替尼")
    withdrawn_on = dt.date(2027, 2, 1)
    drug = world["drug"]
    drug.withdrawn_on = withdrawn_on
    drug.save()

    count = services.application_terminate_for_drug_withdrawal(drug=drug, withdrawn_on=withdrawn_on,
                                                               reason="第十七条（一）批准证明文件被注销",
                                                               actor=world["reviewer"])

    assert count == 2
    for app in (approved, pending):
        app.refresh_from_db()
        assert app.status == Application.Status.TERMINATED
        assert app.terminated_on == withdrawn_on
        assert app.termination_reason == "第十七条（一）批准证明文件被注销"
        assert events_for(app).filter(action="application_terminated").exists()
    rejected.refresh_from_db()
    other.refresh_from_db()
    assert rejected.status == Application.Status.REJECTED and other.status == Application.Status.SUBMITTED
    assert other_drug.generic_name == other.generic_name
    # covered before the withdrawal date, not on or after it
    assert selectors.application_covering(person=approved.person, generic_name="奥希替尼",
                                          on=dt.date(2027, 1, 31)) == approved
    assert selectors.application_covering(person=approved.person, generic_name="奥希替尼", on=withdrawn_on) is None


def test_r_cat_6_withdrawing_one_manufacturer_keeps_applications_when_generic_still_listed(world):
    approved = approve_through(submit(world["hospital"], world["physician"]), world["hospital"], world["reviewer"])
    f.DrugFactory(manufacturer="另一家制药有限公司")
    count = services.application_terminate_for_drug_withdrawal(drug=world["drug"], withdrawn_on=dt.date(2027, 2, 1),
                                                               reason="调出", actor=world["reviewer"])
    approved.refresh_from_db()
    assert count == 0 and approved.status == Application.Status.APPROVED


def test_r_cat_5_catalogue_withdrawal_reaches_the_applications_rule_through_its_hook(world):
    """The catalogue (a lower layer) withdraws the drug through its own service; the applications app registered
    ``application_terminate_for_drug_withdrawal`` on ``catalogue.hooks.drug_withdrawn`` in ready(), so the
    open application ends on the withdrawal date with the 第十七条（三） ground in its reason."""
    assert services.application_terminate_for_drug_withdrawal in hooks.drug_withdrawn.handlers
    pending = submit(world["hospital"], world["physician"], seq=7)
    catalogue_services.drug_withdraw(drug=world["drug"], withdrawn_on=dt.date(2026, 12, 1),
                                     reason=Drug.WithdrawalReason.FRAUD, actor=f.system_admin(), now=NOW)
    pending.refresh_from_db()
    assert pending.status == Application.Status.TERMINATED and pending.terminated_on == dt.date(2026, 12, 1)
    assert "第十七条（三）" in pending.termination_reason
