"""Reads of the money side of settlement (R-SET-5 deposit accounts and sanctions on statements, R-SET-2 ward-delivery
payments, R-SET-3 institutions' monthly reports, the payment list), scoped by who asks (R-SEC-1,
``apps/core/scoping.py``). Every figure is an SQL aggregate; the dispensings behind a difference are listed by id."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.contenttypes.models import ContentType
from django.db.models import Case, CharField, DecimalField, Exists, IntegerField, OuterRef, Q, QuerySet, Subquery, Sum, Value, When
from django.db.models.functions import Cast, Coalesce
from django.http import Http404
from django.utils import timezone

from apps.core.exceptions import ApplicationError
from apps.core.models import DesignationStatus, Sanction
from apps.core.roles import BUREAU_ROLES, Role
from apps.core.scoping import scope_to_user
from apps.core.selectors import region_q
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.prescriptions.models import Delivery, Dispensing, DispensingLine
from apps.settlement.models import (
    DeferralRelease, DepositAccount, DepositEntry, InstitutionMonthlyReport, OrganisationKind,
    RectificationFollowUp, Statement, StatementAdjustment, WardPayment,
)
from apps.settlement.money_services import MONEY_KINDS
from apps.settlement.periods import label, next_period, ward_payment_due

ZERO = Decimal("0.00")


def _is_bureau(user) -> bool:
    return bool(user and user.is_authenticated and (user.is_superuser or user.role in BUREAU_ROLES))


def report_due(period: dt.date) -> dt.date:
    """R-SET-3 / 000 四(三): the monthly report is due by the 5th of the next month."""
    return next_period(period).replace(day=5)


# --------------------------------------------------------------------------- organisations a user may see

def organisation_by_code_for(user, code: str):
    """The institution or pharmacy ``code`` if the user may see its money: the bureau of its region, or the
    organisation itself. Anything else is a 404 (existence is not revealed)."""
    for model, field in ((Institution, "institution_id"), (Pharmacy, "pharmacy_id")):
        qs = scope_to_user(model.objects.filter(code=code).select_related("region"), user, region_fields=("region",),
                           institution_field="pk" if model is Institution else None,
                           pharmacy_field="pk" if model is Pharmacy else None)
        found = qs.first()
        if found is not None:
            return found
    raise Http404("未找到该机构")


# --------------------------------------------------------------------------- deposit accounts (R-SET-5)

def deposit_account_summary(organisation) -> dict:
    """Balance (= the sum of the entries) and the entries of an organisation's deposit account, newest last."""
    field = "institution" if isinstance(organisation, Institution) else "pharmacy"
    account = DepositAccount.objects.filter(**{field: organisation}).first()
    entries = list(account.entries.select_related("statement", "sanction", "decided_by").order_by("id")) if account else []
    totals = {kind: ZERO for kind in DepositEntry.Kind.values}
    for entry in entries:
        totals[entry.kind] += entry.amount
    balance = sum((e.amount for e in entries), ZERO)
    return {"organisation": organisation, "account": account, "entries": entries, "balance": balance,
            "withheld": totals["withheld"], "deducted": -totals["deducted"], "returned": -totals["returned"]}


def deposit_accounts_visible_to(user) -> QuerySet[DepositAccount]:
    qs = DepositAccount.objects.select_related("institution", "pharmacy").annotate(balance=Sum("entries__amount"))
    return scope_to_user(qs, user, region_fields=("institution__region", "pharmacy__region"))


# --------------------------------------------------------------------------- sanctions on statements (R-SET-5)

def statement_adjustments(statement: Statement) -> list[StatementAdjustment]:
    """The statement's money lines with, for deferrals, whether the bureau has released them."""
    lines = list(statement.adjustments.select_related("sanction", "decided_by", "sanction__deferral_release")
                 .annotate(released=Exists(DeferralRelease.objects.filter(sanction=OuterRef("sanction"))))
                 .order_by("id"))
    return lines


