"""Alerts (section 9): one per finding, never raised twice, a rerun never reopens a decided alert; the workflow
open → assigned → confirmed | dismissed with an event per transition; a confirmed alert's proposed deduction
goes through the settlement's R-SET-5 service (R-INS-3); the dispensing rules flag inside the dispensing."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.core.exceptions import ApplicationError
from apps.core.models import Event, EventAction, Sanction
from apps.monitoring import selectors, services
from apps.monitoring.models import Alert, MonitoringRun
from apps.prescriptions.services import dispensing as rx_dispensing
from apps.prescriptions.services import upload as rx_upload
from apps.settlement.models import Statement
from apps.settlement.services import settlement_run_now
from tests import factories as f
from tests.monitoring import builders as b

pytestmark = pytest.mark.django_db
D = dt.date


def _issue_case(s):
    for days, hour, pharmacy in ((30, 9, s.pharmacy), (20, 10, s.pharmacy2), (30, 11, s.pharmacy),
                                 (84, 12, s.pharmacy2)):
        b.dispense(s, day=D(2026, 11, 5), days_supply=days, hour=hour, pharmacy=pharmacy)


def test_r_mon_5_batch_rerun_raises_nothing_twice():
    """Two runs of November: the R-MON-5 finding is one alert; the second run raises 0 new alerts."""
    s = b.world()
    _issue_case(s)
    first = services.monitoring_run_now(period=b.NOV, now=b.NOW)
    second = services.monitoring_run_now(period=b.NOV, now=b.NOW + dt.timedelta(days=1))
    assert first.status == MonitoringRun.Status.SUCCEEDED and first.rules_done == 9
    assert Alert.objects.filter(rule="R-MON-5").count() == 1
    assert first.alerts_raised >= 1 and second.alerts_raised == 0
    assert second.findings == first.findings


def test_r_mon_5_dismissed_alert_stays_dismissed_after_a_rerun_with_more_evidence():
    """Dismissed with a reason; a later supply makes the finding bigger (amount 1,350.00 → 1,800.00) — the rerun
    leaves the dismissed alert as it was decided (status, reason, amount)."""
    s = b.world()
    _issue_case(s)
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    alert = Alert.objects.get(rule="R-MON-5")
    assert alert.amount_at_risk == Decimal("1350.00")
    reviewer = f.reviewer()
    services.alert_dismiss(alert=alert, actor=reviewer, reason="经核实为转院重复登记", now=b.NOW)
    b.dispense(s, day=D(2026, 11, 6), days_supply=30)
    services.monitoring_run_now(period=b.NOV, now=b.NOW + dt.timedelta(days=1))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.DISMISSED
    assert alert.decision_reason == "经核实为转院重复登记"
    assert alert.amount_at_risk == Decimal("1350.00")
    assert Alert.objects.filter(rule="R-MON-5").count() == 1


def test_r_mon_5_rerun_refreshes_an_undecided_alert():
    """An open alert takes the rerun's figures: 1,350.00 → 1,800.00 after a fourth overlapping supply."""
    s = b.world()
    _issue_case(s)
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    b.dispense(s, day=D(2026, 11, 6), days_supply=30)
    services.monitoring_run_now(period=b.NOV, now=b.NOW + dt.timedelta(days=1))
    assert Alert.objects.get(rule="R-MON-5").amount_at_risk == Decimal("1800.00")


def test_section_9_workflow_assign_then_dismiss_requires_a_reason_and_writes_events():
    s = b.world()
    _issue_case(s)
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    alert = Alert.objects.get(rule="R-MON-5")
    reviewer, other = f.reviewer(), f.reviewer()
    services.alert_assign(alert=alert, assignee=other, actor=reviewer, now=b.NOW)
    with pytest.raises(ApplicationError) as exc:
        services.alert_dismiss(alert=alert, actor=other, reason="  ", now=b.NOW)
    assert exc.value.code == "reason_required"
    alert.refresh_from_db()
    assert alert.status == Alert.Status.ASSIGNED and alert.assignee == other
    services.alert_dismiss(alert=alert, actor=other, reason="合理用药", now=b.NOW)
    with pytest.raises(ApplicationError) as exc:
        services.alert_confirm(alert=alert, actor=other, now=b.NOW, today=D(2026, 12, 1))
    assert exc.value.code == "alert_decided"
    actions = list(Event.objects.filter(object_id=str(alert.pk), content_type__model="alert")
                   .order_by("id").values_list("action", "from_status", "to_status", "reason"))
    assert actions == [(EventAction.ALERT_ASSIGNED, "open", "assigned", ""),
                       (EventAction.ALERT_DISMISSED, "assigned", "dismissed", "合理用药")]


