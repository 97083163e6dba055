"""Reads of volume-based procurement and who may see what (R-SEC-1): bureau users their region's rounds, an
institution its own agreements, purchases and invoices; pharmacies nothing.

Completion and pace (R-VBP-3) and the repayment state of invoices (R-VBP-5) are computed here, in SQL
aggregates per agreement / per invoice, for the pages, the API and the monthly job alike.
"""
from __future__ import annotations

import calendar
import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    BooleanField, Case, Count, DecimalField, ExpressionWrapper, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum,
    Value, When,
)
from django.db.models.functions import Coalesce

from apps.core.models import Region
from apps.core.roles import BUREAU_ROLES, Role
from apps.core.scoping import scope_to_user
from apps.core.selectors import region_q
from apps.institutions.models import Institution
from apps.procurement.models import (
    Agreement, CompletionSnapshot, Contract, FundAccount, FundEntry, ProcurementRound, ProcurementSettings, Purchase,
    RegionBase, Repayment, WinningProduct,
)

RATIO = Decimal("0.0001")
ZERO = Decimal("0")


def _ratio(numerator, denominator) -> Decimal:
    return (Decimal(numerator) / Decimal(denominator)).quantize(RATIO, rounding=ROUND_HALF_UP)


def month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def month_end(day: dt.date) -> dt.date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def previous_month(day: dt.date) -> dt.date:
    """First day of the month before ``day``'s month."""
    return month_start(month_start(day) - dt.timedelta(days=1))


def procurement_settings_for(region) -> ProcurementSettings:
    """The nearest region up the tree with its own settings; the model defaults (DOMAIN section 10) otherwise."""
    if region is not None:
        chain = region.ancestors_and_self()
        found = {s.region_id: s for s in ProcurementSettings.objects.filter(region__in=chain)}
        for node in chain:
            if node.pk in found:
                return found[node.pk]
    return ProcurementSettings()


# --- scoping ---------------------------------------------------------------------------------------------------

def is_bureau(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in BUREAU_ROLES))


def is_institution(user) -> bool:
    return bool(user and user.is_authenticated and user.role == Role.HOSPITAL and user.institution_id)


def rounds_visible_to(user) -> QuerySet[ProcurementRound]:
    """Bureau: the rounds of its region. An institution: the rounds in which it has an agreement."""
    qs = ProcurementRound.objects.select_related("region")
    if is_institution(user):
        return qs.filter(products__contracts__agreements__institution_id=user.institution_id).distinct()
    return scope_to_user(qs, user, region_fields=("region",), institution_field=None, pharmacy_field=None)


def products_visible_to(user) -> QuerySet[WinningProduct]:
    qs = WinningProduct.objects.select_related("round", "region")
    if is_institution(user):
        return qs.filter(contracts__agreements__institution_id=user.institution_id).distinct()
    return scope_to_user(qs, user, region_fields=("region",), institution_field=None, pharmacy_field=None)


def agreements_visible_to(user) -> QuerySet[Agreement]:
    qs = Agreement.objects.select_related("contract__product__round", "institution")
    return scope_to_user(qs, user, region_fields=("contract__product__region",), institution_field="institution_id",
                         pharmacy_field=None)


def purchases_visible_to(user) -> QuerySet[Purchase]:
    qs = Purchase.objects.select_related("product__round", "institution")
    return scope_to_user(qs, user, region_fields=("product__region",), institution_field="institution_id",
                         pharmacy_field=None)


def fund_accounts_visible_to(user) -> QuerySet[FundAccount]:
    """The fund is the bureau's (institutions see their invoices, not the account)."""
    qs = FundAccount.objects.select_related("round", "region")
    return scope_to_user(qs, user, region_fields=("region",), institution_field=None, pharmacy_field=None)


def region_base_of(product: WinningProduct) -> RegionBase | None:
    return RegionBase.objects.filter(product=product).first()


def scope_region(user):
    """The region a bureau user's figures cover (``None``: every region, superusers)."""
    return None if user.is_superuser else user.region


# --- R-VBP-3: completion, pace, use share ---------------------------------------------------------------------

