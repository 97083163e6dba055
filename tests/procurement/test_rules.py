"""Section 10 rules (R-VBP-1..6) on hand-computed figures."""
import datetime as dt
from decimal import Decimal

import pytest

from apps.catalogue.models import PaymentStandard
from apps.catalogue.selectors import payment_standard_on
from apps.core.exceptions import ApplicationError
from apps.core.models import Event, EventAction
from apps.procurement import selectors, services
from apps.procurement.models import Agreement, Contract, FundEntry, LinkedStandard, Repayment
from tests import factories as f
from tests.procurement import factories as pf

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _institutions(n):
    return [f.InstitutionFactory(code=f"H6405009{i:02d}", name=f"医院{i}") for i in range(1, n + 1)]


# --- R-VBP-1 ----------------------------------------------------------------------------------------------------

def test_r_vbp_1_cycle_follows_firm_count_and_extends_once_with_decision():
    """Execution 2026-01-01: one or two firms → one year (to 2026-12-31), three → two years (to 2027-12-31);
    extended once → 2028-12-31; a second extension and an extension without a decision are refused."""
    r = pf.round_()
    one = pf.product(r, code="V1", firms=["甲"])
    two = pf.product(r, code="V2", firms=["甲", "乙"])
    three = pf.product(r, code="V3", firms=["甲", "乙", "丙"])
    assert (one.cycle_years, one.cycle_end) == (1, dt.date(2026, 12, 31))
    assert (two.cycle_years, two.cycle_end) == (1, dt.date(2026, 12, 31))
    assert (three.cycle_years, three.cycle_end) == (2, dt.date(2027, 12, 31))

    with pytest.raises(ApplicationError) as exc:
        services.winning_product_extend(product=three, decision="  ", decided_on=dt.date(2027, 11, 1), actor=None)
    assert exc.value.code == "invalid"
    three = services.winning_product_extend(product=three, decision="营医保〔2027〕12号", decided_on=dt.date(2027, 11, 1),
                                            actor=None)
    assert three.cycle_end == dt.date(2028, 12, 31) and three.extension_decision == "营医保〔2027〕12号"
    with pytest.raises(ApplicationError) as exc:
        services.winning_product_extend(product=three, decision="再延", decided_on=dt.date(2028, 1, 1), actor=None)
    assert exc.value.code == "already_extended"
    assert Event.objects.filter(action=EventAction.PROCUREMENT_CYCLE_EXTENDED).count() == 1


def test_r_vbp_1_firm_count_must_match_the_firms_listed():
    r = pf.round_()
    with pytest.raises(ApplicationError) as exc:
        services.winning_product_create(round_=r, actor=None, code="V9", generic_name="x", dosage_form="片剂",
                                        specification="1", firms=["甲", "乙"], firm_count=3,
                                        winning_price=Decimal("1.00"), execution_date=pf.EXECUTION)
    assert exc.value.code == "firm_count_mismatch"


# --- R-VBP-2 ----------------------------------------------------------------------------------------------------

def test_r_vbp_2_decomposition_among_five_institutions_sums_exactly():
    """Base 1,000, one firm → 500 packs. Base uses 7, 5, 3, 2, 1 (sum 18). Exact shares 194.44, 138.89, 83.33,
    55.56, 27.78; floors 194 + 138 + 83 + 55 + 27 = 497; the 3 packs left go to the largest remainders
    (500·w mod 18: 8, 16, 6, 10, 14 → the institutions of weight 5, 1, 2): 194, 139, 83, 56, 28 = 500."""
    hospitals = _institutions(5)
    p = pf.product(pf.round_(), firms=["甲"])
    pf.bases(p, 1000, dict(zip(hospitals, [7, 5, 3, 2, 1])))

    contract = services.contract_decompose(product=p, cycle_year=1, actor=None)

    parts = {a.institution.code: a.agreed_volume for a in contract.agreements.all()}
    assert [parts[h.code] for h in hospitals] == [194, 139, 83, 56, 28]
    assert sum(parts.values()) == contract.agreed_volume == 500
    assert (contract.starts_on, contract.ends_on) == (dt.date(2026, 1, 1), dt.date(2026, 12, 31))


def test_r_vbp_2_largest_remainder_is_exact_for_any_split():
    for total in (0, 1, 7, 500, 1001):
        parts = services.largest_remainder(total, {"a": 1, "b": 1, "c": 1})
        assert sum(parts.values()) == total and max(parts.values()) - min(parts.values()) <= 1