def test_section_9_assignee_must_be_a_reviewer_of_the_region(changsha):
    s = b.world()
    _issue_case(s)
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    alert = Alert.objects.get(rule="R-MON-5")
    with pytest.raises(ApplicationError) as exc:
        services.alert_assign(alert=alert, assignee=f.reviewer("430100"), actor=f.reviewer(), now=b.NOW)
    assert exc.value.code == "invalid"
    assert Alert.objects.get(pk=alert.pk).status == Alert.Status.OPEN


def test_r_ins_3_confirmed_alert_proposes_a_deduction_that_reaches_the_statement():
    """Confirming the R-MON-1 alert (amount 200.00) with a deduction of 200.00 records the sanction on the
    pharmacy through ``sanction_money_record`` (R-SET-5): the November draft (fund 1,100.00 = 50 % of 2,200.00)
    at once shows deductions 200.00."""
    s = b.world()
    b.dispense(s, day=D(2026, 11, 5), quantity=2, price=Decimal("1100.00"))
    settlement_run_now(period=b.NOV, clock=lambda: b.NOW)
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    alert = Alert.objects.get(rule="R-MON-1")
    services.alert_confirm(alert=alert, actor=f.reviewer(), reason="价格超标准", sanction_kind="deduction",
                           sanction_amount="200.00", now=b.NOW, today=D(2026, 12, 1))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.CONFIRMED
    assert alert.sanction.kind == Sanction.Kind.DEDUCTION and alert.sanction.amount == Decimal("200.00")
    assert alert.sanction.organisation == s.pharmacy
    statement = Statement.objects.get(pharmacy=s.pharmacy, period=b.NOV)
    assert statement.deductions == Decimal("200.00")
    assert statement.adjustments.get().sanction_id == alert.sanction_id
    assert Event.objects.filter(action=EventAction.ALERT_SANCTION_PROPOSED, object_id=str(alert.pk)).exists()


def test_r_ins_3_deduction_without_amount_is_refused_and_nothing_changes():
    s = b.world()
    b.dispense(s, day=D(2026, 11, 5), quantity=2, price=Decimal("1100.00"))
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    alert = Alert.objects.get(rule="R-MON-1")
    with pytest.raises(ApplicationError):
        services.alert_confirm(alert=alert, actor=f.reviewer(), sanction_kind="deduction", sanction_amount="",
                               now=b.NOW, today=D(2026, 12, 1))
    alert.refresh_from_db()
    assert alert.status == Alert.Status.OPEN and not Sanction.objects.exists()


def test_section_9_bulk_dismiss_one_reason_for_all():
    s = b.world()
    b.dispense(s, day=D(2026, 11, 5), quantity=2, price=Decimal("1100.00"))
    _issue_case(s)
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    alerts = list(Alert.objects.filter(rule__in=["R-MON-1", "R-MON-5"]))
    assert services.alerts_bulk_dismiss(alerts=alerts, actor=f.reviewer(), reason="专项检查已处理",
                                        now=b.NOW) == 2
    assert set(Alert.objects.filter(pk__in=[a.pk for a in alerts]).values_list("status", "decision_reason")) == {
        ("dismissed", "专项检查已处理")}


def test_r_mon_5_flags_on_dispensing_in_the_same_transaction_and_never_refuses():
    """Through the real dispensing service: a 30-day supply, then the same day another 30-day supply at the same
    pharmacy — dispensed (not refused), and an R-MON-5 alert exists from the dispensing moment (remaining 30 days)."""
    from tests.prescriptions import factories as rxf

    s = rxf.setup()
    now = rxf.at(D(2026, 11, 5), 10)
    dispensed = []
    for serial in ("RXM1", "RXM2"):
        rx, _ = rx_upload.prescription_upload(user=s.hospital, now=now - dt.timedelta(hours=2), data=rx_upload.UploadData(
            serial_no=serial, application=s.application.pk, physician_code=s.physician.code,
            pharmacy_code=s.pharmacy.code, issued_at=now - dt.timedelta(hours=2), long_term=False,
            care_setting="outpatient", delivery="pickup", signature="sig",
            items=[rx_upload.UploadItem(drug_code=s.drug.code, quantity=1, days_supply=30)]))
        dispensed.append(rx_dispensing.prescription_dispense(
            prescription_id=rx.pk, user=s.pharmacist, dispensed_at=now - dt.timedelta(minutes=30),
            items=[rx_dispensing.DispenseItem(drug_code=s.drug.code, quantity=1, unit_price=Decimal("980.00"),
                                              trace_codes=rxf.trace_codes(1))], now=now))
    alert = Alert.objects.get(rule="R-MON-5")
    assert alert.source == Alert.Source.DISPENSING
    assert alert.evidence["remaining_days"] == [30]
    assert alert.evidence["flagged_lines"] == [dispensed[1].lines_cache[0].pk]
    # the batch finds the same finding: no second alert
    services.monitoring_run_now(period=D(2026, 11, 1), now=now)
    assert Alert.objects.filter(rule="R-MON-5").count() == 1


