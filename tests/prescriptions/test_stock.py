"""R-PHA-3: stock movements and stock per pharmacy and drug."""
import pytest
from django.utils import timezone

from apps.prescriptions.models import StockMovement
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]


def move(client, drug, kind, quantity, price="950.00"):
    return client.post("/api/v1/stock-movements/", {"drug_code": drug.code, "kind": kind, "quantity": quantity,
                                                     "unit_price": price, "occurred_at": timezone.now().isoformat()},
                       format="json")


def test_r_pha_3_stock_is_purchases_minus_returns_minus_dispensed(api_as):
    s = rx.setup()
    client = api_as(s.pharmacist)
    assert move(client, s.drug, "purchase", 10).status_code == 201
    assert move(client, s.drug, "return", 2).status_code == 201
    pid = api_as(s.hospital).post("/api/v1/prescriptions/", s.upload_body(), format="json").json()["id"]
    did = client.post(f"/api/v1/prescriptions/{pid}/dispense/", rx.dispense_body(s.drug, 3), format="json").json()["id"]
    row = client.get("/api/v1/stock/").json()["results"][0]
    assert (row["purchased"], row["returned"], row["dispensed"], row["on_hand"]) == (10, 2, 3, 5)
    client.post(f"/api/v1/dispensings/{did}/reverse/", {"reason": "单价录错"}, format="json")
    assert client.get(f"/api/v1/stock/?drug_code={s.drug.code}").json()["results"][0]["on_hand"] == 8


def test_r_pha_3_return_more_than_on_hand_is_refused(api_as):
    s = rx.setup()
    client = api_as(s.pharmacist)
    move(client, s.drug, "purchase", 2)
    r = move(client, s.drug, "return", 3)
    assert r.status_code == 400 and r.json()["code"] == "insufficient_stock"
    assert StockMovement.objects.count() == 1


def test_r_pha_3_bad_input_is_invalid_and_writes_nothing(api_as):
    s = rx.setup()
    client = api_as(s.pharmacist)
    assert move(client, s.drug, "gift", 2).json()["code"] == "invalid"
    assert move(client, s.drug, "purchase", 0).json()["code"] == "invalid"
    r = client.post("/api/v1/stock-movements/", {"drug_code": "X" + "0" * 22, "kind": "purchase", "quantity": 1,
                                                 "unit_price": "1.00", "occurred_at": timezone.now().isoformat()},
                    format="json")
    assert r.json()["code"] == "invalid"
    assert StockMovement.objects.count() == 0


def test_r_sec_1_stock_scoped_to_pharmacy_and_bureau_region(api_as):
    s = rx.setup()
    move(api_as(s.pharmacist), s.drug, "purchase", 4)
    other = f.pharmacy_user()
    assert api_as(other).get("/api/v1/stock/").json()["results"] == []
    assert api_as(s.hospital).post("/api/v1/stock-movements/", {}, format="json").status_code == 403
    bureau = f.reviewer("640500")
    r = api_as(bureau).get(f"/api/v1/stock/?pharmacy_code={s.pharmacy.code}")
    assert r.json()["results"][0]["on_hand"] == 4
    outsider = f.reviewer("430100")
    assert api_as(outsider).get(f"/api/v1/stock/?pharmacy_code={s.pharmacy.code}").status_code == 404