@pytest.mark.parametrize("firms, base, expected", [
    (["甲"], 1000, 500), (["甲", "乙"], 1000, 600), (["甲", "乙", "丙"], 1000, 700),
    (["甲"], 333, 167),  # 166.5 half-up
    (["甲", "乙"], 333, 200),  # 199.8
    (["甲", "乙", "丙"], 333, 233),  # 233.1
])
def test_r_vbp_2_first_year_is_50_60_70_percent_of_base_by_number_of_firms(firms, base, expected):
    """First-year agreed volume = base × 50 % (one firm), 60 % (two), 70 % (three), half-up to a pack."""
    hospital = f.InstitutionFactory()
    p = pf.product(pf.round_(), firms=firms)
    pf.bases(p, base, {hospital: 10})
    contract = services.contract_decompose(product=p, cycle_year=1, actor=None)
    assert contract.agreed_volume == expected
    assert contract.agreements.get().agreed_volume == expected


def test_r_vbp_2_second_year_below_first_is_refused():
    """Three firms, base 1,000 → first year 700 (base uses 2 : 1 → 467 + 233). A second year of 699 is refused and
    writes nothing; 800 keeps each first-year part and splits the 100 more 2 : 1 → 467 + 67 = 534, 233 + 33 = 266."""
    a, b = _institutions(2)
    p = pf.product(pf.round_(), firms=["甲", "乙", "丙"])
    pf.bases(p, 1000, {a: 2, b: 1})
    first = services.contract_decompose(product=p, cycle_year=1, actor=None)
    assert {x.institution_id: x.agreed_volume for x in first.agreements.all()} == {a.pk: 467, b.pk: 233}

    with pytest.raises(ApplicationError) as exc:
        services.contract_decompose(product=p, cycle_year=2, agreed_volume=699, actor=None)
    assert exc.value.code == "second_year_below_first"
    assert not Contract.objects.filter(cycle_year=2).exists()

    second = services.contract_decompose(product=p, cycle_year=2, agreed_volume=800, actor=None)
    assert {x.institution_id: x.agreed_volume for x in second.agreements.all()} == {a.pk: 534, b.pk: 266}
    assert (second.starts_on, second.ends_on) == (dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    with pytest.raises(ApplicationError) as exc:  # a one-year cycle has no second year
        q = pf.product(p.round, code="V2", firms=["甲"])
        pf.bases(q, 100, {a: 1})
        services.contract_decompose(product=q, cycle_year=2, actor=None)
    assert exc.value.code == "cycle_year_out_of_range"


# --- R-VBP-3 ----------------------------------------------------------------------------------------------------

def test_r_vbp_3_completion_and_even_pace_on_a_three_month_sample():
    """Agreed 1,200 each for A and B from 2026-01-01 (even pace: 100 a month).
    A buys 100, 100, 50 of the winning product and 50 of another firm's in March: at 31 March completion
    250 / 1,200 = 20.83 %, pace 3/12 = 25 %, 4.17 points behind (within the 10-point margin), winning share
    250 / 300 = 83.33 %. B buys 50 and 30: 80 / 1,200 = 6.67 %, 18.33 points behind → flagged. At 31 January A is
    at 8.33 % = pace, B at 4.17 % (4.17 points behind, not flagged)."""
    a, b = _institutions(2)
    p = pf.product(pf.round_(), firms=["甲"], price="10.00")
    pf.bases(p, 4800, {a: 1, b: 1})  # 2,400 in year one → 1,200 each
    services.contract_decompose(product=p, cycle_year=1, actor=None)
    for month, qty in ((1, 100), (2, 100), (3, 50)):
        pf.purchase(institution=a, product_obj=p, quantity=qty, on=dt.date(2026, month, 15))
    pf.purchase(institution=a, product_obj=p, quantity=50, on=dt.date(2026, 3, 20), firm="非中选企业")
    pf.purchase(institution=b, product_obj=p, quantity=50, on=dt.date(2026, 1, 10))
    pf.purchase(institution=b, product_obj=p, quantity=30, on=dt.date(2026, 2, 10))

    rows = {r["institution"].pk: r for r in selectors.agreement_progress(as_of=dt.date(2026, 3, 31))}
    assert (rows[a.pk]["purchased"], rows[a.pk]["other_use"]) == (250, 50)
    assert rows[a.pk]["completion"] == Decimal("0.2083") and rows[a.pk]["expected"] == Decimal("0.2500")
    assert rows[a.pk]["behind_pace"] is False
    assert rows[a.pk]["winning_share"] == Decimal("0.8333") and rows[a.pk]["low_use"] is False
    assert rows[b.pk]["completion"] == Decimal("0.0667") and rows[b.pk]["behind_pace"] is True
    assert rows[b.pk]["expected_volume"] == 300

    january = {r["institution"].pk: r for r in selectors.agreement_progress(as_of=dt.date(2026, 1, 31))}
    assert january[a.pk]["completion"] == Decimal("0.0833") == january[a.pk]["expected"]
    assert january[b.pk]["completion"] == Decimal("0.0417") and january[b.pk]["behind_pace"] is False

    # the monthly job stores the same figures as March's snapshot (idempotent)
    assert services.completion_recompute(period=dt.date(2026, 3, 1)) == 2
    assert services.completion_recompute(period=dt.date(2026, 3, 1)) == 2
    snap = Agreement.objects.get(institution=b).snapshots.get()
    assert (snap.completion, snap.behind_pace, snap.purchased) == (Decimal("0.0667"), True, 80)


def test_r_vbp_3_purchases_after_completion_still_count_and_low_use_is_flagged():
    """Agreed 100 (base 200, one firm); 130 bought at the winning price → 130 %. 130 winning against 200 of
    another firm → share 130 / 330 = 39.39 % < 50 % → low use."""
    a = f.InstitutionFactory()
    p = pf.product(pf.round_(), firms=["甲"], price="2.50")
    pf.bases(p, 200, {a: 1})
    services.contract_decompose(product=p, cycle_year=1, actor=None)
    pf.purchase(institution=a, product_obj=p, quantity=130, on=dt.date(2026, 2, 1))
    pf.purchase(institution=a, product_obj=p, quantity=200, on=dt.date(2026, 2, 2), firm="乙")
    row = selectors.agreement_progress(as_of=dt.date(2026, 2, 28))[0]
    assert row["completion"] == Decimal("1.3000") and row["remaining"] == 0
    assert row["winning_share"] == Decimal("0.3939") and row["low_use"] is True
    # a winning firm's purchase must be at the winning price: 10 × 2.50 = 25.00
    with pytest.raises(ApplicationError) as exc:
        services.purchase_facts(product=p, firm="甲", quantity=10, amount=Decimal("26.00"))
    assert exc.value.code == "price_not_winning"
    with pytest.raises(ApplicationError) as exc:
        services.purchase_facts(product=p, firm="甲", quantity=-1, amount=Decimal("25.00"))
    assert exc.value.code == "negative_quantity"


# --- R-VBP-4 ----------------------------------------------------------------------------------------------------

def _round_with_agreed_amount():
    """Two varieties: 10.00 × 500 = 5,000.00 and 2.50 × 600 = 1,500.00 → annual agreed amount 6,500.00."""
    a = f.InstitutionFactory()
    r = pf.round_()
    p1 = pf.product(r, code="V1", firms=["甲"], price="10.00")
    p2 = pf.product(r, code="V2", firms=["乙", "丙"], price="2.50")
    pf.bases(p1, 1000, {a: 1})
    pf.bases(p2, 1000, {a: 1})
    services.contract_decompose(product=p1, cycle_year=1, actor=None)
    services.contract_decompose(product=p2, cycle_year=1, actor=None)
    return r


def test_r_vbp_4_advance_below_half_of_annual_agreed_amount_is_refused():
    """Annual agreed amount 6,500.00 → the advance must be at least 3,250.00: 3,249.99 is refused (nothing
    written), 3,250.00 is recorded. A settlement of 1,000.00 with firm 甲 leaves 2,250.00; 2,250.01 more is
    refused; a repayment of 25.00 brings the balance to 2,275.00 — always computed from the entries."""
    r = _round_with_agreed_amount()
    assert selectors.annual_agreed_amount(round_=r, cycle_year=1) == Decimal("6500.00")
    with pytest.raises(ApplicationError) as exc:
        services.fund_advance(round_=r, amount=Decimal("3249.99"), occurred_on=dt.date(2026, 1, 5), actor=None)
    assert exc.value.code == "advance_below_minimum" and exc.value.data["minimum"] == "3250.00"
    assert not FundEntry.objects.exists()

    services.fund_advance(round_=r, amount=Decimal("3250.00"), occurred_on=dt.date(2026, 1, 5), actor=None)
    services.fund_settle(round_=r, firm="甲", amount=Decimal("1000.00"), occurred_on=dt.date(2026, 2, 5), actor=None)
    assert selectors.fund_balance(r.fund_account) == Decimal("2250.00")
    with pytest.raises(ApplicationError) as exc:
        services.fund_settle(round_=r, firm="甲", amount=Decimal("2250.01"), occurred_on=dt.date(2026, 2, 6), actor=None)
    assert exc.value.code == "fund_insufficient"
    with pytest.raises(ApplicationError) as exc:
        services.fund_settle(round_=r, firm="不相干", amount=Decimal("1.00"), occurred_on=dt.date(2026, 2, 6), actor=None)
    assert exc.value.code == "unknown_firm"

    p1 = r.products.get(code="V1")
    invoice = pf.purchase(institution=p1.base_uses.get().institution, product_obj=p1, quantity=10,
                          on=dt.date(2026, 2, 1))  # 10 × 10.00 = 100.00
    services.repayment_record(purchase=invoice, amount=Decimal("25.00"), paid_on=dt.date(2026, 2, 10), actor=None)
    statement = selectors.fund_statement(r.fund_account)
    assert statement["balance"] == Decimal("2275.00") == selectors.fund_balance(r.fund_account)
    assert [l["balance"] for l in statement["lines"]] == [Decimal("3250.00"), Decimal("2250.00"), Decimal("2275.00")]


# --- R-VBP-5 ----------------------------------------------------------------------------------------------------

def test_r_vbp_5_invoice_paid_on_day_30_is_on_time_day_31_is_overdue():
    """Invoices of 2026-03-01 are due 2026-03-31 (day 30). Repaid on 03-31: on time (0 days). Repaid on 04-01
    (day 31): late by 1 day. Unpaid on 04-10: overdue 10 days and listed; the institution has two late invoices
    in 2026 → flagged for a notice or interview."""
    a = f.InstitutionFactory(code="H640500077", name="迟缓医院")
    p = pf.product(pf.round_(), firms=["甲"], price="10.00")
    on_time = pf.purchase(institution=a, product_obj=p, quantity=10, on=dt.date(2026, 3, 1), invoice_no="F1")
    late = pf.purchase(institution=a, product_obj=p, quantity=10, on=dt.date(2026, 3, 1), invoice_no="F2")
    unpaid = pf.purchase(institution=a, product_obj=p, quantity=10, on=dt.date(2026, 3, 1), invoice_no="F3")
    assert on_time.due_on == dt.date(2026, 3, 31)
    services.repayment_record(purchase=on_time, amount=Decimal("100.00"), paid_on=dt.date(2026, 3, 31), actor=None)
    services.repayment_record(purchase=late, amount=Decimal("100.00"), paid_on=dt.date(2026, 4, 1), actor=None)

    today = dt.date(2026, 4, 10)
    admin = f.bureau_admin()
    invoices = {i.invoice_no: i for i in selectors.invoices_visible_to(admin, today=today)}
    assert selectors.invoice_status(invoices["F1"], today=today) == "paid"
    assert selectors.days_overdue(invoices["F1"], today=today) == 0
    assert selectors.invoice_status(invoices["F2"], today=today) == "paid_late"
    assert selectors.days_overdue(invoices["F2"], today=today) == 1
    assert selectors.invoice_status(invoices["F3"], today=today) == "overdue"
    assert selectors.days_overdue(invoices["F3"], today=today) == 10
    assert [i.invoice_no for i in selectors.overdue_invoices(admin, today=today)] == ["F3"]
    assert selectors.repeat_offenders(admin, year=2026, today=today) == [
        {"code": "H640500077", "name": "迟缓医院", "count": 2, "threshold": 2, "outstanding": Decimal("100.00")}]
    # on 03-31 nothing was overdue yet
    assert not selectors.overdue_invoices(admin, today=dt.date(2026, 3, 31)).exists()
    assert unpaid.pk


def test_r_vbp_5_repayment_larger_than_the_invoice_is_refused():
    """Invoice 100.00, 60.00 repaid: 40.01 more is refused, 40.00 settles it."""
    a = f.InstitutionFactory()
    p = pf.product(pf.round_(), firms=["甲"], price="10.00")
    invoice = pf.purchase(institution=a, product_obj=p, quantity=10, on=dt.date(2026, 3, 1))
    services.repayment_record(purchase=invoice, amount=Decimal("60.00"), paid_on=dt.date(2026, 3, 5), actor=None)
    with pytest.raises(ApplicationError) as exc:
        services.repayment_record(purchase=invoice, amount=Decimal("40.01"), paid_on=dt.date(2026, 3, 6), actor=None)
    assert exc.value.code == "repayment_exceeds_invoice"
    services.repayment_record(purchase=invoice, amount=Decimal("40.00"), paid_on=dt.date(2026, 3, 6), actor=None)
    assert Repayment.objects.count() == 2 and FundEntry.objects.filter(kind="repayment").count() == 2


# --- R-VBP-6 ----------------------------------------------------------------------------------------------------

def test_r_vbp_6_winning_price_becomes_payment_standard_of_two_manufacturers():
    """来那度胺 胶囊 listed from two manufacturers at 1,890.00 and 1,290.00 (and a 片剂 at 1,500.00). The winning
    price 900.00 from 2026-12-10: preview lists the two capsules; applying gives each a new version 900.00 from
    2026-12-10 (the old one closed on 12-09), leaves the tablet alone, is audited and cannot be applied twice."""
    d1 = f.DrugFactory(generic_name="来那度胺", dosage_form="胶囊", manufacturer="百时美施贵宝", payment_standard=Decimal("1890.00"))
    d2 = f.DrugFactory(generic_name="来那度胺", dosage_form="胶囊", manufacturer="正大天晴", payment_standard=Decimal("1290.00"))
    tablet = f.DrugFactory(generic_name="来那度胺", dosage_form="片剂", manufacturer="某厂", payment_standard=Decimal("1500.00"))
    p = pf.product(pf.round_(), generic_name="来那度胺", dosage_form="胶囊", specification="25mg*21粒",
                   firms=["正大天晴"], price="900.00", execution=dt.date(2026, 12, 10))
    admin = f.bureau_admin(is_superuser=True)  # payment standards are shared: a system-wide role links them

    plan = services.standard_link_plan(product=p)
    assert [(r["code"], r["current"], r["new"], r["action"]) for r in plan] == [
        (d1.code, Decimal("1890.00"), Decimal("900.00"), "change"), (d2.code, Decimal("1290.00"), Decimal("900.00"), "change")]

    services.standard_link_apply(product=p, actor=admin, now=NOW)

    for drug, old in ((d1, Decimal("1890.00")), (d2, Decimal("1290.00"))):
        drug.refresh_from_db()
        assert drug.payment_standard == Decimal("900.00")
        assert payment_standard_on(drug=drug, on=dt.date(2026, 12, 9)) == old
        assert payment_standard_on(drug=drug, on=dt.date(2026, 12, 10)) == Decimal("900.00")
        assert PaymentStandard.objects.get(drug=drug, valid_from=dt.date(2026, 1, 1)).valid_until == dt.date(2026, 12, 9)
    tablet.refresh_from_db()
    assert tablet.payment_standard == Decimal("1500.00") and tablet.payment_standards.count() == 1
    assert LinkedStandard.objects.filter(product=p).count() == 2
    event = Event.objects.get(action=EventAction.PROCUREMENT_STANDARD_LINKED)
    assert event.actor == admin and sorted(event.data["drugs"]) == sorted([d1.code, d2.code])
    assert Event.objects.filter(action=EventAction.PAYMENT_STANDARD_CHANGED).count() == 2
    with pytest.raises(ApplicationError) as exc:
        services.standard_link_apply(product=p, actor=admin, now=NOW)
    assert exc.value.code == "already_linked"


def test_r_vbp_6_version_on_or_after_execution_date_blocks_the_whole_linkage():
    d1 = f.DrugFactory(generic_name="恩替卡韦", dosage_form="片剂", payment_standard=Decimal("50.00"))
    d2 = f.DrugFactory(generic_name="恩替卡韦", dosage_form="片剂", payment_standard=Decimal("60.00"),
                       agreement_start=dt.date(2026, 6, 1))
    p = pf.product(pf.round_(), generic_name="恩替卡韦", dosage_form="片剂", firms=["甲"], price="20.00",
                   execution=dt.date(2026, 6, 1))
    with pytest.raises(ApplicationError) as exc:
        services.standard_link_apply(product=p, actor=None, now=NOW)
    assert exc.value.code == "standard_link_blocked" and d2.code in exc.value.fields
    d1.refresh_from_db()
    assert d1.payment_standard == Decimal("50.00")