def with_held_and_adjustments(qs: QuerySet[Statement]) -> QuerySet[Statement]:
    """A list of statements with what deferrals hold (``held_now``) and their money lines (``adjustment_list``, as
    ``statement_adjustments`` gives them) in two queries for the page, not two per statement (issue 16)."""
    from django.db.models import Prefetch

    lines = (StatementAdjustment.objects.select_related("sanction", "decided_by", "sanction__deferral_release")
             .annotate(released=Exists(DeferralRelease.objects.filter(sanction=OuterRef("sanction")))).order_by("id"))
    return qs.annotate(held_now=_held_subquery()).prefetch_related(
        Prefetch("adjustments", queryset=lines, to_attr="adjustment_list"))


def statement_held(statement: Statement) -> Decimal:
    """What of the payable is held now: deferral lines whose deferral is not released."""
    return (statement.adjustments.filter(kind=StatementAdjustment.Kind.DEFERRAL)
            .exclude(sanction__deferral_release__isnull=False).aggregate(s=Sum("amount"))["s"] or ZERO)


def _held_subquery():
    held = (StatementAdjustment.objects.filter(statement=OuterRef("pk"), kind=StatementAdjustment.Kind.DEFERRAL,
                                               sanction__deferral_release__isnull=True)
            .values("statement").annotate(s=Sum("amount")).values("s"))
    return Coalesce(Subquery(held, output_field=DecimalField(max_digits=14, decimal_places=2)), ZERO,
                    output_field=DecimalField(max_digits=14, decimal_places=2))


# --------------------------------------------------------------------------- payment list

def payment_list(*, period: dt.date, region) -> dict:
    """The finance office's payment list for a confirmed month: one row per organisation with its bank details,
    the statement number, fund payment, deposit, deductions, payable, held and what to pay now. Refused while any
    statement of the month in the region is still a draft. Totals are the statements' sums."""
    scope = (region_q(region, "institution__region") | region_q(region, "pharmacy__region")) if region else Q()
    statements = Statement.objects.filter(scope, period=period)
    if not statements.exists():
        raise ApplicationError("no_statements", f"{label(period)} 没有结算单", status=404)
    drafts = statements.filter(status=Statement.Status.DRAFT).count()
    if drafts:
        raise ApplicationError("period_not_confirmed", f"{label(period)} 还有 {drafts} 张结算单未确认，不能生成拨付清单",
                               status=409)
    rows = []
    qs = (statements.select_related("institution", "pharmacy").annotate(held=_held_subquery())
          .order_by("organisation_kind", "institution__code", "pharmacy__code"))
    totals = {k: ZERO for k in ("fund_payment", "deposit", "deductions", "payable", "held", "pay_now")}
    for s in qs:
        org = s.organisation
        row = {"statement_id": s.pk, "number": s.number, "organisation_kind": s.get_organisation_kind_display(),
               "code": org.code, "name": org.name, "bank_name": org.bank_name,
               "bank_account_name": org.bank_account_name or org.name, "bank_account_no": org.bank_account_no,
               "fund_payment": s.fund_payment, "deposit": s.deposit, "deductions": s.deductions,
               "payable": s.payable, "held": s.held, "pay_now": max(ZERO, s.payable - s.held)}
        for key in totals:
            totals[key] += row[key]
        rows.append(row)
    return {"period": label(period), "rows": rows, "totals": totals}


# --------------------------------------------------------------------------- ward-delivery payments (R-SET-2)

def ward_payment_status(*, statements: QuerySet[Statement], today: dt.date) -> list[dict]:
    """Per ward-delivery statement and pharmacy: owed (the deliveries' totals), paid (payments not reversed),
    outstanding, due date (the 10th of the next month) and overdue = unpaid or underpaid after the due date."""
    owed = list(Dispensing.objects.filter(statement_line__statement__in=statements.filter(
        organisation_kind=OrganisationKind.INSTITUTION), delivery=Delivery.WARD)
        .values("statement_line__statement_id", "pharmacy_id", "pharmacy__code", "pharmacy__name")
        .annotate(owed=Sum("total")).order_by("statement_line__statement_id", "pharmacy__code"))
    paid = {(p["statement_id"], p["pharmacy_id"]): p["s"] for p in
            WardPayment.objects.filter(statement__in=statements, reversed_at__isnull=True)
            .values("statement_id", "pharmacy_id").annotate(s=Sum("amount"))}
    by_id = {s.pk: s for s in statements.filter(pk__in={o["statement_line__statement_id"] for o in owed})
             .select_related("institution")}
    rows = []
    for o in owed:
        statement = by_id[o["statement_line__statement_id"]]
        amount_paid = paid.get((statement.pk, o["pharmacy_id"])) or ZERO
        outstanding = (o["owed"] or ZERO) - amount_paid
        due = ward_payment_due(statement.period)
        rows.append({"statement": statement, "statement_id": statement.pk, "period": label(statement.period),
                     "institution_code": statement.institution.code, "institution_name": statement.institution.name,
                     "pharmacy_code": o["pharmacy__code"], "pharmacy_name": o["pharmacy__name"],
                     "owed": o["owed"] or ZERO, "paid": amount_paid, "outstanding": outstanding,
                     "due_date": due, "status": ("paid" if outstanding <= 0 else "part_paid" if amount_paid else "unpaid"),
                     "overdue": outstanding > 0 and today > due})
    return rows


