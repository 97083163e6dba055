"""Each monitoring rule (DOMAIN section 9) on a small hand-made data set where it fires and a near miss where it
does not. ``builders.findings`` runs the pure rule over the month's rows and, on PostgreSQL, the set-based batch
SQL too, asserting they agree (parity on every data set here)."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.monitoring.models import MonitoringSettings
from apps.physicians.models import Physician
from tests import factories as f
from tests.monitoring import builders as b
from tests.prescriptions import factories as rxf

pytestmark = pytest.mark.django_db

D = dt.date


def keys(found):
    return sorted(x.key for x in found)


def test_r_mon_1_price_above_the_standard_in_force_fires_and_equal_price_does_not():
    """Standard 1,000.00. A line of 2 packs at 1,100.00 → amount at risk (1,100 − 1,000) × 2 = 200.00; a line at
    exactly 1,000.00 is no finding."""
    s = b.world()
    over = b.dispense(s, day=D(2026, 11, 5), quantity=2, price=Decimal("1100.00"))
    b.dispense(s, day=D(2026, 11, 6), quantity=1, price=Decimal("1000.00"))
    found = b.findings("R-MON-1")
    assert len(found) == 1
    assert found[0].amount == Decimal("200.00")
    assert found[0].evidence["dispensings"] == [over.pk]
    assert found[0].pharmacy_id == s.pharmacy.pk


def _claim(s, *, invoice_no, price, quantity=2, day=D(2026, 11, 10), dispensing=None, drug=None):
    from apps.prescriptions.services import claims as rx_claims

    return rx_claims.manual_claim_record(
        user=f.bureau_admin(), person=s.person, invoice_no=invoice_no, invoice_date=day, provider_name="外地肿瘤医院",
        lines=[rx_claims.ClaimLine((drug or s.drug).code, quantity, price)], dispensing=dispensing, now=b.NOW)


def test_r_mon_1_manual_claim_invoice_price_above_the_standard_fires_at_the_standard_does_not():
    """Manual claims (R-PAY-5) of November, standard 1,000.00 in force on the invoice date. Invoice FP1: 2 packs at
    1,100.00 → one finding, amount at risk (1,100 − 1,000) × 2 = 200.00, in the bureau's region (640500), about
    the patient and no organisation (an invoice from outside). Invoice FP2 at exactly 1,000.00: no finding. A
    claim dated in October is not November's."""
    s = b.world()
    fp1 = _claim(s, invoice_no="FP1", price=Decimal("1100.00"))
    _claim(s, invoice_no="FP2", price=Decimal("1000.00"))
    _claim(s, invoice_no="FP3", price=Decimal("1300.00"), day=D(2026, 10, 30))
    found = b.findings("R-MON-1")
    assert keys(found) == [f"R-MON-1:claim:{fp1.pk}:1"]
    [x] = found
    assert (x.amount, x.person_id, x.pharmacy_id, x.institution_id) == (Decimal("200.00"), s.person.pk, None, None)
    assert x.region_id == f.region("640500").pk
    assert x.evidence["manual_claims"] == [fp1.pk] and x.evidence["unit_price"] == "1100.00"