def months_elapsed(starts_on: dt.date, as_of: dt.date) -> int:
    """Contract months begun by ``as_of`` (the month of ``starts_on`` is month 1), 0–12."""
    if as_of < starts_on:
        return 0
    months = (as_of.year - starts_on.year) * 12 + (as_of.month - starts_on.month) + 1
    return max(0, min(12, months))


def _purchased_subquery(*, winning: bool, as_of: dt.date):
    return Coalesce(Subquery(
        Purchase.objects.filter(
            product_id=OuterRef("contract__product_id"), institution_id=OuterRef("institution_id"),
            is_winning=winning, invoice_date__gte=OuterRef("contract__starts_on"),
            invoice_date__lte=OuterRef("contract__ends_on"),
        ).filter(invoice_date__lte=as_of).order_by().values("product_id").annotate(q=Sum("quantity")).values("q")[:1],
        output_field=IntegerField()), Value(0))


def agreements_in_force(*, as_of: dt.date, qs: QuerySet[Agreement] | None = None, region=None) -> QuerySet[Agreement]:
    qs = Agreement.objects.all() if qs is None else qs
    if region is not None:
        qs = qs.filter(region_q(region, "contract__product__region"))
    return qs.filter(contract__starts_on__lte=as_of, contract__ends_on__gte=month_start(as_of))


def agreement_progress(*, as_of: dt.date, qs: QuerySet[Agreement] | None = None, region=None) -> list[dict]:
    """R-VBP-3 per agreement in force on ``as_of``: winning-product purchases of its contract year up to
    ``as_of`` (completion = purchased ÷ agreed; after completion purchases still count, so it may pass 100 %),
    the even monthly pace (agreed × months begun ÷ 12), behind when completion trails the pace by more than the
    region's margin, and the share of winning products in the institution's use of the variety (low below the
    region's threshold)."""
    rows = []
    agreements = (agreements_in_force(as_of=as_of, qs=qs, region=region)
                  .select_related("contract__product__region", "contract__product__round", "institution")
                  .annotate(purchased=_purchased_subquery(winning=True, as_of=as_of),
                            other_use=_purchased_subquery(winning=False, as_of=as_of))
                  .order_by("contract__product__code", "institution__code"))
    settings_cache: dict = {}
    for agreement in agreements:
        contract = agreement.contract
        product = contract.product
        if product.region_id not in settings_cache:
            settings_cache[product.region_id] = procurement_settings_for(product.region)
        cfg = settings_cache[product.region_id]
        months = months_elapsed(contract.starts_on, as_of)
        expected = _ratio(months, 12)
        completion = _ratio(agreement.purchased, agreement.agreed_volume) if agreement.agreed_volume else Decimal("1")
        used = agreement.purchased + agreement.other_use
        share = _ratio(agreement.purchased, used) if used else None
        rows.append({
            "agreement": agreement, "institution": agreement.institution, "product": product, "contract": contract,
            "agreed": agreement.agreed_volume, "purchased": agreement.purchased, "other_use": agreement.other_use,
            "remaining": max(0, agreement.agreed_volume - agreement.purchased),
            "completion": completion, "months": months, "expected": expected,
            "expected_volume": int((Decimal(agreement.agreed_volume) * months / 12).quantize(Decimal("1"), ROUND_HALF_UP)),
            "gap": expected - completion,
            "behind_pace": expected - completion > cfg.pace_margin,
            "winning_share": share, "low_use": share is not None and share < cfg.low_use_threshold,
            "margin": cfg.pace_margin, "threshold": cfg.low_use_threshold,
        })
    return rows


def progress_totals(rows: list[dict]) -> dict:
    agreed = sum(r["agreed"] for r in rows)
    purchased = sum(r["purchased"] for r in rows)
    return {"agreed": agreed, "purchased": purchased, "completion": _ratio(purchased, agreed) if agreed else None,
            "behind": sum(1 for r in rows if r["behind_pace"]), "low_use": sum(1 for r in rows if r["low_use"])}


