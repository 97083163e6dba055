"""R-SET-2: prescriptions vs dispensings vs stock, organisations' own totals, the ward-delivery statement."""
import datetime as dt
from decimal import Decimal
from io import BytesIO

import pytest
from openpyxl import Workbook

from apps.core.events import EventAction
from apps.core.exceptions import ApplicationError
from apps.core.models import Event
from apps.prescriptions.models import Delivery, DispensingLine, Prescription, StockMovement
from apps.settlement import services
from apps.settlement.models import ReconciliationDifference, ReportedTotal
from apps.settlement.selectors import reconciliation_findings, reported_comparison, ward_delivery_statements
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

NOV = dt.date(2026, 11, 1)
TZ = sf.TZ
Kind = ReconciliationDifference.Kind


def stock(pharmacy, drug, purchased, returned=0):
    at = dt.datetime(2026, 10, 20, 9, 0, tzinfo=TZ)
    StockMovement.objects.create(pharmacy=pharmacy, drug=drug, kind="purchase", quantity=purchased,
                                 unit_price=Decimal("900.00"), occurred_at=at)
    if returned:
        StockMovement.objects.create(pharmacy=pharmacy, drug=drug, kind="return", quantity=returned,
                                     unit_price=Decimal("900.00"), occurred_at=at)


@pytest.fixture
def month(zhongwei):
    h = f.InstitutionFactory()
    p, other, short = f.PharmacyFactory(), f.PharmacyFactory(), f.PharmacyFactory()
    drug = f.DrugFactory()  # payment standard 1000.00
    stock(p, drug, 100)
    stock(other, drug, 100)
    stock(short, drug, 5, returned=1)  # net 4
    data = {"h": h, "p": p, "other": other, "short": short, "drug": drug}
    data["fine"] = sf.dispensing(pharmacy=p, institution=h, drug=drug, quantity=2)
    data["cancelled"] = sf.dispensing(pharmacy=p, institution=h, drug=drug, quantity=1,
                                      rx_status=Prescription.Status.CANCELLED)
    wrong_pharmacy_rx = sf.prescription(institution=h, pharmacy=other, drug=drug, quantity=1)
    data["elsewhere"] = sf.dispensing(pharmacy=p, institution=h, drug=drug, quantity=1, rx=wrong_pharmacy_rx)
    data["more"] = sf.dispensing(pharmacy=p, institution=h, drug=drug, quantity=3, rx_quantity=2)
    data["dear"] = sf.dispensing(pharmacy=p, institution=h, drug=drug, quantity=1, unit_price="1200.00")
    data["bad_total"] = sf.dispensing(pharmacy=p, institution=h, drug=drug, quantity=2)
    DispensingLine.objects.filter(dispensing=data["bad_total"]).update(line_total=Decimal("1950.00"))
    data["expired"] = sf.prescription(institution=h, pharmacy=p, drug=drug, status=Prescription.Status.EXPIRED,
                                      issued_at=dt.datetime(2026, 11, 5, 9, 0, tzinfo=TZ))
    data["stale"] = sf.prescription(institution=h, pharmacy=p, drug=drug, status=Prescription.Status.FLOWED,
                                    issued_at=dt.datetime(2026, 11, 10, 9, 0, tzinfo=TZ))
    # flowed on the 29th, still valid after the month ends: not a difference yet
    sf.prescription(institution=h, pharmacy=p, drug=drug, status=Prescription.Status.FLOWED,
                    issued_at=dt.datetime(2026, 11, 29, 9, 0, tzinfo=TZ))
    sf.dispensing(pharmacy=short, institution=h, drug=drug, quantity=3)
    sf.dispensing(pharmacy=short, institution=h, drug=drug, quantity=2)  # 5 sold > 4 bought
    return data


def _by_kind(findings):
    out = {}
    for finding in findings:
        out.setdefault(finding["kind"], set()).add(finding["key"])
    return out


