from django.utils import timezone
import datetime as dt

import pytest

from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus as S
from apps.pharmacies.selectors import pharmacies_flagged_for_exit
from apps.pharmacies.services import (
    pharmacy_admit, pharmacy_exit, pharmacy_revoke_licence, pharmacy_suspend, pharmacy_update,
)
from tests import factories as f

pytestmark = pytest.mark.django_db

AGREEMENT = {"agreement_no": "SXT-P-01", "agreement_start": dt.date(2026, 1, 1), "agreement_end": dt.date(2027, 12, 31)}


def applicant(**kw):
    return f.PharmacyFactory(**{"status": S.APPLIED, "agreement_start": None, "agreement_end": None, **kw})


@pytest.mark.parametrize("field, label", [
    ("has_business_licence", "具备营业执照"),
    ("has_dedicated_storage", "具备专门存储场所"),
    ("sells_at_or_below_price", "不高于谈判价格销售"),
    ("has_licensed_pharmacist", "配备执业药师"),
    ("traceability_capable", "可进行数据交换和电子追溯"),
    ("delivery_capable", "具备配送能力"),
    ("no_penalty_past_year", "近一年无医保或药监部门处罚"),
])
def test_r_pha_1_admission_refused_naming_the_failing_criterion(field, label):
    pharmacy = applicant(**{field: False})
    with pytest.raises(ApplicationError) as exc:
        pharmacy_admit(pharmacy=pharmacy, actor=f.bureau_admin(), now=timezone.now(), **AGREEMENT)
    assert exc.value.code == "criteria_not_met" and label in exc.value.message
    assert list(exc.value.fields) == [field]
    pharmacy.refresh_from_db()
    assert pharmacy.status == S.APPLIED


def test_r_pha_1_cold_storage_needed_only_when_stocking_cold_chain_drugs():
    admin = f.bureau_admin()
    cold = applicant(stocks_cold_chain=True, has_cold_storage=False)
    with pytest.raises(ApplicationError) as exc:
        pharmacy_admit(pharmacy=cold, actor=admin, now=timezone.now(), **AGREEMENT)
    assert "冷藏设施" in exc.value.message
    ambient = applicant(stocks_cold_chain=False, has_cold_storage=False)
    pharmacy_admit(pharmacy=ambient, actor=admin, now=timezone.now(), **AGREEMENT)
    assert ambient.status == S.ADMITTED
    events = list(events_for(ambient))
    assert events[0].action == "pharmacy_admitted" and events[0].actor == admin


def test_r_pha_2_lifecycle_and_licence_revocation_exits():
    admin = f.bureau_admin()
    pharmacy = f.PharmacyFactory()
    pharmacy_suspend(pharmacy=pharmacy, actor=admin, reason="追溯码上传异常", now=timezone.now())
    assert pharmacy.status == S.SUSPENDED
    pharmacy_revoke_licence(pharmacy=pharmacy, actor=admin, revoked_on=dt.date(2026, 6, 1), reason="药监吊销", now=timezone.now())
    pharmacy.refresh_from_db()
    assert pharmacy.status == S.EXITED and pharmacy.trading_licence_valid is False
    actions = [(e.action, e.to_status) for e in events_for(pharmacy).order_by("at", "id")]
    assert actions == [("pharmacy_suspended", "suspended"), ("pharmacy_licence_revoked", ""),
                       ("pharmacy_exited", "exited")]
    with pytest.raises(ApplicationError):
        pharmacy_exit(pharmacy=pharmacy, actor=admin, reason="again", now=timezone.now())


def test_r_pha_2_exit_flag_when_trading_licence_no_longer_valid():
    pharmacy = f.PharmacyFactory(trading_licence_valid=False)
    ok = f.PharmacyFactory()
    flags = {flag.organisation.pk: flag.reasons for flag in pharmacies_flagged_for_exit(today=dt.date(2026, 11, 25))}
    assert flags[pharmacy.pk] == ["不再符合纳入条件：药品经营许可有效"]
    assert ok.pk not in flags


def test_r_pha_2_status_is_not_editable_directly():
    pharmacy = f.PharmacyFactory()
    with pytest.raises(ApplicationError):
        pharmacy_update(pharmacy=pharmacy, actor=f.bureau_admin(), data={"status": S.EXITED})
    pharmacy.refresh_from_db()
    assert pharmacy.status == S.ADMITTED