def completion_chart(rows: list[dict]) -> dict:
    """Chart data for the completion page: completion and even pace (per cent) by institution and variety."""
    return {
        "labels": [f"{r['institution'].name} · {r['product'].generic_name}" for r in rows],
        "completion": [float(r["completion"] * 100) for r in rows],
        "expected": [float(r["expected"] * 100) for r in rows],
    }


def completion_ratio(purchased: int, agreed: int) -> Decimal:
    return _ratio(purchased, agreed) if agreed else Decimal("1.0000")


def agreement_filters(*, institution=None, year=None, cycle_year=None, product=None) -> dict:
    """Query parameters → filters; ``ValueError`` with a Chinese message for a malformed one."""
    out = {}
    if institution:
        out["institution"] = institution.strip()
    if product:
        out["product"] = product.strip()
    for name, value, label in (("year", year, "年度"), ("cycle_year", cycle_year, "周期年度")):
        if value not in (None, ""):
            try:
                out[name] = int(value)
            except (TypeError, ValueError):
                raise ValueError(f"{label}“{value}”应为整数") from None
            if name == "year" and not 1 <= out[name] <= 9999:  # a year a date can hold (was a 500, R-SEC-4)
                raise ValueError(f"{label}“{value}”应在 1–9999 之间，如 2026")
    return out


def agreement_list(*, user, today: dt.date, institution: str | None = None, year: int | None = None,
                   cycle_year: int | None = None, product: str | None = None) -> QuerySet[Agreement]:
    """Agreements visible to ``user`` with ``purchased`` (winning products bought in the contract year up to
    ``today``)."""
    qs = agreements_visible_to(user)
    if institution:
        qs = qs.filter(institution__code=institution)
    if year:
        qs = qs.filter(contract__starts_on__lte=dt.date(year, 12, 31), contract__ends_on__gte=dt.date(year, 1, 1))
    if cycle_year:
        qs = qs.filter(contract__cycle_year=cycle_year)
    if product:
        qs = qs.filter(contract__product__code=product)
    return (qs.annotate(purchased=_purchased_subquery(winning=True, as_of=today))
            .order_by("contract__product__code", "contract__cycle_year", "institution__code"))


def institution_visible(user, code: str) -> bool:
    """Whether ``user`` may see institution ``code`` (an institution itself; a bureau within its region)."""
    if is_institution(user):
        return user.institution.code == code
    return scope_to_user(Institution.objects.filter(code=code), user, region_fields=("region",),
                         institution_field=None, pharmacy_field=None).exists()


def snapshots_visible_to(user) -> QuerySet[CompletionSnapshot]:
    qs = CompletionSnapshot.objects.select_related("agreement__contract__product", "agreement__institution")
    return scope_to_user(qs, user, region_fields=("agreement__contract__product__region",),
                         institution_field="agreement__institution_id", pharmacy_field=None)


# --- R-VBP-5: invoices and repayments -------------------------------------------------------------------------

def outstanding_of(purchase: Purchase) -> Decimal:
    repaid = purchase.repayments.aggregate(total=Sum("amount"))["total"] or ZERO
    return purchase.amount - repaid


def with_repayment_state(qs: QuerySet[Purchase], *, today: dt.date) -> QuerySet[Purchase]:
    """Winning-product invoices with ``repaid`` (repayments up to ``today``), ``paid_on`` (the last repayment, when
    fully repaid), ``outstanding``, and ``late`` (unpaid after the due day, or fully repaid after it)."""
    money = DecimalField(max_digits=14, decimal_places=2)
    repaid = Coalesce(Subquery(
        Repayment.objects.filter(purchase_id=OuterRef("pk"), paid_on__lte=today).order_by()
        .values("purchase_id").annotate(s=Sum("amount")).values("s")[:1], output_field=money), Value(ZERO, money))
    last_paid = Subquery(Repayment.objects.filter(purchase_id=OuterRef("pk"), paid_on__lte=today).order_by()
                         .values("purchase_id").annotate(m=Max("paid_on")).values("m")[:1])
    return (qs.filter(is_winning=True)
            .annotate(repaid=repaid, last_paid=last_paid)
            .annotate(outstanding=ExpressionWrapper(F("amount") - F("repaid"), output_field=money),
                      fully_repaid=Case(When(repaid__gte=F("amount"), then=Value(True)), default=Value(False),
                                        output_field=BooleanField()))
            .annotate(late=Case(
                When(Q(fully_repaid=True, last_paid__gt=F("due_on")), then=Value(True)),
                When(Q(fully_repaid=False, due_on__lt=today), then=Value(True)),
                default=Value(False), output_field=BooleanField())))


