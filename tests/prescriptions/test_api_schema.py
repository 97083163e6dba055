"""Issue 9: the OpenAPI schema served at /api/schema/ and the responses of the prescriptions API are the same objects.
Every prescriptions endpoint (upload, list, detail, quote, dispense, cancel, decline, dispensings, reversal, stock
movements, stock, manual claims, cross-region filings — R-RX-1..7, R-PAY-3..5, R-PHA-3) is called once on real data
and the keys of its JSON body, nested objects and list items included, must be exactly the properties the schema
declares for that operation and status — no key missing, none undeclared (e.g. the quote's ``lines``)."""
import datetime as dt
import re

import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator

from apps.prescriptions.models import Prescription
from tests import factories as f
from tests.prescriptions import factories as rx

# uploads, quotes and dispensings go through the API/pages, which take "now" from the clock; the set-up
# (policies, agreements, applications to 2027-12-31) is dated around 2026-12-01, so the clock is fixed there
pytestmark = [pytest.mark.django_db, pytest.mark.today("2026-12-01")]

PREFIXES = ("/api/v1/prescriptions/", "/api/v1/dispensings/", "/api/v1/stock-movements/", "/api/v1/stock/",
            "/api/v1/manual-claims/", "/api/v1/cross-region-filings/")


@pytest.fixture(scope="module")
def schema(django_db_blocker):
    with django_db_blocker.unblock():
        return SchemaGenerator().get_schema(request=None, public=True)


def _resolve(schema, node):
    while True:
        if "$ref" in node:
            node = schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
        elif "allOf" in node and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        elif "oneOf" in node:
            node = next(n for n in node["oneOf"] if n.get("type") != "null" and "enum" not in n or "$ref" in n)
        else:
            return node


def _check(schema, node, body, where):
    node = _resolve(schema, node)
    if isinstance(body, dict):
        declared = set(node.get("properties", {}))
        assert set(body) == declared, (f"{where}: undeclared {sorted(set(body) - declared)}, "
                                       f"missing {sorted(declared - set(body))}")
        for key, value in body.items():
            if value is not None:
                _check(schema, node["properties"][key], value, f"{where}.{key}")
    elif isinstance(body, list):
        assert node.get("type") == "array", f"{where}: a list where the schema says {node.get('type')}"
        for i, item in enumerate(body[:3]):
            _check(schema, node["items"], item, f"{where}[{i}]")


class Recorder:
    def __init__(self, schema):
        self.schema = schema
        self.seen: set[tuple[str, str]] = set()
        self.templates = [(p, re.compile("^" + re.sub(r"\{[^}]+\}", r"\\d+", p) + "$")) for p in schema["paths"]]

    def call(self, client, method, path, data=None, expect=200):
        response = getattr(client, method)(path, data, format="json") if data is not None else \
            getattr(client, method)(path)
        assert response.status_code == expect, (method, path, response.content)
        template = next(t for t, rx_ in self.templates if rx_.match(path.split("?")[0]))
        operation = self.schema["paths"][template][method]
        media = operation["responses"][str(expect)]["content"]["application/json"]["schema"]
        _check(self.schema, media, response.json(), f"{method.upper()} {template} {expect}")
        self.seen.add((template, method))
        return response.json()


def test_issue9_every_prescriptions_response_has_exactly_its_schema_keys(api_as, schema):
    s = rx.setup()
    f.region("430100", "长沙市")
    hospital, pharmacist, bureau = api_as(s.hospital), api_as(s.pharmacist), api_as(f.bureau_admin("640500"))
    r = Recorder(schema)
    # prescriptions: upload (new and replayed), list, detail, quote, dispense, cancel, decline
    pid = r.call(hospital, "post", "/api/v1/prescriptions/", s.upload_body("RX0001"), 201)["id"]
    r.call(pharmacist, "get", "/api/v1/prescriptions/")
    r.call(pharmacist, "post", f"/api/v1/prescriptions/{pid}/quote/", rx.dispense_body(s.drug, 3, "980.00"))
    dispensing = r.call(pharmacist, "post", f"/api/v1/prescriptions/{pid}/dispense/",
                        rx.dispense_body(s.drug, 3, "980.00"), 201)
    r.call(pharmacist, "get", f"/api/v1/prescriptions/{pid}/")
    cancelled = r.call(hospital, "post", "/api/v1/prescriptions/", s.upload_body("RX0002", quantity=1), 201)["id"]
    r.call(hospital, "post", f"/api/v1/prescriptions/{cancelled}/cancel/", {"reason": "患者改用其他药品"})
    declined = r.call(hospital, "post", "/api/v1/prescriptions/", s.upload_body("RX0003", quantity=1), 201)["id"]
    r.call(pharmacist, "post", f"/api/v1/prescriptions/{declined}/decline/",
           {"reason": Prescription.DeclineReason.values[0], "note": "缺货"})
    # dispensings and the reversal (R-RX-6)
    r.call(pharmacist, "get", "/api/v1/dispensings/")
    r.call(pharmacist, "get", f"/api/v1/dispensings/{dispensing['id']}/")
    r.call(pharmacist, "post", f"/api/v1/dispensings/{dispensing['id']}/reverse/", {"reason": "录入错误"}, 201)
    # stock (R-PHA-3)
    r.call(pharmacist, "post", "/api/v1/stock-movements/",
           {"drug_code": s.drug.code, "kind": "purchase", "quantity": 10, "unit_price": "950.00",
            "occurred_at": timezone.now().isoformat()}, 201)
    r.call(pharmacist, "get", "/api/v1/stock-movements/")
    r.call(pharmacist, "get", "/api/v1/stock/")
    # R-PAY-5: manual claim and cross-region filing, by the insured region's bureau
    claim = r.call(bureau, "post", "/api/v1/manual-claims/", {
        "id_number": s.person.id_number, "invoice_no": "FP-1", "invoice_date": str(dt.date(2026, 11, 20)),
        "provider_name": "北京协和医院", "care_setting": "outpatient",
        "lines": [{"drug_code": s.drug.code, "quantity": 1, "unit_price": "980.00"}]}, 201)
    r.call(bureau, "get", "/api/v1/manual-claims/")
    r.call(bureau, "get", f"/api/v1/manual-claims/{claim['id']}/")
    filing = r.call(bureau, "post", "/api/v1/cross-region-filings/", {
        "id_number": s.person.id_number, "treatment_region": "430100", "filing_no": "YD-1",
        "valid_from": "2026-01-01", "valid_until": "2026-12-31", "direct_settlement": True}, 201)
    r.call(bureau, "get", "/api/v1/cross-region-filings/")
    r.call(bureau, "get", f"/api/v1/cross-region-filings/{filing['id']}/")
    # the lookups by ID number travel in a POST body, never in a URL (R-SEC-2)
    r.call(bureau, "post", "/api/v1/manual-claims/search/", {"id_number": s.person.id_number}, 200)
    r.call(bureau, "post", "/api/v1/cross-region-filings/search/", {"id_number": s.person.id_number}, 200)
    # every operation of these endpoints was checked
    declared = {(path, method) for path, ops in schema["paths"].items() if path.startswith(PREFIXES)
                for method in ops if method in ("get", "post", "put", "patch", "delete")}
    assert declared == r.seen, sorted(declared ^ r.seen)