def test_r_mon_1_manual_claim_of_a_self_paid_dispensing_is_about_its_pharmacy_and_the_alert_is_raised():
    """A claim (invoice 1,250.00 × 1, standard 1,000.00 → 250.00 at risk) reimbursing a self-paid dispensing of
    pharmacy 2 is about that pharmacy and its hospital; the batch raises it as an alert, and an alert about an
    outside invoice (FP5, 1,050.00 × 2 → 100.00) is raised without an organisation — confirming it with a
    deduction is refused (no organisation to deduct from), plain confirmation is not."""
    from apps.core.exceptions import ApplicationError
    from apps.monitoring import services
    from apps.monitoring.models import Alert
    from apps.prescriptions.models import Dispensing

    s = b.world()
    d = b.dispense(s, day=D(2026, 11, 4), pharmacy=s.pharmacy2, price=Decimal("1000.00"), fund=Decimal("0"))
    Dispensing.objects.filter(pk=d.pk).update(settlement=Dispensing.Settlement.SELF_PAID)
    d.refresh_from_db()
    fp4 = _claim(s, invoice_no="FP4", price=Decimal("1250.00"), quantity=1, dispensing=d)
    fp5 = _claim(s, invoice_no="FP5", price=Decimal("1050.00"))
    found = {x.key: x for x in b.findings("R-MON-1")}
    own = found[f"R-MON-1:claim:{fp4.pk}:1"]
    assert (own.amount, own.pharmacy_id, own.institution_id) == (Decimal("250.00"), s.pharmacy2.pk, s.institution.pk)
    assert own.evidence["dispensings"] == [d.pk]
    run = services.monitoring_run_now(period=b.NOV, now=b.NOW)
    assert run.status == "succeeded"
    outside = Alert.objects.get(finding_key=f"R-MON-1:claim:{fp5.pk}:1")
    assert (outside.amount_at_risk, outside.pharmacy_id, outside.institution_id) == (Decimal("100.00"), None, None)
    assert Alert.objects.get(finding_key=f"R-MON-1:claim:{fp4.pk}:1").pharmacy_id == s.pharmacy2.pk
    with pytest.raises(ApplicationError) as exc:
        services.alert_confirm(alert=outside, actor=f.reviewer(), sanction_kind="deduction", sanction_amount="100",
                               now=b.NOW, today=D(2026, 12, 1))
    assert exc.value.code == "no_organisation"
    outside.refresh_from_db()
    assert outside.status == Alert.Status.OPEN
    services.alert_confirm(alert=outside, actor=f.reviewer(), reason="发票价格高于支付标准", now=b.NOW,
                           today=D(2026, 12, 1))


def test_r_mon_2_physician_suspended_before_the_issue_date_fires_and_before_suspension_does_not():
    """Suspended from 2026-11-10: a prescription issued 2026-11-12 is flagged (fund 450.00 = 50 % of 900.00);
    one issued 2026-11-05 (still filed) is not."""
    s = b.world()
    Physician.objects.filter(pk=s.physician.pk).update(status=Physician.Status.SUSPENDED, revoked_on=D(2026, 11, 10))
    b.dispense(s, day=D(2026, 11, 5))
    late = b.dispense(s, day=D(2026, 11, 12))
    found = b.findings("R-MON-2")
    assert [x.evidence["dispensings"] for x in found] == [[late.pk]]
    assert found[0].amount == Decimal("450.00")
    assert found[0].institution_id == s.institution.pk and found[0].physician_id == s.physician.pk


def test_r_mon_2_drug_outside_the_physicians_therapeutic_areas_fires():
    """An oncology physician's prescription of an endocrine drug is flagged; the oncology drug is not."""
    s = b.world()
    insulin = f.DrugFactory(generic_name="德谷胰岛素", therapeutic_area=f.area("endocrine"))
    b.dispense(s, day=D(2026, 11, 5))
    other = b.dispense(s, day=D(2026, 11, 6), drug=insulin)
    found = b.findings("R-MON-2")
    assert [x.evidence["dispensings"] for x in found] == [[other.pk]]
    assert found[0].evidence["outside_area"] == ["德谷胰岛素"]


def test_r_mon_3_outpatient_without_application_fires_inpatient_and_covered_do_not():
    """A second patient without any application: the outpatient line (fund 450.00) is flagged; the same patient's
    inpatient line is not (R-RX-2: inpatient use needs none); the first patient is covered."""
    s = b.world()
    other = rxf.person(name="李四")
    b.dispense(s, day=D(2026, 11, 5))
    flagged = b.dispense(s, day=D(2026, 11, 6), person=other)
    b.dispense(s, day=D(2026, 11, 7), person=other, care_setting="inpatient")
    found = b.findings("R-MON-3")
    assert [x.evidence["dispensings"] for x in found] == [[flagged.pk]]
    assert found[0].amount == Decimal("450.00") and found[0].person_id == other.pk


