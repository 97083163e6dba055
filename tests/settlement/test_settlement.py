"""R-SET-1: monthly statements per institution and pharmacy, exact to the fen, repeatable, locked once confirmed."""
import datetime as dt
from decimal import Decimal
from unittest import mock

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.prescriptions.models import Delivery, Dispensing
from apps.settlement import services, settlement_sql
from apps.settlement.models import SettlementRun, Statement, StatementLine
from apps.settlement.selectors import dispensing_period_is_locked, period_is_locked, statement_line_sums
from apps.settlement.periods import next_period
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

NOV, DEC = dt.date(2026, 11, 1), dt.date(2026, 12, 1)


@pytest.fixture
def month(zhongwei):
    """Two pharmacies and one hospital in November: R-PAY-4's worked examples plus a ward delivery and a
    self-paid dispensing (not on any statement)."""
    hospital = f.InstitutionFactory()
    p1, p2 = f.PharmacyFactory(), f.PharmacyFactory()
    drug = f.DrugFactory()
    data = {
        "hospital": hospital, "p1": p1, "p2": p2, "drug": drug,
        # R-PAY-4: 3 packs at 980.00 with the 500 deductible → fund 1609.50; 1 pack → fund 661.50
        "d1": sf.dispensing(pharmacy=p1, institution=hospital, drug=drug, quantity=3, deductible="500.00"),
        "d2": sf.dispensing(pharmacy=p1, institution=hospital, drug=drug, quantity=1),
        # 1 pack at 333.33: total 333.33, first self-pay 33.33, in scope 300.00, fund 225.00
        "d3": sf.dispensing(pharmacy=p2, institution=hospital, drug=drug, quantity=1, unit_price="333.33"),
        # a delivery to the ward is settled with the hospital
        "ward": sf.dispensing(pharmacy=p2, institution=hospital, drug=drug, quantity=2, delivery=Delivery.WARD),
        "self_paid": sf.dispensing(pharmacy=p1, institution=hospital, drug=drug, quantity=1,
                                   settlement=Dispensing.Settlement.SELF_PAID),
        # another month: not on November's statements
        "december": sf.dispensing(pharmacy=p1, institution=hospital, drug=drug, quantity=1, period=DEC),
    }
    return data


def _statement(org, period=NOV):
    field = "pharmacy" if org.__class__.__name__ == "Pharmacy" else "institution"
    return Statement.objects.get(**{field: org}, period=period)


def test_r_set_1_statement_figures_equal_their_lines_to_the_fen(month):
    run = services.settlement_run_now(period=NOV, clock=sf.clock)
    assert run.status == SettlementRun.Status.SUCCEEDED and run.progress == 100

    s1 = _statement(month["p1"])
    assert (s1.visits, s1.total, s1.fund_payment, s1.personal_payment) == (
        2, Decimal("3920.00"), Decimal("2271.00"), Decimal("1649.00"))
    assert s1.deposit == Decimal("113.55") and s1.payable == Decimal("2157.45")
    s2 = _statement(month["p2"])
    assert (s2.visits, s2.total, s2.fund_payment) == (1, Decimal("333.33"), Decimal("225.00"))
    # the ward delivery (2 × 980.00: in scope 1764.00, fund 1323.00) is the hospital's
    hospital = _statement(month["hospital"])
    assert (hospital.visits, hospital.total, hospital.fund_payment) == (1, Decimal("1960.00"), Decimal("1323.00"))
    assert hospital.deposit == Decimal("66.15") and hospital.payable == Decimal("1256.85")

    for statement in (s1, s2, hospital):
        sums = statement_line_sums(statement)
        assert sums["visits"] == statement.visits
        assert sums["total"] == statement.total
        assert sums["fund_payment"] == statement.fund_payment
        assert sums["personal_payment"] == statement.personal_payment
    covered = set(StatementLine.objects.values_list("dispensing_id", flat=True))
    assert covered == {month["d1"].pk, month["d2"].pk, month["d3"].pk, month["ward"].pk}  # not self-paid, not December


@pytest.mark.parametrize("unit_price, deposit, payable", [
    ("12.30", "0.62", "11.68"),     # 0.615 → 0.62 (half up)
    ("12.10", "0.61", "11.49"),     # 0.605 → 0.61
    ("12.20", "0.61", "11.59"),     # 0.61 exactly
    ("100000.01", "5000.00", "95000.01"),  # 5000.0005 → 5000.00
])
def test_r_set_1_deposit_is_5_percent_of_fund_rounded_half_up(zhongwei, unit_price, deposit, payable):
    pharmacy = f.PharmacyFactory()
    sf.dispensing(pharmacy=pharmacy, quantity=1, unit_price=unit_price, fund_ratio="1", first_self_pay_ratio="0")
    services.settlement_run_now(period=NOV, clock=sf.clock)
    statement = _statement(pharmacy)
    assert statement.fund_payment == Decimal(unit_price)
    assert statement.deposit == Decimal(deposit)
    assert statement.payable == Decimal(payable)
    assert statement.deposit + statement.payable == statement.fund_payment


def test_r_set_1_rerun_reproduces_the_month_exactly(month):
    services.settlement_run_now(period=NOV, clock=sf.clock)
    before = list(Statement.objects.order_by("id").values("id", "visits", "total", "fund_payment", "personal_payment",
                                                          "deposit", "payable"))
    lines_before = set(StatementLine.objects.values_list("statement_id", "dispensing_id"))

    services.settlement_run_now(period=NOV, clock=sf.clock)
    after = list(Statement.objects.order_by("id").values("id", "visits", "total", "fund_payment", "personal_payment",
                                                         "deposit", "payable"))
    assert after == before  # same statements, same ids, same figures
    assert set(StatementLine.objects.values_list("statement_id", "dispensing_id")) == lines_before
    assert StatementLine.objects.count() == 4  # never double-counted


