"""R-SET-5 / R-SET-1 / R-INS-3: the deposit as a region setting and an account, money sanctions that reach the
statement, deferral and its release, carry-forward, annual return. Figures are worked by hand in each docstring.

Every November dispensing below is ``sf.dispensing(quantity=3)``: 3 packs × 980.00 = 2,940.00; first self-pay 10 %
294.00; in scope 2,646.00; fund 75 % = 1,984.50. Zhongwei deposit 5 % of 1,984.50 = 99.225 → 99.23 (half-up);
payable before sanctions 1,984.50 − 99.23 = 1,885.27."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.core.exceptions import ApplicationError
from apps.core.models import Sanction
from apps.core.services import region_settings_apply_preset
from apps.settlement import money_selectors, money_services, services
from apps.settlement.models import DepositEntry, Statement, StatementAdjustment
from tests import factories as f
from tests.settlement import factories as sf

pytestmark = pytest.mark.django_db

OCT, NOV, DEC = dt.date(2026, 10, 1), dt.date(2026, 11, 1), dt.date(2026, 12, 1)
AT = sf.AT  # 2026-12-03 09:00 +08:00
TODAY = dt.date(2026, 12, 3)
D = Decimal


def settle(period):
    return services.settlement_run_now(period=period, clock=sf.clock)


def statement_of(org, period):
    field = "pharmacy" if org.__class__.__name__ == "Pharmacy" else "institution"
    return Statement.objects.get(**{field: org}, period=period)


def confirm(statement, actor, today=TODAY):
    return services.statement_confirm(statement=statement, actor=actor, today=today, now=AT)


def sanction(org, kind, amount, actor, decided_on=dt.date(2026, 12, 1)):
    return money_services.sanction_money_record(organisation=org, kind=kind, amount=amount, decided_on=decided_on,
                                                reason="违规结算", actor=actor, now=AT)


@pytest.fixture
def admin(zhongwei):
    return f.bureau_admin()


@pytest.fixture
def pharmacy(zhongwei):
    p = f.PharmacyFactory()
    sf.dispensing(pharmacy=p, quantity=3)
    return p


def test_r_set_1_zhongwei_deposit_is_five_percent_and_account_agrees_to_the_fen(pharmacy, admin):
    """fund 1,984.50; deposit 99.23; payable 1,885.27; on confirmation the account gets +99.23 (balance 99.23)."""
    settle(NOV)
    s = statement_of(pharmacy, NOV)
    assert (s.deposit_rate, s.fund_payment, s.deposit, s.deductions, s.payable) == (
        D("0.0500"), D("1984.50"), D("99.23"), D("0.00"), D("1885.27"))
    confirm(s, admin)
    summary = money_selectors.deposit_account_summary(pharmacy)
    assert summary["balance"] == D("99.23") == s.deposit
    assert [(e.kind, e.amount, e.balance_after, e.statement_id) for e in summary["entries"]] == [
        ("withheld", D("99.23"), D("99.23"), s.pk)]


def test_r_set_1_hunan_month_has_no_deposit(changsha, zhongwei):
    """Hunan preset: deposit rate 0. fund 1,984.50 → deposit 0.00, payable 1,984.50; no account entry."""
    region_settings_apply_preset(region=changsha, preset="hunan-2026")
    admin = f.bureau_admin(region_code="430100")
    p = f.PharmacyFactory(region=f.region("430102"), code="P430100001")
    sf.dispensing(pharmacy=p, quantity=3)
    settle(NOV)
    s = statement_of(p, NOV)
    assert (s.deposit_rate, s.deposit, s.payable) == (D("0.0000"), D("0.00"), D("1984.50"))
    confirm(s, admin)
    summary = money_selectors.deposit_account_summary(p)
    assert summary["balance"] == D("0.00") and summary["entries"] == []


def test_r_set_5_month_with_a_deduction(pharmacy, admin):
    """Deduction (拒付/追回) 1,000.00 → payable 1,984.50 − 99.23 − 1,000.00 = 885.27, one line naming the sanction
    and who decided; a rerun of the month leaves exactly that one line."""
    settle(NOV)
    sanction_obj = sanction(pharmacy, Sanction.Kind.DEDUCTION, D("1000.00"), admin)
    s = statement_of(pharmacy, NOV)
    assert (s.deductions, s.payable) == (D("1000.00"), D("885.27"))
    settle(NOV)  # idempotent
    s.refresh_from_db()
    lines = list(s.adjustments.all())
    assert [(x.kind, x.amount, x.carried_forward, x.sanction_id, x.decided_by_id) for x in lines] == [
        ("deduction", D("1000.00"), D("0.00"), sanction_obj.pk, admin.pk)]
    assert (s.deductions, s.payable) == (D("1000.00"), D("885.27"))
    confirm(s, admin)
    s.refresh_from_db()
    assert s.payable == D("885.27") and s.status == "confirmed"
    # the next month no longer deducts anything
    sf.dispensing(pharmacy=pharmacy, quantity=3, period=DEC)
    settle(DEC)
    assert statement_of(pharmacy, DEC).deductions == D("0.00")


def test_r_set_5_deduction_exceeding_the_fund_payment_is_carried_forward(pharmacy, admin):
    """Deduction 2,500.00. November: room 1,885.27 → deducted 1,885.27, payable 0.00, carried 614.73.
    December (same dispensing): room 1,885.27 → deducted 614.73, payable 1,270.54. Total deducted 2,500.00."""
    settle(NOV)
    s_obj = sanction(pharmacy, Sanction.Kind.DEDUCTION, D("2500.00"), admin)
    settle(NOV)
    nov = statement_of(pharmacy, NOV)
    line = nov.adjustments.get()
    assert (line.outstanding, line.amount, line.carried_forward) == (D("2500.00"), D("1885.27"), D("614.73"))
    assert nov.payable == D("0.00")
    confirm(nov, admin)
    sf.dispensing(pharmacy=pharmacy, quantity=3, period=DEC)
    settle(DEC)
    settle(DEC)
    dec = statement_of(pharmacy, DEC)
    line = dec.adjustments.get()
    assert (line.outstanding, line.amount, line.carried_forward) == (D("614.73"), D("614.73"), D("0.00"))
    assert (dec.deductions, dec.payable) == (D("614.73"), D("1270.54"))
    confirm(dec, admin, today=dt.date(2027, 1, 4))
    total = StatementAdjustment.objects.filter(sanction=s_obj).values_list("amount", flat=True)
    assert sum(total) == D("2500.00")


def test_r_set_5_deposit_deduction_comes_out_of_the_account_not_the_payable(pharmacy, admin):
    """October confirmed: balance 99.23. Deposit deduction 150.00 on November: available 99.23 + 99.23 = 198.46
    → deducted 150.00, balance 48.46; payable stays 1,885.27."""
    sf.dispensing(pharmacy=pharmacy, quantity=3, period=OCT)
    settle(OCT)
    confirm(statement_of(pharmacy, OCT), admin)
    settle(NOV)
    s_obj = sanction(pharmacy, Sanction.Kind.DEPOSIT_DEDUCTION, D("150.00"), admin)
    nov = statement_of(pharmacy, NOV)
    assert nov.payable == D("1885.27")
    confirm(nov, admin)
    summary = money_selectors.deposit_account_summary(pharmacy)
    assert [(e.kind, e.amount, e.balance_after) for e in summary["entries"]] == [
        ("withheld", D("99.23"), D("99.23")), ("withheld", D("99.23"), D("198.46")),
        ("deducted", D("-150.00"), D("48.46"))]
    assert summary["balance"] == D("48.46") and summary["entries"][-1].sanction_id == s_obj.pk


def test_r_set_5_deposit_deduction_never_takes_the_balance_below_zero(pharmacy, admin):
    """Deposit deduction 300.00 with only November's 99.23 withheld: 99.23 deducted, balance 0.00, 200.77 waits."""
    settle(NOV)
    sanction(pharmacy, Sanction.Kind.DEPOSIT_DEDUCTION, D("300.00"), admin)
    nov = statement_of(pharmacy, NOV)
    confirm(nov, admin)
    line = nov.adjustments.get()
    assert (line.amount, line.carried_forward) == (D("99.23"), D("200.77"))
    assert money_selectors.deposit_account_summary(pharmacy)["balance"] == D("0.00")