def test_r_mon_3_application_expired_before_the_day_fires():
    """The application ends 2026-11-10: the line of 2026-11-09 is covered, that of 2026-11-11 is not."""
    s = b.world()
    s.application.valid_until = D(2026, 11, 10)
    s.application.save(update_fields=["valid_until"])
    b.dispense(s, day=D(2026, 11, 9))
    late = b.dispense(s, day=D(2026, 11, 11))
    assert [x.evidence["dispensings"] for x in b.findings("R-MON-3")] == [[late.pk]]


def test_r_mon_4_code_released_and_dispensed_by_another_pharmacy_fires_same_pharmacy_does_not():
    """Code A: dispensed at pharmacy 1, reversed, dispensed at pharmacy 2 → flagged (the pack's fund 450.00).
    Code B: dispensed at pharmacy 1, reversed, dispensed again at pharmacy 1 (the R-RX-6 correction) → not."""
    s = b.world()
    a, c = b.code(), b.code()
    first_a = b.dispense(s, day=D(2026, 11, 3), codes=[a])
    b.reverse(first_a, day=D(2026, 11, 3))
    again_a = b.dispense(s, day=D(2026, 11, 10), codes=[a], pharmacy=s.pharmacy2)
    first_c = b.dispense(s, day=D(2026, 11, 4), codes=[c])
    b.reverse(first_c, day=D(2026, 11, 4))
    b.dispense(s, day=D(2026, 11, 11), codes=[c])
    found = b.findings("R-MON-4")
    assert len(found) == 1
    assert found[0].evidence["codes"] == [a]
    assert found[0].evidence["dispensings"] == [first_a.pk, again_a.pk]
    assert found[0].pharmacy_id == s.pharmacy2.pk and found[0].amount == Decimal("450.00")


def test_r_mon_5_issue_example_30_20_30_84_days_on_one_day_fires_once():
    """Issue 12: 30 + 20 + 30 + 84 days on 2026-11-05 from two pharmacies. Remaining days when each later line is
    dispensed: 30, 30 + 20 = 50, 50 + 30 = 80 (all above 7): one finding for the patient, variety and month,
    amount 3 × 450.00 = 1,350.00, about the pharmacy of the first flagged line (pharmacy 2)."""
    s = b.world()
    b.dispense(s, day=D(2026, 11, 5), days_supply=30, hour=9)
    b.dispense(s, day=D(2026, 11, 5), days_supply=20, hour=10, pharmacy=s.pharmacy2)
    b.dispense(s, day=D(2026, 11, 5), days_supply=30, hour=11)
    b.dispense(s, day=D(2026, 11, 5), days_supply=84, hour=12, pharmacy=s.pharmacy2)
    found = b.findings("R-MON-5")
    assert len(found) == 1
    assert found[0].evidence["remaining_days"] == [30, 50, 80]
    assert found[0].amount == Decimal("1350.00")
    assert found[0].pharmacy_id == s.pharmacy2.pk
    assert found[0].key == f"R-MON-5:{s.person.pk}:奥希替尼|片剂:2026-11"


def test_r_mon_5_refill_within_the_margin_does_not_fire_one_day_earlier_does():
    """30 days on 11-01, refill at the same pharmacy on 11-24: 30 − 23 = 7 days remaining, not more than the
    7-day margin → no finding. A second patient refilling on 11-23: 8 days remaining → flagged."""
    s = b.world()
    b.dispense(s, day=D(2026, 11, 1), days_supply=30)
    b.dispense(s, day=D(2026, 11, 24), days_supply=30)
    other = rxf.person(name="王五")
    rxf.approved_application(person=other, physician=s.physician, drug=s.drug)
    b.dispense(s, day=D(2026, 11, 1), days_supply=30, person=other)
    b.dispense(s, day=D(2026, 11, 23), days_supply=30, person=other)
    found = b.findings("R-MON-5")
    assert [(x.person_id, x.evidence["remaining_days"]) for x in found] == [(other.pk, [8])]


