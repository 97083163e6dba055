"""The reimbursement engine (R-PAY-3): a pure function of the lines, the policy terms and the patient's
year-to-date usage. No database, no clock: the dispensing service, the quote and manual claims all call it.

Every amount is a ``Decimal`` rounded to 0.01 half-up at the end of each step:

1. per line ``line_total = quantity × unit_price``; ``first_self_pay = line_total × first_self_pay_ratio``;
   ``in_scope = line_total − first_self_pay``;
2. ``total``, ``first_self_pay``, ``in_scope`` are the sums over the lines;
3. ``deductible = min(in_scope, max(0, policy deductible − deductible already met this year))``;
4. ``fund = (in_scope − deductible) × ratio``, then ``min(fund, max(0, cap − fund already paid this year))`` when
   the policy has a cap;
5. ``personal = total − fund``.

The fund is then allocated to the lines pro rata to their ``in_scope`` (the last line with in-scope money takes
the rounding remainder) so that the lines add up exactly to the dispensing (statistics by drug, R-SET-3).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def money(value) -> Decimal:
    """Round to 0.01 half-up (R-PAY-3)."""
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class LineInput:
    quantity: int
    unit_price: Decimal
    first_self_pay_ratio: Decimal
    payment_standard: Decimal | None = None  # carried through for the snapshot; the price check is R-RX-5's


@dataclass(frozen=True)
class PolicyTerms:
    deductible: Decimal
    ratio: Decimal
    cap: Decimal | None = None  # None = no annual cap


@dataclass(frozen=True)
class YearUsage:
    deductible_met: Decimal = ZERO
    fund_paid: Decimal = ZERO


def cap_usage(usage_row) -> YearUsage:
    """R-PAY-3 steps 3–4 inputs from a patient's year accumulator: the deductible met, and the fund already paid in
    the year — this programme's payments plus the other fund use the core insurance system reports
    (``other_fund_paid``, read under the accumulator's lock): the cap is the fund's overall annual limit."""
    return YearUsage(usage_row.deductible_met, usage_row.fund_paid + getattr(usage_row, "other_fund_paid", ZERO))


@dataclass(frozen=True)
class LineResult:
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    first_self_pay: Decimal
    in_scope: Decimal
    fund_payment: Decimal
    personal_payment: Decimal


@dataclass(frozen=True)
class Settlement:
    total: Decimal
    first_self_pay: Decimal
    in_scope: Decimal
    deductible: Decimal
    fund_payment: Decimal
    personal_payment: Decimal
    lines: tuple[LineResult, ...] = field(default_factory=tuple)
    usage_before: YearUsage = YearUsage()

    @property
    def usage_after(self) -> YearUsage:
        return YearUsage(deductible_met=self.usage_before.deductible_met + self.deductible,
                         fund_paid=self.usage_before.fund_paid + self.fund_payment)

    def figures(self) -> dict[str, Decimal]:
        """The API.md ``settlement`` object."""
        return {"total": self.total, "first_self_pay": self.first_self_pay, "in_scope": self.in_scope,
                "deductible": self.deductible, "fund_payment": self.fund_payment,
                "personal_payment": self.personal_payment}


def settle(*, lines: list[LineInput] | tuple[LineInput, ...], terms: PolicyTerms, usage: YearUsage) -> Settlement:
    """R-PAY-3 for one dispensing (all lines together)."""
    if not lines:
        raise ValueError("a dispensing has at least one line")
    # step 1
    computed = []
    for line in lines:
        if line.quantity <= 0:
            raise ValueError("quantity must be positive")
        line_total = money(line.quantity * Decimal(line.unit_price))
        first_self_pay = money(line_total * Decimal(line.first_self_pay_ratio))
        computed.append((line, line_total, first_self_pay, line_total - first_self_pay))
    # step 2
    total = sum((c[1] for c in computed), ZERO)
    first_self_pay = sum((c[2] for c in computed), ZERO)
    in_scope = sum((c[3] for c in computed), ZERO)
    # step 3
    remaining_deductible = max(ZERO, money(terms.deductible) - usage.deductible_met)
    deductible = min(in_scope, remaining_deductible)
    # step 4
    fund = money((in_scope - deductible) * Decimal(terms.ratio))
    if terms.cap is not None:
        fund = min(fund, max(ZERO, money(terms.cap) - usage.fund_paid))
    # step 5
    personal = total - fund

    return Settlement(total=total, first_self_pay=first_self_pay, in_scope=in_scope, deductible=deductible,
                      fund_payment=fund, personal_payment=personal,
                      lines=tuple(_allocate(computed, fund, in_scope)), usage_before=usage)


def _allocate(computed, fund: Decimal, in_scope: Decimal) -> list[LineResult]:
    last_scoped = max((i for i, c in enumerate(computed) if c[3] > 0), default=None)
    results, allocated = [], ZERO
    for i, (line, line_total, fsp, scoped) in enumerate(computed):
        if i == last_scoped:
            share = fund - allocated
        elif in_scope > 0 and scoped > 0:
            share = money(fund * scoped / in_scope)
        else:
            share = ZERO
        allocated += share
        results.append(LineResult(quantity=line.quantity, unit_price=money(line.unit_price), line_total=line_total,
                                  first_self_pay=fsp, in_scope=scoped, fund_payment=share,
                                  personal_payment=line_total - share))
    return results


def self_paid(settlement: Settlement) -> Settlement:
    """R-PAY-5 without direct settlement: the patient pays everything now (nothing counts toward the year)."""
    return replace(
        settlement, deductible=ZERO, fund_payment=ZERO, personal_payment=settlement.total,
        lines=tuple(replace(line, fund_payment=ZERO, personal_payment=line.line_total) for line in settlement.lines),
    )
