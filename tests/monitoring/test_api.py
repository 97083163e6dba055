"""REST (API.md revision 2, section 9) and tenancy (R-SEC-1): the bureau sees its region's alerts and moves them
through the workflow; another region's bureau gets 404; hospitals and pharmacies see only the confirmed alerts
about themselves; the workspace pages render in Chinese."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.monitoring import services
from apps.monitoring.models import Alert
from tests import factories as f
from tests.monitoring import builders as b
from tests.prescriptions import factories as rxf

pytestmark = pytest.mark.django_db
D = dt.date


@pytest.fixture
def alerts():
    s = b.world()
    other = rxf.person(name="赵六")
    rxf.approved_application(person=other, physician=s.physician, drug=s.drug)
    b.dispense(s, day=D(2026, 11, 5), quantity=2, price=Decimal("1100.00"), person=other)  # R-MON-1 at pharmacy 1
    for days, hour, ph in ((30, 9, s.pharmacy), (20, 10, s.pharmacy2)):
        b.dispense(s, day=D(2026, 11, 6), days_supply=days, hour=hour, pharmacy=ph)  # R-MON-5 at pharmacy 2
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    return s


def test_r_mon_5_bureau_lists_open_alerts_of_a_rule(alerts, api_as):
    r = api_as(f.reviewer()).get("/api/v1/alerts/?rule=R-MON-5&status=open")
    assert r.status_code == 200, r.content
    rows = r.json()["results"]
    assert [x["rule"] for x in rows] == ["R-MON-5"]
    assert rows[0]["pharmacy"] == alerts.pharmacy2.code and rows[0]["status"] == "open"


def test_section_9_bad_filter_is_refused_with_its_code(alerts, api_as):
    r = api_as(f.reviewer()).get("/api/v1/alerts/?rule=MON-X")
    assert r.status_code == 400 and r.json()["code"] == "invalid"


def test_section_9_transitions_through_the_api(alerts, api_as):
    reviewer, colleague = f.reviewer(), f.reviewer()
    alert = Alert.objects.get(rule="R-MON-5")
    client = api_as(reviewer)
    r = client.post(f"/api/v1/alerts/{alert.pk}/transitions/", {"to": "assigned", "assignee": colleague.username},
                    format="json")
    assert r.status_code == 200, r.content
    assert r.json()["status"] == "assigned" and r.json()["assignee"] == colleague.username
    r = client.post(f"/api/v1/alerts/{alert.pk}/transitions/", {"to": "dismissed"}, format="json")
    assert r.status_code == 400 and r.json()["code"] == "reason_required"
    r = client.post(f"/api/v1/alerts/{alert.pk}/transitions/", {"to": "dismissed", "reason": "合理"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "dismissed"
    r = client.post(f"/api/v1/alerts/{alert.pk}/transitions/", {"to": "confirmed"}, format="json")
    assert r.status_code == 409 and r.json()["code"] == "alert_decided"


def test_r_sec_1_other_region_bureau_sees_nothing(alerts, api_as, changsha):
    other = f.reviewer("430100")
    alert = Alert.objects.get(rule="R-MON-5")
    assert api_as(other).get("/api/v1/alerts/").json()["count"] == 0
    assert api_as(other).get(f"/api/v1/alerts/{alert.pk}/").status_code == 404
    r = api_as(other).post(f"/api/v1/alerts/{alert.pk}/transitions/", {"to": "dismissed", "reason": "x"},
                           format="json")
    assert r.status_code == 404
    assert Alert.objects.get(pk=alert.pk).status == "open"


def test_r_sec_1_pharmacy_sees_only_its_confirmed_alerts(alerts, api_as):
    one = Alert.objects.get(rule="R-MON-1")  # about pharmacy 1
    five = Alert.objects.get(rule="R-MON-5")  # about pharmacy 2
    pharmacist = f.pharmacy_user(alerts.pharmacy)
    assert api_as(pharmacist).get("/api/v1/alerts/").json()["count"] == 0  # open: not yet
    services.alert_confirm(alert=one, actor=f.reviewer(), reason="核实", now=b.NOW, today=D(2026, 12, 1))
    services.alert_confirm(alert=five, actor=f.reviewer(), reason="核实", now=b.NOW, today=D(2026, 12, 1))
    rows = api_as(pharmacist).get("/api/v1/alerts/").json()["results"]
    assert [x["id"] for x in rows] == [one.pk]
    assert api_as(pharmacist).get(f"/api/v1/alerts/{five.pk}/").status_code == 404
    r = api_as(pharmacist).post(f"/api/v1/alerts/{one.pk}/transitions/", {"to": "dismissed", "reason": "x"},
                                format="json")
    assert r.status_code == 403


def test_r_sec_1_hospital_sees_confirmed_alerts_about_itself(alerts, api_as):
    Physician = type(alerts.physician)
    Physician.objects.filter(pk=alerts.physician.pk).update(status="suspended", revoked_on=D(2026, 11, 1))
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    two = Alert.objects.filter(rule="R-MON-2").first()
    services.alert_confirm(alert=two, actor=f.reviewer(), now=b.NOW, today=D(2026, 12, 1))
    hospital = f.hospital_user(alerts.institution)
    ids = [x["id"] for x in api_as(hospital).get("/api/v1/alerts/").json()["results"]]
    assert two.pk in ids and all(Alert.objects.get(pk=i).status == "confirmed" for i in ids)


@pytest.mark.today("2026-12-01")
def test_section_9_workspace_pages_render_in_chinese(alerts, client):
    reviewer = f.reviewer()
    client.force_login(reviewer)
    page = client.get("/monitoring/?rule=R-MON-5")
    assert page.status_code == 200 and "预警队列" in page.content.decode()
    five = Alert.objects.get(rule="R-MON-5")
    detail = client.get(f"/monitoring/alerts/{five.pk}/").content.decode()
    assert "用药供应时间线" in detail and alerts.pharmacy2.name in detail
    summary = client.get("/monitoring/summary/?period=2026-11")
    assert summary.status_code == 200 and "智能监控月度汇总" in summary.content.decode()
    xlsx = client.get("/monitoring/summary/?period=2026-11&format=xlsx")
    assert xlsx["Content-Type"].startswith("application/vnd.openxmlformats")
    from io import BytesIO

    from openpyxl import load_workbook

    ws = load_workbook(BytesIO(xlsx.content)).active
    rows = {r[0]: r for r in ws.iter_rows(min_row=3, values_only=True)}
    assert rows["R-MON-5"][2] == 1 and rows["合计"][2] == Alert.objects.filter(period=b.NOV).count()


@pytest.mark.today("2026-12-01")
def test_section_9_dismiss_without_reason_in_the_browser_says_why(alerts, client):
    client.force_login(f.reviewer())
    five = Alert.objects.get(rule="R-MON-5")
    page = client.post(f"/monitoring/alerts/{five.pk}/dismiss/", {"reason": ""}, follow=True).content.decode()
    assert "排除预警须填写原因" in page
    assert Alert.objects.get(pk=five.pk).status == "open"