def days_overdue(invoice, *, today: dt.date) -> int:
    """R-VBP-5: days past the due day — until today while unpaid, until the final repayment once paid."""
    end = invoice.last_paid if invoice.fully_repaid else today
    return max(0, (end - invoice.due_on).days) if end else 0


def invoice_status(invoice, *, today: dt.date) -> str:
    if invoice.fully_repaid:
        return "paid_late" if invoice.late else "paid"
    return "overdue" if invoice.due_on < today else "open"


def invoices_visible_to(user, *, today: dt.date) -> QuerySet[Purchase]:
    return with_repayment_state(purchases_visible_to(user), today=today).order_by("due_on", "invoice_no")


def overdue_invoices(user, *, today: dt.date) -> QuerySet[Purchase]:
    """Invoices not fully repaid after their due day (the due day itself is on time)."""
    return invoices_visible_to(user, today=today).filter(fully_repaid=False, due_on__lt=today)


def all_purchases() -> QuerySet[Purchase]:
    """Every purchase (the monthly job's scope; never reached by a user)."""
    return Purchase.objects.all()


def repeat_offenders(user, *, year: int, today: dt.date) -> list[dict]:
    return repeat_offenders_in(purchases_visible_to(user), year=year, today=today)


def repeat_offenders_in(purchases: QuerySet[Purchase], *, year: int, today: dt.date) -> list[dict]:
    """R-VBP-5: institutions with at least the region's count (default 2) of late invoices due in ``year`` —
    flagged for a notice or interview (通报, 约谈)."""
    late = (with_repayment_state(purchases, today=today).filter(late=True, due_on__year=year)
            .values("institution_id", "institution__code", "institution__name", "institution__region_id")
            .annotate(count=Count("id"), outstanding=Sum("outstanding"))
            .order_by("institution__code"))
    out = []
    regions = {r.pk: r for r in Region.objects.filter(pk__in={row["institution__region_id"] for row in late})}
    for row in late:
        threshold = procurement_settings_for(regions.get(row["institution__region_id"])).repeat_overdue_count
        if row["count"] >= threshold:
            out.append({"code": row["institution__code"], "name": row["institution__name"], "count": row["count"],
                        "threshold": threshold, "outstanding": row["outstanding"]})
    return out


# --- R-VBP-4: the fund ---------------------------------------------------------------------------------------

def fund_balance(account: FundAccount) -> Decimal:
    """The balance from the entries: advances + repayments − settlements."""
    totals = dict(account.entries.order_by().values_list("kind").annotate(total=Sum("amount")))
    return (totals.get(FundEntry.Kind.ADVANCE, ZERO) + totals.get(FundEntry.Kind.REPAYMENT, ZERO)
            - totals.get(FundEntry.Kind.SETTLEMENT, ZERO))


def fund_statement(account: FundAccount) -> dict:
    """Every entry in date order with the running balance, and the totals by kind."""
    balance = ZERO
    lines = []
    totals = {kind: ZERO for kind in FundEntry.Kind.values}
    for entry in account.entries.select_related("recorded_by").order_by("occurred_on", "id"):
        balance += entry.signed_amount
        totals[entry.kind] += entry.amount
        lines.append({"entry": entry, "balance": balance})
    return {"lines": lines, "balance": balance, "totals": totals}


def annual_agreed_amount(*, round_: ProcurementRound, cycle_year: int) -> Decimal:
    """R-VBP-4: Σ winning price × agreed volume over the round's contracts of ``cycle_year``."""
    total = ZERO
    for contract in Contract.objects.filter(product__round=round_, cycle_year=cycle_year).select_related("product"):
        total += contract.product.winning_price * contract.agreed_volume
    return total.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