def test_r_set_1_rerun_picks_up_late_dispensings_and_drops_empty_drafts(month):
    services.settlement_run_now(period=NOV, clock=sf.clock)
    late = sf.dispensing(pharmacy=month["p2"], institution=month["hospital"], drug=month["drug"], quantity=1)
    # the only November dispensing of p1 that is on a statement moves away: p1's drafts must follow
    sf.move_dispensings([month["d1"].pk, month["d2"].pk], period=DEC)

    services.settlement_run_now(period=NOV, clock=sf.clock)
    s2 = _statement(month["p2"])
    assert s2.visits == 2 and s2.fund_payment == Decimal("225.00") + late.fund_payment
    assert not Statement.objects.filter(pharmacy=month["p1"], period=NOV).exists()
    assert statement_line_sums(s2)["fund_payment"] == s2.fund_payment


def test_r_set_1_one_statement_per_organisation_and_month_by_constraint(month):
    services.settlement_run_now(period=NOV, clock=sf.clock)
    existing = _statement(month["p1"])
    with pytest.raises(IntegrityError), transaction.atomic():
        Statement.objects.create(organisation_kind="pharmacy", pharmacy=month["p1"], period=NOV,
                                 computed_at=existing.computed_at)
    with pytest.raises(IntegrityError), transaction.atomic():
        Statement.objects.create(organisation_kind="institution", institution=month["hospital"], period=NOV,
                                 computed_at=existing.computed_at)
    with pytest.raises(IntegrityError), transaction.atomic():  # a dispensing on two statements
        StatementLine.objects.create(statement=_statement(month["p2"]), dispensing=month["d1"], period=NOV)


def test_r_set_1_confirmed_statement_is_locked_and_later_reversal_goes_to_next_month(month):
    services.settlement_run_now(period=NOV, clock=sf.clock)
    admin = f.bureau_admin()
    confirmed = services.statement_confirm(statement=_statement(month["p1"]), actor=admin, today=DEC,
                                          now=timezone.make_aware(dt.datetime(2026, 12, 1, 9)))
    assert confirmed.status == Statement.Status.CONFIRMED
    assert period_is_locked(organisation=month["p1"], period=NOV)
    assert not period_is_locked(organisation=month["p2"], period=NOV)
    assert dispensing_period_is_locked(dispensing=month["d1"])

    # the pharmacy reverses d2 after confirmation: its period is the next open month
    period = next_period(NOV) if dispensing_period_is_locked(dispensing=month["d2"]) else NOV
    assert period == DEC
    sf.reversal(month["d2"], period=period)
    # and a late November dispensing would not sneak into the locked statement either
    sf.dispensing(pharmacy=month["p1"], institution=month["hospital"], drug=month["drug"], quantity=1)

    services.settlement_run_now(period=NOV, clock=sf.clock)
    locked = _statement(month["p1"])
    assert (locked.visits, locked.fund_payment, locked.payable) == (2, Decimal("2271.00"), Decimal("2157.45"))
    assert locked.status == Statement.Status.CONFIRMED

    services.settlement_run_now(period=DEC, clock=sf.clock)
    dec = _statement(month["p1"], DEC)
    # December: the December dispensing (+661.50) and the reversal of d2 (−661.50)
    assert dec.visits == 0 and dec.fund_payment == Decimal("0.00") and dec.total == Decimal("0.00")
    assert dec.lines.count() == 2

    with pytest.raises(Exception) as exc:
        services.statement_confirm(statement=locked, actor=admin, today=DEC,
                                   now=timezone.make_aware(dt.datetime(2026, 12, 1, 9)))
    assert getattr(exc.value, "code", "") == "statement_locked"


def test_r_set_1_interrupted_run_leaves_nothing_half_written_and_rerun_completes(month):
    real = settlement_sql.settle_chunk
    calls = {"n": 0}

    def dies_on_second_chunk(**kwargs):
        calls["n"] += 1
        result = real(**kwargs)
        if calls["n"] == 2:  # the worker dies after writing part of the chunk
            raise RuntimeError("worker lost")
        return result

    with mock.patch.object(settlement_sql, "settle_chunk", side_effect=dies_on_second_chunk):
        run = services.settlement_run_now(period=NOV, clock=sf.clock)
    assert run.status == SettlementRun.Status.FAILED and "worker lost" in run.error
    assert 0 < run.steps_done < run.steps_total
    # what was written is whole: each statement equals its lines; the failed chunk wrote nothing
    for statement in Statement.objects.all():
        assert statement_line_sums(statement)["fund_payment"] == statement.fund_payment
        assert statement.lines.exists()
    assert Statement.objects.count() == run.steps_done  # one organisation per chunk here

    rerun = services.settlement_run_now(period=NOV, clock=sf.clock)
    assert rerun.status == SettlementRun.Status.SUCCEEDED
    assert Statement.objects.filter(period=NOV).count() == 3
    assert StatementLine.objects.count() == 4
    assert _statement(month["p1"]).payable == Decimal("2157.45")


def test_r_set_1_reversal_within_the_month_nets_out(month):
    sf.reversal(month["d3"], period=NOV)
    services.settlement_run_now(period=NOV, clock=sf.clock)
    s2 = _statement(month["p2"])
    assert s2.visits == 0 and s2.total == Decimal("0.00") and s2.fund_payment == Decimal("0.00")
    assert s2.lines.count() == 2