def test_r_mon_5_margin_is_a_region_setting():
    """With Zhongwei's margin set to 10 days, 8 days remaining is no longer a finding."""
    s = b.world()
    MonitoringSettings.objects.create(region=f.region("640500"), supply_margin_days=10)
    b.dispense(s, day=D(2026, 11, 1), days_supply=30)
    b.dispense(s, day=D(2026, 11, 23), days_supply=30)
    assert b.findings("R-MON-5") == []


def test_r_mon_5_another_pharmacy_within_the_supply_period_fires_even_below_the_margin():
    """30 days at pharmacy 1 on 11-01, pharmacy 2 on 11-29: 2 days remaining (below 7) but another pharmacy
    dispensed within one supply period → flagged; the supply started in October counts (lookback)."""
    s = b.world()
    b.dispense(s, day=D(2026, 10, 31), days_supply=1)
    b.dispense(s, day=D(2026, 11, 1), days_supply=30)
    b.dispense(s, day=D(2026, 11, 29), days_supply=30, pharmacy=s.pharmacy2)
    found = b.findings("R-MON-5")
    assert [(x.pharmacy_id, x.evidence["remaining_days"]) for x in found] == [(s.pharmacy2.pk, [2])]


def test_r_mon_5_reversed_supply_does_not_count():
    """A 30-day supply that was reversed is not running: the next day's supply is no finding."""
    s = b.world()
    first = b.dispense(s, day=D(2026, 11, 1), days_supply=30)
    b.reverse(first, day=D(2026, 11, 1))
    b.dispense(s, day=D(2026, 11, 2), days_supply=30)
    assert b.findings("R-MON-5") == []


def _patients_with_fund(s, funds):
    people = []
    for n, fund in enumerate(funds):
        p = rxf.person(name=f"患者{n}")
        b.dispense(s, day=D(2026, 11, 3 + n), person=p, fund=Decimal(fund))
        people.append(p)
    return people


def test_r_mon_6_top_patient_and_patients_above_three_times_the_median_fire():
    """Zhongwei top N = 1, multiple 3. Funds 1,000, 350, 250 and five × 100 → median (100 + 100) / 2 = 100.
    Flagged: 1,000 (rank 1, above 300) and 350 (above 300); 250 is neither (rank 3, below 300)."""
    s = b.world()
    MonitoringSettings.objects.create(region=f.region("640500"), high_cost_top_n=1)
    people = _patients_with_fund(s, ["1000.00", "350.00", "250.00"] + ["100.00"] * 5)
    found = b.findings("R-MON-6")
    assert [(x.person_id, x.amount) for x in found] == [(people[0].pk, Decimal("1000.00")),
                                                        (people[1].pk, Decimal("350.00"))]
    assert found[0].evidence["median"] == "100.00" and found[0].evidence["rank"] == 1


def test_r_mon_6_defaults_top_five_without_outliers():
    """Defaults (top 5, 3× median): six patients at 100.00 each → the first five by patient id (ties) only."""
    s = b.world()
    people = _patients_with_fund(s, ["100.00"] * 6)
    found = b.findings("R-MON-6")
    assert sorted(x.person_id for x in found) == sorted(p.pk for p in people[:5])


def test_r_mon_6_patient_top_of_two_cities_pools_is_two_findings_and_two_alerts():
    """One patient with 600.00 of fund at a Zhongwei pharmacy (city 640500) and 400.00 at a Yinchuan pharmacy (city
    640100): rank 1 in each city's pool (defaults: top 5) → two findings with their own keys (the city is part of
    the key), amounts 600.00 and 400.00, each about its pharmacy; the batch writes both."""
    from apps.monitoring import services
    from apps.monitoring.models import Alert

    s = b.world()
    yinchuan = f.PharmacyFactory(region=f.region("640104"))
    b.dispense(s, day=D(2026, 11, 3), fund=Decimal("600.00"))
    b.dispense(s, day=D(2026, 11, 20), fund=Decimal("400.00"), pharmacy=yinchuan, days_supply=5)
    found = b.findings("R-MON-6")
    assert sorted((x.pharmacy_id, x.amount) for x in found) == sorted(
        [(s.pharmacy.pk, Decimal("600.00")), (yinchuan.pk, Decimal("400.00"))])
    assert len({x.key for x in found}) == 2
    services.monitoring_run_now(period=b.NOV, now=b.NOW)
    assert Alert.objects.filter(rule="R-MON-6").count() == 2