def ward_statements_visible_to(user) -> QuerySet[Statement]:
    """Ward-delivery statements: the bureau's region, the hospital's own, and those a pharmacy delivered for."""
    qs = Statement.objects.filter(organisation_kind=OrganisationKind.INSTITUTION)
    if user.is_authenticated and user.role == Role.PHARMACY and user.pharmacy_id:
        return qs.filter(lines__dispensing__pharmacy_id=user.pharmacy_id,
                         lines__dispensing__delivery=Delivery.WARD).distinct()
    return scope_to_user(qs, user, region_fields=("institution__region",), pharmacy_field=None)


def ward_payments_for(statement: Statement, user) -> QuerySet[WardPayment]:
    qs = statement.ward_payments.select_related("pharmacy", "recorded_by", "reversed_by").order_by("paid_on", "id")
    if user.role == Role.PHARMACY:
        qs = qs.filter(pharmacy_id=user.pharmacy_id)
    return qs


# --------------------------------------------------------------------------- institutions' monthly reports (R-SET-3)

def _system_dispensings(organisation, period: dt.date) -> QuerySet[Dispensing]:
    """The bureau's own figures of an organisation: dispensings at the pharmacy, or prescribed by the institution
    (as in the monthly statistics, ``selectors.monthly_report``)."""
    field = "institution" if isinstance(organisation, Institution) else "pharmacy"
    return Dispensing.objects.filter(**{field: organisation}, period=period)


def _visits(qs, prefix: str = ""):
    return Sum(Case(When(**{f"{prefix}kind": Dispensing.Kind.NORMAL}, then=Value(1)), default=Value(-1),
                    output_field=IntegerField()))


def report_differences(report: InstitutionMonthlyReport) -> dict:
    """R-SET-3: the report next to the system's own figures — the totals (visits, total, fund) and, where the report
    has drug lines, drug by drug — with the dispensings behind each differing line."""
    organisation = report.organisation
    base = _system_dispensings(organisation, report.period)
    agg = base.aggregate(visits=_visits(base), total=Sum("total"), fund=Sum("fund_payment"))
    system = {"visits": int(agg["visits"] or 0), "total": agg["total"] or ZERO, "fund_payment": agg["fund"] or ZERO}
    figures = []
    for key, name in (("visits", "人次"), ("total", "医疗费用总额"), ("fund_payment", "统筹基金支付")):
        reported = getattr(report, key)
        figures.append({"figure": key, "name": name, "reported": reported, "system": system[key],
                        "difference": reported - system[key], "matches": reported == system[key]})
    lines = []
    reported_lines = {line.drug_id: line for line in report.lines.select_related("drug")}
    if reported_lines:
        drug_lines = DispensingLine.objects.filter(dispensing__in=base)
        per_drug = {r["drug_id"]: r for r in drug_lines.values("drug_id", "drug__code", "drug__generic_name").annotate(
            visits=_visits(drug_lines, "dispensing__"), total=Sum("line_total"), fund=Sum("fund_payment")).order_by()}
        for drug_id in sorted(set(per_drug) | set(reported_lines),
                              key=lambda i: (per_drug.get(i) or {"drug__code": reported_lines[i].drug.code})["drug__code"]):
            s, r = per_drug.get(drug_id), reported_lines.get(drug_id)
            sv = {"visits": int(s["visits"] or 0) if s else 0, "total": (s["total"] or ZERO) if s else ZERO,
                  "fund_payment": (s["fund"] or ZERO) if s else ZERO}
            rv = {"visits": r.visits if r else 0, "total": r.total if r else ZERO,
                  "fund_payment": r.fund_payment if r else ZERO}
            matches = sv == rv
            lines.append({
                "drug_id": drug_id, "drug_code": s["drug__code"] if s else r.drug.code,
                "generic_name": s["drug__generic_name"] if s else r.drug.generic_name,
                "system": sv, "reported": rv, "matches": matches,
                "difference": {k: rv[k] - sv[k] for k in sv},
                "dispensings": [] if matches else list(
                    drug_lines.filter(drug_id=drug_id).values_list("dispensing_id", flat=True).order_by("dispensing_id")),
            })
    all_ids = [] if all(f["matches"] for f in figures) else list(base.values_list("pk", flat=True).order_by("pk"))
    return {"figures": figures, "lines": lines, "dispensings": all_ids,
            "matches": all(f["matches"] for f in figures) and all(line["matches"] for line in lines)}


