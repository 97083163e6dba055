"""R-PUB-1: a public page, without login, lists the designated institutions and pharmacies in service with the
diseases each can certify or treat and the negotiated drugs each stocks, with addresses; it follows the registry."""
import datetime as dt

import pytest
import time_machine
from django.test import Client

from apps.core.models import DesignationStatus
from apps.prescriptions.models import StockMovement
from apps.settlement import services
from tests import factories as f
from tests.prescriptions import factories as rx

pytestmark = pytest.mark.django_db


def test_r_pub_1_public_list_without_login(zhongwei):
    """An admitted certifying hospital (address 中卫市人民路1号) with a certifying oncology physician and an endocrine
    treating-only physician, stocking 奥希替尼（片剂）; a pharmacy with 5 packs bought and 2 returned of 奥希替尼 (3 on
    hand) and 0 of another drug (4 bought, 4 returned); a suspended pharmacy; a Changsha pharmacy. Anonymous GET with
    ?region=640500 → 200, lists the hospital (certifies 肿瘤, treats 内分泌与代谢 and 肿瘤, stocks 奥希替尼（片剂）) and the
    pharmacy with 奥希替尼（片剂） only; not the suspended one nor Changsha's. Suspending the hospital removes it at
    once."""
    rx.ensure_areas()
    drug = f.DrugFactory(agreement_start=dt.date(2025, 1, 1))
    other = f.DrugFactory(generic_name="信迪利单抗", dosage_form="注射剂", route="injection")
    hospital = f.InstitutionFactory(name="中卫市人民医院", address="中卫市人民路1号")
    f.PhysicianFactory(institution=hospital, is_certifying=True, areas=["oncology"])
    f.PhysicianFactory(institution=hospital, is_certifying=False, areas=["endocrine"])
    services.stocking_report_create(institution=hospital, drug=drug, kind="formal", listed_on=dt.date(2026, 1, 10))
    pharmacy = f.PharmacyFactory(name="中卫大药房", address="中卫市鼓楼街2号")
    for d, kind, n in ((drug, "purchase", 5), (drug, "return", 2), (other, "purchase", 4), (other, "return", 4)):
        StockMovement.objects.create(pharmacy=pharmacy, drug=d, kind=kind, quantity=n, unit_price="900.00",
                                     occurred_at=rx.at(dt.date(2026, 11, 2)))
    f.PharmacyFactory(name="暂停药房", status=DesignationStatus.SUSPENDED)
    f.PharmacyFactory(name="长沙药房", region=f.region("430104"))
    with time_machine.travel(rx.at(dt.date(2026, 11, 25)), tick=False):
        html = Client().get("/settlement/public/designated/?region=640500").content.decode()
    assert "中卫市人民医院" in html and "中卫市人民路1号" in html and "中卫大药房" in html and "中卫市鼓楼街2号" in html
    assert "暂停药房" not in html and "长沙药房" not in html
    row = html.split("中卫市人民医院", 1)[1].split("</tr>", 1)[0]
    assert "<td>肿瘤</td>" in row and "内分泌与代谢、肿瘤" in row and "奥希替尼（片剂）" in row
    pharmacy_row = html.split("中卫大药房", 1)[1].split("</tr>", 1)[0]
    assert "奥希替尼（片剂）" in pharmacy_row and "信迪利单抗" not in pharmacy_row
    hospital.status = DesignationStatus.SUSPENDED
    hospital.save(update_fields=["status"])
    with time_machine.travel(rx.at(dt.date(2026, 11, 25)), tick=False):
        assert "中卫市人民医院" not in Client().get("/settlement/public/designated/").content.decode()