def test_r_mon_7_pharmacy_unable_to_serve_six_months_fires_five_months_does_not():
    """Judged on 2026-11-30: unable to serve since 2026-05-01 (≥ 6 months) → flagged; since 2026-07-01 → not."""
    s = b.world()
    type(s.pharmacy).objects.filter(pk=s.pharmacy.pk).update(unable_to_serve_since=D(2026, 5, 1))
    type(s.pharmacy2).objects.filter(pk=s.pharmacy2.pk).update(unable_to_serve_since=D(2026, 7, 1))
    found = b.findings("R-MON-7")
    assert [(x.pharmacy_id, x.key) for x in found] == [(s.pharmacy.pk, f"R-MON-7:pharmacy:{s.pharmacy.pk}:2026")]
    assert "无法提供服务" in found[0].summary


def test_r_mon_8_sales_beyond_purchases_fire_covered_sales_and_non_reporting_pharmacy_do_not():
    """Pharmacy 1 bought 2 packs, dispensed 3 in November (fund 1,350.00) → 1 pack too many, amount
    1 × 1,350 / 3 = 450.00. After buying one more: no finding. Pharmacy 2 reports no stock at all: not judged."""
    s = b.world()
    b.stock(s.pharmacy, s.drug, quantity=2, day=D(2026, 10, 1))
    b.dispense(s, day=D(2026, 11, 5), quantity=3)
    b.dispense(s, day=D(2026, 11, 6), quantity=3, pharmacy=s.pharmacy2)
    found = b.findings("R-MON-8")
    assert [(x.pharmacy_id, x.amount, x.evidence["excess"]) for x in found] == [(s.pharmacy.pk, Decimal("450.00"), 1)]
    b.stock(s.pharmacy, s.drug, quantity=1, day=D(2026, 11, 20))
    assert b.findings("R-MON-8") == []


def _peers(s, n):
    doctors = [f.PhysicianFactory(institution=s.institution) for _ in range(n)]
    for k, doc in enumerate(doctors):
        p = rxf.person(name=f"同行患者{k}")
        b.dispense(s, day=D(2026, 11, 2), person=p, physician=doc)
    return doctors


def test_r_mon_9_physician_far_above_peers_fires():
    """Five peers with 1 prescription and 450.00 per patient; the outlier 4 prescriptions for one patient
    (1,800.00). Rx per patient [1, 1, 1, 1, 1, 4]: p95 = 1 + 0.75 × 3 = 3.25 < 4 and 4 ≥ 2 × 1; fund per patient
    p95 = 450 + 0.75 × 1,350 = 1,462.5 < 1,800 and ≥ 900 → one finding, amount 1,800.00."""
    s = b.world()
    _peers(s, 5)
    for day in (3, 10, 17, 24):
        b.dispense(s, day=D(2026, 11, day))
    found = b.findings("R-MON-9")
    assert [(x.physician_id, x.amount) for x in found] == [(s.physician.pk, Decimal("1800.00"))]
    assert found[0].evidence["distribution"]["rx_per_patient"]["percentile"] == 3.25
    assert found[0].evidence["peers"] == 6


def test_r_mon_9_not_judged_with_fewer_peers_than_the_minimum():
    """The same outlier among three peers (4 physicians < 5): no finding."""
    s = b.world()
    _peers(s, 3)
    for day in (3, 10, 17, 24):
        b.dispense(s, day=D(2026, 11, day))
    assert b.findings("R-MON-9") == []
