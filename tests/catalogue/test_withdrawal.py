"""R-CAT-5 withdrawal: records the 第十七、十八条 ground and the date; from that date the drug is not listed."""
import datetime as dt

import pytest

from apps.catalogue import hooks, services
from apps.catalogue.models import Drug
from apps.catalogue.selectors import payment_standard_on
from apps.core.exceptions import ApplicationError
from apps.core.models import Event
from tests import factories as f

#: when the withdrawals are recorded (the service is given it; the clock is never read)
RECORDED = dt.datetime(2027, 2, 1, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))

pytestmark = pytest.mark.django_db


def test_r_cat_5_withdrawal_records_reason_date_and_actor_and_ends_the_listing():
    admin = f.system_admin()
    drug = f.DrugFactory()
    services.drug_withdraw(drug=drug, withdrawn_on=dt.date(2026, 9, 1), reason=Drug.WithdrawalReason.ZERO_USE,
                           note="2025 年度使用量为零", actor=admin, now=RECORDED)
    drug.refresh_from_db()
    assert (drug.withdrawn_on, drug.withdrawal_reason, drug.withdrawn_by) == (dt.date(2026, 9, 1), "18.4", admin)
    assert drug.is_listed_on(dt.date(2026, 8, 31)) and not drug.is_listed_on(dt.date(2026, 9, 1))
    assert payment_standard_on(drug=drug, on=dt.date(2026, 8, 31)) == drug.payment_standard
    with pytest.raises(ApplicationError) as exc:
        payment_standard_on(drug=drug, on=dt.date(2026, 9, 1))
    assert exc.value.code == "drug_not_listed"
    event = Event.objects.get(action="drug_withdrawn")
    assert event.actor == admin and "第十八条（四）" in event.reason


def test_r_cat_5_withdrawal_ends_active_applications_through_the_applications_service(monkeypatch):
    calls = []
    monkeypatch.setattr(hooks.drug_withdrawn, "handlers", [lambda **kw: calls.append(kw)])
    admin = f.system_admin()
    drug = f.DrugFactory()
    services.drug_withdraw(drug=drug, withdrawn_on=dt.date(2026, 9, 1), reason=Drug.WithdrawalReason.FRAUD,
                           actor=admin, now=RECORDED)
    assert len(calls) == 1
    assert calls[0]["drug"].pk == drug.pk and calls[0]["withdrawn_on"] == dt.date(2026, 9, 1)
    assert calls[0]["actor"] == admin and "第十七条（三）" in calls[0]["reason"]


def test_r_cat_5_withdrawal_twice_or_without_a_valid_ground_is_refused():
    admin = f.system_admin()
    drug = f.DrugFactory()
    with pytest.raises(ApplicationError):
        services.drug_withdraw(drug=drug, withdrawn_on=dt.date(2026, 9, 1), reason="99", actor=admin, now=RECORDED)
    with pytest.raises(ApplicationError):
        services.drug_withdraw(drug=drug, withdrawn_on=dt.date(2025, 9, 1), reason="17.1", actor=admin, now=RECORDED)
    services.drug_withdraw(drug=drug, withdrawn_on=dt.date(2026, 9, 1), reason="17.1", actor=admin, now=RECORDED)
    with pytest.raises(ApplicationError) as exc:
        services.drug_withdraw(drug=drug, withdrawn_on=dt.date(2026, 10, 1), reason="17.2", actor=admin, now=RECORDED)
    assert exc.value.code == "already_withdrawn"
    drug.refresh_from_db()
    assert drug.withdrawn_on == dt.date(2026, 9, 1) and drug.withdrawal_reason == "17.1"


def test_r_cat_5_withdraw_api_is_for_bureau_admins(api_as):
    drug = f.DrugFactory()
    body = {"withdrawn_on": "2026-09-01", "reason": "17.2", "note": "列入负面清单"}
    assert api_as(f.hospital_user()).post(f"/api/v1/drugs/{drug.code}/withdraw/", body).status_code == 403
    response = api_as(f.system_admin()).post(f"/api/v1/drugs/{drug.code}/withdraw/", body)
    assert response.status_code == 200
    assert response.json()["withdrawn_on"] == "2026-09-01" and response.json()["active"] is False


def test_r_cat_5_withdrawal_ends_the_active_application_end_to_end(zhongwei):
    from apps.applications.models import Application
    from tests.applications.factories import approve_through, setup_hospital, submit

    _institution, physician, _pharmacy, hospital = setup_hospital()
    drug = f.DrugFactory()
    approved = approve_through(submit(hospital, physician, seq=1), hospital, f.reviewer("640500"))
    services.drug_withdraw(drug=drug, withdrawn_on=dt.date(2027, 2, 1), reason=Drug.WithdrawalReason.APPROVAL_REVOKED,
                           actor=f.system_admin(), now=RECORDED)
    approved.refresh_from_db()
    assert approved.status == Application.Status.TERMINATED and approved.terminated_on == dt.date(2027, 2, 1)
    assert "第十七条（一）" in approved.termination_reason
