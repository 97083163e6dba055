"""R-PAY-3 engine as a pure function, with the R-PAY-4 worked examples (no database)."""
from decimal import Decimal as D

import pytest

from apps.prescriptions.engine import LineInput, PolicyTerms, YearUsage, money, self_paid, settle

ZHONGWEI_EMPLOYEE = PolicyTerms(deductible=D("500.00"), ratio=D("0.7500"), cap=D("400000.00"))
HUNAN_RESIDENT = PolicyTerms(deductible=D("0.00"), ratio=D("0.6000"), cap=None)


def figures(s):
    return {k: str(v) for k, v in s.figures().items()}


def test_r_pay_4_first_purchase_of_the_year():
    s = settle(lines=[LineInput(3, D("980.00"), D("0.10"), D("1000.00"))], terms=ZHONGWEI_EMPLOYEE, usage=YearUsage())
    assert figures(s) == {"total": "2940.00", "first_self_pay": "294.00", "in_scope": "2646.00",
                          "deductible": "500.00", "fund_payment": "1609.50", "personal_payment": "1330.50"}
    assert s.usage_after == YearUsage(D("500.00"), D("1609.50"))


def test_r_pay_4_second_purchase_same_year():
    first = settle(lines=[LineInput(3, D("980.00"), D("0.10"))], terms=ZHONGWEI_EMPLOYEE, usage=YearUsage())
    s = settle(lines=[LineInput(1, D("980.00"), D("0.10"))], terms=ZHONGWEI_EMPLOYEE, usage=first.usage_after)
    assert figures(s) == {"total": "980.00", "first_self_pay": "98.00", "in_scope": "882.00",
                          "deductible": "0.00", "fund_payment": "661.50", "personal_payment": "318.50"}


def test_r_pay_4_hunan_resident_no_deductible():
    s = settle(lines=[LineInput(2, D("1000.00"), D("0"))], terms=HUNAN_RESIDENT, usage=YearUsage())
    assert s.fund_payment == D("1200.00") and s.personal_payment == D("800.00")
    assert s.deductible == D("0.00")


def test_r_pay_3_deductible_partly_met_uses_only_the_rest():
    s = settle(lines=[LineInput(1, D("300.00"), D("0"))], terms=ZHONGWEI_EMPLOYEE, usage=YearUsage(D("400.00")))
    assert s.deductible == D("100.00")
    assert s.fund_payment == D("150.00")  # (300 - 100) × 0.75
    assert s.personal_payment == D("150.00")


def test_r_pay_3_deductible_larger_than_in_scope_takes_all_in_scope():
    s = settle(lines=[LineInput(1, D("200.00"), D("0.10"))], terms=ZHONGWEI_EMPLOYEE, usage=YearUsage())
    assert (s.in_scope, s.deductible, s.fund_payment, s.personal_payment) == (
        D("180.00"), D("180.00"), D("0.00"), D("200.00"))


def test_r_pay_3_cap_limits_fund_to_what_is_left():
    s = settle(lines=[LineInput(2, D("1000.00"), D("0"))], terms=ZHONGWEI_EMPLOYEE,
               usage=YearUsage(D("500.00"), D("399500.00")))
    assert s.fund_payment == D("500.00")  # 1500 by ratio, only 500 left under the cap
    assert s.personal_payment == D("1500.00")
    exhausted = settle(lines=[LineInput(1, D("100.00"), D("0"))], terms=ZHONGWEI_EMPLOYEE,
                       usage=YearUsage(D("500.00"), D("400000.00")))
    assert exhausted.fund_payment == D("0.00") and exhausted.personal_payment == D("100.00")


def test_r_pay_3_rounds_half_up_at_each_step():
    # 1 × 33.35 with 15 % first self-pay: 5.0025 → 5.00; in scope 28.35; × 0.75 = 21.2625 → 21.26
    s = settle(lines=[LineInput(1, D("33.35"), D("0.15"))], terms=PolicyTerms(D("0"), D("0.75")), usage=YearUsage())
    assert (s.first_self_pay, s.in_scope, s.fund_payment) == (D("5.00"), D("28.35"), D("21.26"))
    assert money(D("0.125")) == D("0.13") and money(D("2.675")) == D("2.68")


def test_r_pay_3_fund_allocated_to_lines_sums_exactly():
    lines = [LineInput(1, D("33.33"), D("0.10")), LineInput(2, D("66.67"), D("0.05")), LineInput(1, D("10.00"), D("1"))]
    s = settle(lines=lines, terms=PolicyTerms(D("0"), D("0.7")), usage=YearUsage())
    assert sum(l.fund_payment for l in s.lines) == s.fund_payment
    assert sum(l.personal_payment for l in s.lines) == s.personal_payment
    assert s.lines[2].fund_payment == D("0.00")  # fully self-paid line takes no fund


def test_r_pay_5_self_paid_pays_everything():
    s = self_paid(settle(lines=[LineInput(3, D("980.00"), D("0.10"))], terms=ZHONGWEI_EMPLOYEE, usage=YearUsage()))
    assert (s.fund_payment, s.personal_payment, s.deductible) == (D("0.00"), D("2940.00"), D("0.00"))
    assert s.usage_after == YearUsage()


def test_engine_refuses_empty_or_non_positive_lines():
    with pytest.raises(ValueError):
        settle(lines=[], terms=ZHONGWEI_EMPLOYEE, usage=YearUsage())
    with pytest.raises(ValueError):
        settle(lines=[LineInput(0, D("1"), D("0"))], terms=ZHONGWEI_EMPLOYEE, usage=YearUsage())