def test_r_set_5_deferral_holds_the_payable_until_released_once(pharmacy, admin):
    """Deferral (暂缓拨付): November payable 1,885.27 held entirely (pay now 0.00); after the release held 0.00 and
    pay now 1,885.27; a second release is refused and writes nothing."""
    settle(NOV)
    deferral = sanction(pharmacy, Sanction.Kind.PAYMENT_DEFERRAL, None, admin)
    nov = statement_of(pharmacy, NOV)
    confirm(nov, admin)
    listing = money_selectors.payment_list(period=NOV, region=None)
    row = listing["rows"][0]
    assert (row["payable"], row["held"], row["pay_now"]) == (D("1885.27"), D("1885.27"), D("0.00"))
    money_services.deferral_release(sanction=deferral, actor=admin, reason="整改完成", now=AT)
    row = money_selectors.payment_list(period=NOV, region=None)["rows"][0]
    assert (row["payable"], row["held"], row["pay_now"]) == (D("1885.27"), D("0.00"), D("1885.27"))
    with pytest.raises(ApplicationError) as exc:
        money_services.deferral_release(sanction=deferral, actor=admin, reason="再次", now=AT)
    assert exc.value.code == "already_released"
    from apps.core.models import Event
    assert Event.objects.filter(action="deferral_released").count() == 1


