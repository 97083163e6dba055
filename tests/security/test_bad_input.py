"""R-SEC-4 / issue 14 §15: bad input gets a clear 4xx and never a 500; every API error — a 5xx too — has the JSON
error body. Generated from the URL configuration: every API route × hostile query values × roles."""
import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from tests import factories as f
from tests.security.api_routes import api_routes, fill, has_params

pytestmark = pytest.mark.django_db

HOSTILE = ["0", "99999999999999999999999", "²", "١٢٣", "１２３", "2026-13", "99999-01", "abc", "' OR 1=1 --", "%",
           "x" * 3000, "1e30"]
PARAMS = ["year", "period", "page", "page_size", "code", "drug_code", "status", "kind", "date", "date_from",
          "date_to", "month", "format", "region", "institution", "pharmacy", "generic_name", "active", "search",
          "ordering", "id", "overdue", "as", "person", "id_number", "stage", "limit", "offset"]


@pytest.fixture
def clients(api_as):
    f.policy("640500", "zhongwei-2021")
    superuser = f.UserFactory(is_superuser=True, is_staff=True, role="bureau_admin")
    return {"superuser": api_as(superuser), "hospital": api_as(f.hospital_user()), "pharmacy": api_as(f.pharmacy_user())}


def _assert_error_body(resp, where):
    assert resp.status_code < 500, (where, resp.status_code, resp.content[:300])
    if resp.status_code >= 400:
        body = resp.json()
        assert {"code", "detail", "fields"} <= set(body), (where, body)


def test_r_sec_4_hostile_query_values_on_every_api_route_never_500(clients):
    routes = [r for r, _ in api_routes()]
    assert len(routes) > 20
    for role, client in clients.items():
        for route in routes:
            for value in HOSTILE:
                path = fill(route, value) if has_params(route) else "/" + route
                resp = client.get(path, {name: value for name in PARAMS})
                _assert_error_body(resp, (role, path, value))


def test_r_sec_4_nul_byte_in_a_query_parameter_is_400(clients):
    resp = clients["superuser"].get("/api/v1/drugs/", {"generic_name": "a\x00b"})
    assert resp.status_code == 400
    assert resp.json()["code"] == "invalid"


@pytest.mark.parametrize("year", ["0", "99999", "-5", "1e9"])
def test_r_sec_4_calendar_year_out_of_range_is_400(clients, year):
    resp = clients["superuser"].get("/api/v1/calendar/", {"year": year})
    assert resp.status_code == 400, resp.content
    assert resp.json()["code"] == "invalid"


def test_r_sec_4_json_list_body_on_every_write_route_is_4xx(clients):
    for role, client in clients.items():
        for route, _ in api_routes():
            path = fill(route, "1") if has_params(route) else "/" + route
            for method in ("patch", "post", "put"):
                resp = getattr(client, method)(path, [1, 2, {"a": "b"}], format="json")
                _assert_error_body(resp, (role, method, path))


@pytest.mark.parametrize("ref", ["²", "١٢٣", "99999999999999999999999", "１２３"])
def test_r_sec_4_non_ascii_digit_drug_reference_is_4xx(clients, ref):
    resp = clients["superuser"].get(f"/api/v1/drugs/{ref}/")
    assert resp.status_code == 404, resp.content
    assert resp.json()["code"] == "not_found"


def test_r_sec_4_unknown_api_path_is_a_json_404(clients):
    resp = clients["hospital"].get("/api/v1/no-such-thing/")
    assert resp.status_code == 404
    assert resp.json() == {"code": "not_found", "detail": "未找到", "fields": {}}


def test_r_sec_4_an_unexpected_api_error_is_a_json_500(clients, monkeypatch):
    """A bug in a view still answers in the error format (logged with its traceback)."""
    from apps.accounts import api as accounts_api

    def boom(self, request):
        raise RuntimeError("boom")

    monkeypatch.setattr(accounts_api.MeView, "get", boom)
    resp = clients["hospital"].get("/api/v1/auth/me/")
    assert resp.status_code == 500
    assert resp.json()["code"] == "server_error"


@override_settings(DEBUG=False)
def test_r_sec_4_a_django_level_500_under_api_is_json(rf):
    from apps.core.error_views import server_error

    resp = server_error(rf.get("/api/v1/drugs/"))
    assert resp.status_code == 500
    assert resp["Content-Type"].startswith("application/json")