def test_r_mon_4_flags_a_released_code_dispensed_by_another_pharmacy_on_dispensing():
    """A code dispensed at pharmacy 1 and reversed there is dispensed at pharmacy 2 (the live-code index allows it):
    R-MON-4 flags the second dispensing as it is recorded."""
    from tests.prescriptions import factories as rxf

    s = b.world()
    code = b.code()
    first = b.dispense(s, day=D(2026, 11, 3), codes=[code])
    b.reverse(first, day=D(2026, 11, 3))
    now = rxf.at(D(2026, 11, 5), 10)
    rx, _ = rx_upload.prescription_upload(user=s.hospital, now=now - dt.timedelta(hours=2), data=rx_upload.UploadData(
        serial_no="RXC1", application=s.application.pk, physician_code=s.physician.code,
        pharmacy_code=s.pharmacy2.code, issued_at=now - dt.timedelta(hours=2), long_term=False,
        care_setting="outpatient", delivery="pickup", signature="sig",
        items=[rx_upload.UploadItem(drug_code=s.drug.code, quantity=1, days_supply=30)]))
    rx_dispensing.prescription_dispense(
        prescription_id=rx.pk, user=f.pharmacy_user(s.pharmacy2), dispensed_at=now - dt.timedelta(minutes=30),
        items=[rx_dispensing.DispenseItem(drug_code=s.drug.code, quantity=1, unit_price=Decimal("980.00"),
                                          trace_codes=[code])], now=now)
    alert = Alert.objects.get(rule="R-MON-4")
    assert alert.source == Alert.Source.DISPENSING and alert.pharmacy == s.pharmacy2
    assert alert.evidence["codes"] == [code]


def test_r_mon_5_hot_path_alert_led_by_an_earlier_supply_is_about_that_supplys_organisation():
    """Two imported rows (no hook): 2026-11-03 30 days at pharmacy 1 prescribed by hospital 2, 2026-11-04 30 days
    at pharmacy 2 (county 640521) prescribed by hospital 2 — the 11-04 line is the first flagged one (another
    pharmacy's supply still running). A dispensing through the service on 11-05 at pharmacy 1 (hospital 1) raises
    the month's one R-MON-5 alert, led by the 11-04 line: about pharmacy 2, hospital 2 and region 640521 (the
    hospital used to be left empty and the region taken from the current pharmacy); once confirmed, hospital 2's
    users see it and hospital 1's do not."""
    from tests.prescriptions import factories as rxf

    s = b.world()
    other_county = f.region("640521")
    s.pharmacy2.region = other_county
    s.pharmacy2.save(update_fields=["region"])
    hospital2 = f.InstitutionFactory()
    doctor2 = f.PhysicianFactory(institution=hospital2)
    b.dispense(s, day=D(2026, 11, 3), physician=doctor2, pharmacy=s.pharmacy)
    led = b.dispense(s, day=D(2026, 11, 4), physician=doctor2, pharmacy=s.pharmacy2)
    assert not Alert.objects.exists()  # imported rows: no hook ran
    now = rxf.at(D(2026, 11, 5), 10)
    rx, _ = rx_upload.prescription_upload(user=s.hospital, now=now - dt.timedelta(hours=2), data=rx_upload.UploadData(
        serial_no="RXLED1", application=s.application.pk, physician_code=s.physician.code,
        pharmacy_code=s.pharmacy.code, issued_at=now - dt.timedelta(hours=2), long_term=False,
        care_setting="outpatient", delivery="pickup", signature="sig",
        items=[rx_upload.UploadItem(drug_code=s.drug.code, quantity=1, days_supply=30)]))
    rx_dispensing.prescription_dispense(
        prescription_id=rx.pk, user=s.pharmacist, dispensed_at=now - dt.timedelta(minutes=30),
        items=[rx_dispensing.DispenseItem(drug_code=s.drug.code, quantity=1, unit_price=Decimal("980.00"),
                                          trace_codes=rxf.trace_codes(1))], now=now)
    alert = Alert.objects.get(rule="R-MON-5")
    assert alert.source == Alert.Source.DISPENSING
    assert alert.evidence["flagged_lines"][0] == led.lines.get().pk
    assert (alert.pharmacy_id, alert.institution_id, alert.region_id) == (s.pharmacy2.pk, hospital2.pk,
                                                                           other_county.pk)
    # the batch agrees on the parties (no second alert)
    services.monitoring_run_now(period=D(2026, 11, 1), now=now)
    batch = Alert.objects.get(rule="R-MON-5")
    assert (batch.pharmacy_id, batch.institution_id, batch.region_id) == (s.pharmacy2.pk, hospital2.pk,
                                                                           other_county.pk)
    services.alert_confirm(alert=batch, actor=f.reviewer(), reason="核实属实", now=now, today=D(2026, 11, 5))
    assert selectors.alerts_visible_to(f.hospital_user(hospital2)).filter(pk=batch.pk).exists()
    assert not selectors.alerts_visible_to(s.hospital).filter(pk=batch.pk).exists()