def test_r_set_5_annual_return_of_part_of_the_deposit(pharmacy, admin):
    """2026: October and November withheld 99.23 each = 198.46. Part return of 120.00 → balance 78.46, decision and
    who recorded; returning 2026 again is refused; more than returnable is refused."""
    sf.dispensing(pharmacy=pharmacy, quantity=3, period=OCT)
    settle(OCT)
    confirm(statement_of(pharmacy, OCT), admin)
    settle(NOV)
    confirm(statement_of(pharmacy, NOV), admin)
    with pytest.raises(ApplicationError) as exc:
        money_services.deposit_return(organisation=pharmacy, year=2026, decision="part", amount=D("198.47"),
                                      actor=admin, reason="考核良好", now=AT)
    assert exc.value.code == "invalid"
    entry = money_services.deposit_return(organisation=pharmacy, year=2026, decision="part", amount=D("120.00"),
                                          actor=admin, reason="考核合格，部分返还", now=AT)
    assert (entry.amount, entry.balance_after, entry.decision, entry.decided_by_id) == (
        D("-120.00"), D("78.46"), "part", admin.pk)
    with pytest.raises(ApplicationError) as exc:
        money_services.deposit_return(organisation=pharmacy, year=2026, decision="all", actor=admin, reason="x", now=AT)
    assert exc.value.code == "already_returned"
    assert money_selectors.deposit_account_summary(pharmacy)["balance"] == D("78.46")


def test_r_set_5_bad_money_sanctions_change_nothing(pharmacy, admin):
    settle(NOV)
    for kind, amount in ((Sanction.Kind.DEDUCTION, D("-5.00")), (Sanction.Kind.DEDUCTION, D("0")),
                         (Sanction.Kind.INTERVIEW, D("10.00")), (Sanction.Kind.DEDUCTION, D("1.005"))):
        with pytest.raises(ApplicationError):
            sanction(pharmacy, kind, amount, admin)
    assert not Sanction.objects.exists() and not StatementAdjustment.objects.exists()
    assert statement_of(pharmacy, NOV).payable == D("1885.27")


def test_r_set_1_confirming_the_month_twice_is_refused_and_books_once(pharmacy, admin):
    """Month confirmation: the second administrator is told nothing is left; one withheld entry of 99.23."""
    settle(NOV)
    money_services.statements_confirm_month(period=NOV, region=admin.region, actor=admin, today=TODAY, now=AT)
    with pytest.raises(ApplicationError) as exc:
        money_services.statements_confirm_month(period=NOV, region=admin.region, actor=admin, today=TODAY, now=AT)
    assert exc.value.code == "nothing_to_confirm"
    assert DepositEntry.objects.count() == 1


def test_r_set_5_payment_list_refused_for_an_unconfirmed_month(pharmacy, admin):
    settle(NOV)
    with pytest.raises(ApplicationError) as exc:
        money_selectors.payment_list(period=NOV, region=admin.region)
    assert exc.value.code == "period_not_confirmed"


def test_r_set_5_sanction_recorded_through_the_registry_api_reaches_the_draft_at_once(pharmacy, admin, api_as):
    """POST /api/v1/pharmacies/{id}/sanction/ with a deduction of 300.00 → the November draft at once shows
    deductions 300.00, payable 1,885.27 − 300.00 = 1,585.27 (registries.hooks.sanction_recorded)."""
    settle(NOV)
    r = api_as(admin).post(f"/api/v1/pharmacies/{pharmacy.pk}/sanction/", {
        "kind": "deduction", "decided_on": "2026-12-01", "reason": "超量配药追回", "amount": "300.00"}, format="json")
    assert r.status_code == 201, r.content
    s = statement_of(pharmacy, NOV)
    assert (s.deductions, s.payable) == (D("300.00"), D("1585.27"))
    assert s.adjustments.get().sanction_id == r.json()["id"]