def report_status(*, period: dt.date, region, today: dt.date) -> list[dict]:
    """R-SET-3: every admitted institution and pharmacy of the region for the month: submitted on time, late, or
    missing (overdue once the 5th has passed), and whether its figures differ from the system's."""
    due = report_due(period)
    reports = {(r.organisation_kind, r.institution_id or r.pharmacy_id): r
               for r in InstitutionMonthlyReport.objects.filter(period=period).select_related("submitted_by")}
    rows = []
    for kind, model in ((OrganisationKind.INSTITUTION, Institution), (OrganisationKind.PHARMACY, Pharmacy)):
        # the three columns the list shows, not every organisation as a model instance (issue 16: 3,520 of them)
        orgs = (model.objects.filter(region_q(region) if region else Q(), status=DesignationStatus.ADMITTED)
                .order_by("code").values_list("pk", "code", "name"))
        for pk, code, name in orgs:
            report = reports.get((kind, pk))
            if report is None:
                status = "missing_overdue" if today > due else "missing"
            else:
                status = "late" if timezone.localtime(report.submitted_at).date() > due else "on_time"
            rows.append({"kind": kind, "code": code, "name": name, "report": report,
                         "status": status, "due": due,
                         "differs": (None if report is None else not report_differences(report)["matches"])})
    return rows


def reports_visible_to(user) -> QuerySet[InstitutionMonthlyReport]:
    qs = InstitutionMonthlyReport.objects.select_related("institution", "pharmacy", "submitted_by")
    return scope_to_user(qs, user, region_fields=("institution__region", "pharmacy__region"))


def statements_with_held(qs: QuerySet[Statement]) -> QuerySet[Statement]:
    return qs.annotate(held=_held_subquery())


def sanctions_visible_to(user) -> QuerySet:
    """Sanctions on the institutions and pharmacies of the bureau user's region (superusers: all)."""
    if not _is_bureau(user):
        return Sanction.objects.none()
    region = None if user.is_superuser else user.region
    if region is None and not user.is_superuser:
        return Sanction.objects.none()
    query = Q(pk__in=[])
    for model in (Institution, Pharmacy):
        ids = model.objects.filter(region_q(region)).annotate(sid=Cast("pk", CharField())).values("sid")
        query |= Q(content_type=ContentType.objects.get_for_model(model), object_id__in=ids)
    return Sanction.objects.filter(query).select_related("created_by")


def money_sanctions_visible_to(user) -> QuerySet:
    """Money sanctions (deduction, deposit deduction, deferral) the bureau user may act on."""
    return sanctions_visible_to(user).filter(kind__in=list(MONEY_KINDS))


def rectifications_visible_to(user) -> QuerySet[RectificationFollowUp]:
    """R-SET-5: the bureau's rectification queue — escalated first, then open, then resolved."""
    order = Case(When(status=RectificationFollowUp.Status.ESCALATED, then=Value(0)),
                 When(status=RectificationFollowUp.Status.OPEN, then=Value(1)), default=Value(2),
                 output_field=IntegerField())
    return (RectificationFollowUp.objects.filter(sanction__in=sanctions_visible_to(user))
            .select_related("sanction", "sanction__content_type", "earlier__sanction", "resolved_by")
            .prefetch_related("sanction__organisation")
            .annotate(queue_order=order).order_by("queue_order", "sanction__deadline", "-id"))