def test_r_set_2_every_mismatch_kind_is_found(month):
    found = _by_kind(reconciliation_findings(period=NOV))
    drug = month["drug"].pk
    assert found[Kind.NO_FLOWED_PRESCRIPTION] == {f"d{month['cancelled'].pk}", f"d{month['elsewhere'].pk}"}
    assert found[Kind.QUANTITY_MISMATCH] == {f"d{month['more'].pk}-{drug}"}
    assert found[Kind.PRICE_MISMATCH] == {f"d{month['dear'].pk}-{drug}", f"d{month['bad_total'].pk}-{drug}"}
    assert found[Kind.NEVER_DISPENSED] == {f"rx{month['expired'].pk}", f"rx{month['stale'].pk}"}
    assert found[Kind.SALES_EXCEED_PURCHASES] == {f"p{month['short'].pk}-{drug}"}
    assert Kind.REPORTED_TOTAL_MISMATCH not in found  # nobody reported yet
    flat = [x for x in reconciliation_findings(period=NOV) if x["kind"] == Kind.QUANTITY_MISMATCH][0]
    assert (flat["expected"], flat["actual"]) == (Decimal(2), Decimal(3))
    sales = [x for x in reconciliation_findings(period=NOV) if x["kind"] == Kind.SALES_EXCEED_PURCHASES][0]
    assert (sales["expected"], sales["actual"]) == (Decimal(4), Decimal(5))
    # the correct dispensing raises nothing
    assert not any(month["fine"].pk == x.get("dispensing_id") for x in reconciliation_findings(period=NOV))


def test_r_set_2_reversed_dispensing_is_not_a_difference(month):
    sf.reversal(month["more"], period=NOV)
    found = _by_kind(reconciliation_findings(period=NOV))
    assert Kind.QUANTITY_MISMATCH not in found


def test_r_set_2_run_stores_differences_and_keeps_resolved_ones(month):
    counts = services.reconciliation_run(period=NOV, now=sf.AT)
    assert counts[Kind.NO_FLOWED_PRESCRIPTION] == 2 and counts[Kind.NEVER_DISPENSED] == 2
    total = ReconciliationDifference.objects.count()
    assert total == sum(counts.values()) == 8
    resolved = ReconciliationDifference.objects.get(kind=Kind.SALES_EXCEED_PURCHASES)
    services.reconciliation_difference_resolve(difference=resolved, resolution="补录进货单", actor=f.reviewer(), now=sf.AT)
    with pytest.raises(ApplicationError):
        services.reconciliation_difference_resolve(difference=resolved, resolution="again", actor=f.reviewer(), now=sf.AT)

    services.reconciliation_run(period=NOV, now=sf.AT)  # rerun: same open ones, the resolved one not raised again
    assert ReconciliationDifference.objects.count() == total
    assert ReconciliationDifference.objects.get(pk=resolved.pk).status == "resolved"
    # fixing the data removes the open difference on the next run
    Prescription.objects.filter(pk=month["stale"].pk).update(status=Prescription.Status.CANCELLED)
    services.reconciliation_run(period=NOV, now=sf.AT)
    assert not ReconciliationDifference.objects.filter(kind=Kind.NEVER_DISPENSED, key=f"rx{month['stale'].pk}").exists()


def test_r_sec_3_reconciliation_run_writes_an_event_with_its_counts(month):
    """R-SET-2 / R-SEC-3: a run is recorded like every other change: one ``reconciliation_run`` event keyed by the
    month, with who ran it and the open differences by kind (the same counts the run returns)."""
    reviewer = f.reviewer()
    counts = services.reconciliation_run(period=NOV, now=sf.AT, actor=reviewer)
    event = Event.objects.get(action=EventAction.RECONCILIATION_RUN)
    assert event.object_id == "2026-11-01" and event.actor == reviewer
    assert event.data["open"] == {str(k): v for k, v in counts.items()}


def test_r_set_2_reported_totals_compared_line_by_line(month, api_as):
    other = month["other"]
    second = f.DrugFactory(generic_name="阿美替尼")
    sf.dispensing(pharmacy=other, institution=month["h"], drug=month["drug"], quantity=2)  # 1960.00, fund 1323.00
    client = api_as(f.pharmacy_user(pharmacy=other))
    response = client.post("/api/v1/reconciliation/reported-totals/", {"period": "2026-11", "rows": [
        {"drug_code": month["drug"].code, "quantity": 2, "total": "1960.00", "fund_payment": "1300.00"},
        {"drug_code": second.code, "quantity": 1, "total": "500.00", "fund_payment": "375.00"},
    ]}, format="json")
    assert response.status_code == 201
    rows = {r["drug_code"]: r for r in response.json()["rows"]}
    first = rows[month["drug"].code]
    assert (first["system_quantity"], first["reported_quantity"], first["fund_payment_difference"]) == (2, 2, "-23.00")
    assert not first["matches"]
    extra = rows[second.code]
    assert (extra["in_system"], extra["reported"], extra["total_difference"]) == (False, True, "500.00")

    found = _by_kind(reconciliation_findings(period=NOV))
    assert found[Kind.REPORTED_TOTAL_MISMATCH] == {f"p{other.pk}-{month['drug'].pk}", f"p{other.pk}-{second.pk}"}

    # a corrected upload replaces the earlier one and matches
    client.post("/api/v1/reconciliation/reported-totals/", {"period": "2026-11", "rows": [
        {"drug_code": month["drug"].code, "quantity": 2, "total": "1960.00", "fund_payment": "1323.00"}]}, format="json")
    assert all(r["matches"] for r in reported_comparison(organisation=other, period=NOV))
    assert Kind.REPORTED_TOTAL_MISMATCH not in _by_kind(reconciliation_findings(period=NOV))


