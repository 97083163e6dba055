"""The monitoring flags on the dispensing hot path (section 9, R-MON-1..5; issue 12 §Speed: < 1 ms at p50).

They run inside the dispensing's transaction through ``prescriptions.hooks.dispensing_recorded`` and cost ONE
statement per dispensing, one more only when an alert is raised: everything else they need comes from the objects
the dispensing service already holds. (Before this was counted, the flags read four deferred fields — the
prescription's physician, the institution's region, the drug's dosage form and therapeutic area — each one ORM
query per dispensing: +13 ms CPU per dispensing under gunicorn.) Their findings are the batch's."""
import datetime as dt
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.monitoring import services
from apps.monitoring.models import Alert
from apps.prescriptions import hooks
from apps.prescriptions.services import dispensing as rx_dispensing
from apps.prescriptions.services import upload as rx_upload
from tests.prescriptions import factories as rxf

pytestmark = pytest.mark.django_db
D = dt.date
DAY = D(2026, 11, 5)


@pytest.fixture
def hook_calls(monkeypatch):
    """Each call of the hook's handlers: (alerts raised, the statements it sent — PREPARE excluded, which a
    connection sends once per statement shape)."""
    calls = []
    originals = list(hooks.dispensing_recorded.handlers)

    def counted(**kwargs):
        with CaptureQueriesContext(connection) as queries:
            raised = sum(handler(**kwargs) or 0 for handler in originals)
        calls.append((raised, [q["sql"] for q in queries.captured_queries if not q["sql"].startswith("PREPARE")]))
        return raised

    monkeypatch.setattr(hooks.dispensing_recorded, "handlers", [counted])
    return calls


def _upload(s, serial, *, now, days_supply=30):
    rx, _ = rx_upload.prescription_upload(user=s.hospital, now=now - dt.timedelta(hours=2), data=rx_upload.UploadData(
        serial_no=serial, application=s.application.pk, physician_code=s.physician.code,
        pharmacy_code=s.pharmacy.code, issued_at=now - dt.timedelta(hours=2), long_term=False,
        care_setting="outpatient", delivery="pickup", signature="sig",
        items=[rx_upload.UploadItem(drug_code=s.drug.code, quantity=1, days_supply=days_supply)]))
    return rx


def _dispense(s, rx, *, now):
    return rx_dispensing.prescription_dispense(
        prescription_id=rx.pk, user=s.pharmacist, dispensed_at=now - dt.timedelta(minutes=30),
        items=[rx_dispensing.DispenseItem(drug_code=s.drug.code, quantity=1, unit_price=Decimal("980.00"),
                                          trace_codes=rxf.trace_codes(1))], now=now)


def test_section_9_flags_send_one_statement_per_dispensing_and_one_more_for_an_alert(hook_calls):
    """A first 30-day supply: nothing to flag, one statement. The same day a second one: R-MON-5 fires, one
    statement to read and one to write the alert — no ORM query for a field the dispensing's read left out."""
    s = rxf.setup()
    now = rxf.at(DAY, 10)
    first, second = _upload(s, "RXH1", now=now), _upload(s, "RXH2", now=now)
    _dispense(s, first, now=now)
    _dispense(s, second, now=now)
    (raised_1, sql_1), (raised_2, sql_2) = hook_calls
    assert (raised_1, len(sql_1)) == (0, 1), sql_1
    assert (raised_2, len(sql_2)) == (1, 2), sql_2
    assert Alert.objects.get().rule == "R-MON-5"


def test_section_9_flags_off_send_nothing_and_raise_nothing(hook_calls, settings):
    """``MONITORING_FLAGS_ON_DISPENSING = False`` (the rx load benchmark's "before" round): the dispensing is
    recorded, no statement is sent for the flags and no alert is raised."""
    settings.MONITORING_FLAGS_ON_DISPENSING = False
    s = rxf.setup()
    now = rxf.at(DAY, 10)
    for serial in ("RXO1", "RXO2"):
        _dispense(s, _upload(s, serial, now=now), now=now)
    assert [(raised, len(sql)) for raised, sql in hook_calls] == [(0, 0), (0, 0)]
    assert not Alert.objects.exists()


def test_r_mon_3_and_r_mon_5_hot_path_alerts_are_the_batch_findings(hook_calls):
    """The patient's application ends on 2026-11-05; two same-day 30-day supplies are uploaded that day and
    dispensed on 11-06 (the prescriptions are still valid): the first raises R-MON-3 (no application covering the
    dispensing day), the second R-MON-3 and R-MON-5. The monthly batch over the same month finds exactly these
    findings with the same parties, amounts, summaries and evidence: it raises nothing new and refreshes nothing."""
    s = rxf.setup()
    s.application.valid_until = DAY
    s.application.save(update_fields=["valid_until"])
    upload_at = rxf.at(DAY, 15)
    first, second = _upload(s, "RXP1", now=upload_at), _upload(s, "RXP2", now=upload_at)
    now = rxf.at(DAY + dt.timedelta(days=1), 10)
    _dispense(s, first, now=now)
    _dispense(s, second, now=now)
    assert [raised for raised, _ in hook_calls] == [1, 2]
    hot = {a.finding_key: (a.rule, a.period, a.region_id, a.institution_id, a.pharmacy_id, a.person_id,
                           a.physician_id, a.amount_at_risk, a.summary, a.evidence)
           for a in Alert.objects.filter(source=Alert.Source.DISPENSING)}
    assert sorted(rule for rule, *_ in hot.values()) == ["R-MON-3", "R-MON-3", "R-MON-5"]

    later = now + dt.timedelta(hours=1)
    services.monitoring_run_now(period=DAY.replace(day=1), now=later)
    dispensing_rules = Alert.objects.filter(rule__in=["R-MON-1", "R-MON-2", "R-MON-3", "R-MON-4", "R-MON-5"])
    after = {a.finding_key: (a.rule, a.period, a.region_id, a.institution_id, a.pharmacy_id, a.person_id,
                             a.physician_id, a.amount_at_risk, a.summary, a.evidence) for a in dispensing_rules}
    assert after == hot
    assert not dispensing_rules.filter(refreshed_at=later).exists()