def test_r_set_2_reported_totals_from_excel_all_or_nothing(month, api_as):
    client = api_as(f.pharmacy_user(pharmacy=month["other"]))
    wb = Workbook()
    ws = wb.active
    ws.append(["药品代码", "数量", "金额", "统筹基金支付"])
    ws.append([month["drug"].code, 2, 1960, 1323])
    ws.append(["XNOTINCATALOGUE0000000", 1, 10, 5])
    ws.append([month["drug"].code, "two", 10, 5])
    buffer = BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    buffer.name = "totals.xlsx"
    response = client.post("/api/v1/reconciliation/reported-totals/", {"period": "2026-11", "file": buffer},
                           format="multipart")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and {e["row"] for e in body["errors"]} == {3, 4}
    assert not ReportedTotal.objects.exists()  # nothing written

    wb = Workbook()
    wb.active.append(["药品代码", "数量", "金额", "统筹基金支付"])
    wb.active.append([month["drug"].code, 2, 1960, 1323])
    buffer = BytesIO()
    wb.save(buffer)
    buffer.seek(0)
    buffer.name = "totals.xlsx"
    ok = client.post("/api/v1/reconciliation/reported-totals/", {"period": "2026-11", "file": buffer},
                     format="multipart")
    assert ok.status_code == 201 and ok.json()["saved"] == 1
    assert ReportedTotal.objects.get().total == Decimal("1960.00")


def test_r_set_2_bureau_cannot_upload_organisation_totals(month, api_as):
    response = api_as(f.bureau_admin()).post("/api/v1/reconciliation/reported-totals/",
                                             {"period": "2026-11", "rows": []}, format="json")
    assert response.status_code == 403


def test_r_set_2_ward_delivery_statement_due_on_the_10th(month, api_as):
    ward = sf.dispensing(pharmacy=month["other"], institution=month["h"], drug=month["drug"], quantity=2,
                         delivery=Delivery.WARD)
    sf.dispensing(pharmacy=month["other"], institution=month["h"], drug=month["drug"], quantity=1,
                  delivery=Delivery.WARD)
    rows = ward_delivery_statements(user=f.hospital_user(institution=month["h"]), period=NOV, today=sf.AT.date())
    assert len(rows) == 1
    row = rows[0]
    assert row["due_date"] == "2026-12-10" and row["visits"] == 2
    assert row["total"] == "2940.00" and row["fund_payment"] == f"{ward.fund_payment + Decimal('661.50'):.2f}"
    assert row["pharmacy_code"] == month["other"].code
    # the other pharmacy sees it; an unrelated pharmacy does not
    assert len(ward_delivery_statements(user=f.pharmacy_user(pharmacy=month["other"]), period=NOV, today=sf.AT.date())) == 1
    assert ward_delivery_statements(user=f.pharmacy_user(pharmacy=month["short"]), period=NOV, today=sf.AT.date()) == []
    body = api_as(f.hospital_user(institution=month["h"])).get(
        "/api/v1/reconciliation/ward-deliveries/?period=2026-11").json()
    assert body["results"][0]["due_date"] == "2026-12-10"


def test_r_set_2_differences_api_scoped_and_filterable(month, api_as):
    services.reconciliation_run(period=NOV, now=sf.AT)
    bureau = api_as(f.reviewer())
    body = bureau.get("/api/v1/reconciliation/differences/?period=2026-11&kind=never_dispensed").json()
    assert body["count"] == 2 and {r["kind"] for r in body["results"]} == {"never_dispensed"}
    short_pharmacy = api_as(f.pharmacy_user(pharmacy=month["short"]))
    mine = short_pharmacy.get("/api/v1/reconciliation/differences/?period=2026-11").json()
    assert [r["kind"] for r in mine["results"]] == ["sales_exceed_purchases"]
