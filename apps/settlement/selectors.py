"""Reads of settlement, reconciliation and statistics (R-SET-1..3), scoped by who asks (R-SEC-1).

Every figure over dispensings is one SQL aggregate (``values().annotate()``), never a loop over rows.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import (
    Case, Count, DecimalField, Exists, F, IntegerField, Max, OuterRef, Q, QuerySet, Subquery, Sum, Value, When,
)
from django.db.models.functions import Coalesce, TruncDate
from django.shortcuts import get_object_or_404
from django.utils import timezone

from apps.catalogue.models import Drug, PaymentStandard
from apps.core.roles import Role
from apps.core.scoping import scope_to_user
from apps.core.models import Region
from apps.core.selectors import region_q
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.prescriptions.models import Delivery, Dispensing, DispensingLine, Prescription, PrescriptionItem, StockMovement
from apps.settlement.models import (
    MonthlyReportSnapshot, OrganisationKind, ReconciliationDifference, ReportedTotal, SettlementRun, Statement,
    WardPayment,
)
from apps.settlement.periods import label, next_period, ward_payment_due

ZERO = Decimal("0.00")
MONEY = DecimalField(max_digits=14, decimal_places=2)


def scope_region(user):
    """The region a bureau user's reports cover (``None`` = everything, for superusers)."""
    return None if user.is_superuser else user.region


# --------------------------------------------------------------------------- statements (R-SET-1)

def period_is_locked(*, organisation, period: dt.date) -> bool:
    """True when ``organisation`` (an Institution or a Pharmacy) has a confirmed statement for ``period``: a
    reversal of a dispensing of that month must then go into the next open month (R-SET-1, R-RX-6)."""
    field = "institution" if isinstance(organisation, Institution) else "pharmacy"
    return Statement.objects.filter(**{field: organisation}, period=period.replace(day=1),
                                    status=Statement.Status.CONFIRMED).exists()


def first_open_period(*, organisations, period: dt.date) -> dt.date:
    """R-SET-1: the first month from ``period`` on in which none of ``organisations`` (institutions or pharmacies)
    has a confirmed statement — where a dispensing or reversal dated in ``period`` counts. One query (the confirmed
    months of these organisations from ``period`` on), not one per organisation and month (issue 16)."""
    period = period.replace(day=1)
    by_kind = Q(pk__in=[])
    for organisation in organisations:
        field = "institution" if isinstance(organisation, Institution) else "pharmacy"
        by_kind |= Q(**{field: organisation})
    locked = set(Statement.objects.filter(by_kind, period__gte=period, status=Statement.Status.CONFIRMED)
                 .values_list("period", flat=True))
    while period in locked:
        period = next_period(period)
    return period


def settling_organisation(dispensing: Dispensing):
    """The organisation whose statement covers ``dispensing``: the institution for a ward delivery (the hospital
    pays the pharmacy, 000 五(三)), otherwise the dispensing pharmacy."""
    return dispensing.institution if dispensing.delivery == Delivery.WARD else dispensing.pharmacy


def dispensing_period_is_locked(*, dispensing: Dispensing, period: dt.date | None = None) -> bool:
    """``period_is_locked`` for the organisation that settles ``dispensing`` (default: its own period)."""
    return period_is_locked(organisation=settling_organisation(dispensing), period=period or dispensing.period)


def statements_visible_to(user) -> QuerySet[Statement]:
    qs = Statement.objects.select_related("institution", "institution__region", "pharmacy", "pharmacy__region",
                                          "confirmed_by")
    return scope_to_user(qs, user, region_fields=("institution__region", "pharmacy__region"))


def statement_get_for(user, pk) -> Statement:
    return get_object_or_404(statements_visible_to(user), pk=pk)


def statement_totals(statements: QuerySet[Statement]) -> dict:
    agg = statements.aggregate(visits=Coalesce(Sum("visits"), 0), total=Coalesce(Sum("total"), ZERO, output_field=MONEY),
                               fund=Coalesce(Sum("fund_payment"), ZERO, output_field=MONEY),
                               deposit=Coalesce(Sum("deposit"), ZERO, output_field=MONEY),
                               payable=Coalesce(Sum("payable"), ZERO, output_field=MONEY),
                               count=Count("id"), confirmed=Count("id", filter=Q(status=Statement.Status.CONFIRMED)))
    return agg


def statement_line_sums(statement: Statement) -> dict:
    """The statement's lines summed from their dispensings (what the statement must equal to the fen)."""
    return Dispensing.objects.filter(pk__in=statement.lines.values("dispensing_id")).aggregate(
        visits=Coalesce(Sum(Case(When(kind=Dispensing.Kind.NORMAL, then=Value(1)), default=Value(-1),
                                 output_field=IntegerField())), 0),
        total=Coalesce(Sum("total"), ZERO, output_field=MONEY),
        fund_payment=Coalesce(Sum("fund_payment"), ZERO, output_field=MONEY),
        personal_payment=Coalesce(Sum("personal_payment"), ZERO, output_field=MONEY),
    )


def runs_visible_to(user) -> QuerySet[SettlementRun]:
    """A run settles every organisation of the month, so any bureau user with a region sees every run."""
    return scope_to_user(SettlementRun.objects.select_related("started_by"), user, region_fields=(),
                         institution_field=None, pharmacy_field=None, bureau_scope=_all_runs)


def _all_runs(qs: QuerySet[SettlementRun], user) -> QuerySet[SettlementRun]:
    return qs


# --------------------------------------------------------------------------- statistics (R-SET-3)

def ratio(fund: Decimal, total: Decimal) -> Decimal | None:
    """Reimbursement ratio fund ÷ total, four decimals, half-up (None when nothing was spent)."""
    if not total:
        return None
    return (Decimal(fund) / Decimal(total)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def _visits_expr():
    return Sum(Case(When(kind=Dispensing.Kind.NORMAL, then=Value(1)), default=Value(-1), output_field=IntegerField()))


def _line_visits_expr():
    return Sum(Case(When(dispensing__kind=Dispensing.Kind.NORMAL, then=Value(1)), default=Value(-1),
                    output_field=IntegerField()))


def _row(values: dict, **extra) -> dict:
    total = values.get("total") or ZERO
    fund = values.get("fund") or ZERO
    r = ratio(fund, total)
    out = dict(extra)
    out.update({
        "visits": int(values.get("visits") or 0),
        "total": f"{Decimal(total):.2f}",
        "fund_payment": f"{Decimal(fund):.2f}",
        "personal_payment": f"{Decimal(values.get('personal') or ZERO):.2f}",
        "reimbursement_ratio": f"{r:.4f}" if r is not None else None,
    })
    return out


def dispensings_in_scope(*, period: dt.date | None = None, region=None, periods=None) -> QuerySet[Dispensing]:
    """The month's dispensings (or those of ``periods``) at the pharmacies of ``region`` (everything for
    ``None``)."""
    qs = Dispensing.objects.filter(period=period) if periods is None else Dispensing.objects.filter(period__in=periods)
    if region is not None:
        qs = qs.filter(pharmacy_id__in=Pharmacy.objects.filter(region_q(region)).values("pk"))
    return qs


def _add(into: dict, values: dict):
    for key in ("visits", "total", "fund", "personal"):
        into[key] = (into.get(key) or 0) + (values.get(key) or 0)


def fresh_snapshots(periods, region=None) -> dict[dt.date, dict]:
    """The saved report (``monthly_report_compile``) of ``region`` (``None``: province-wide) for each of ``periods``
    that is still current — compiled after the month's last successful settlement run (a rerun after late
    reversals makes it stale until it is compiled again) —, by period. Two queries whatever the number of
    periods."""
    periods = list(periods)
    snapshots = {s.period: s for s in MonthlyReportSnapshot.objects.filter(period__in=periods, region=region)
                 .only("period", "data", "compiled_at")}
    if not snapshots:
        return {}
    last_runs = dict(SettlementRun.objects.filter(period__in=list(snapshots), status=SettlementRun.Status.SUCCEEDED)
                     .values("period").annotate(last=Max("finished_at")).values_list("period", "last").order_by())
    return {period: snapshot.data for period, snapshot in snapshots.items()
            if last_runs.get(period) is None or snapshot.compiled_at >= last_runs[period]}


def _covers_whole_tree(region) -> bool:
    return region is None or (region.parent_id is None and not Region.objects.filter(
        parent__isnull=True).exclude(pk=region.pk).exists())


def monthly_report_for(*, period: dt.date, region=None) -> dict:
    """R-SET-3 for the report page and API (issue 16: a view must not recompute a month of a million dispensings):
    the month's saved snapshot (``monthly_report_compile``) of the asker's scope — province-wide for no region or
    the one region at the top of the tree, else the region's own — when it is current (``fresh_snapshots``);
    otherwise computed (``monthly_report``). The snapshot is the computed report stored as JSON, so both answers
    have the same shape and figures."""
    data = fresh_snapshots([period], None if _covers_whole_tree(region) else region).get(period)
    if data is not None:
        return data
    return monthly_report(period=period, region=region)


def _snapshot_sums(data: dict, region) -> dict:
    """Visits, total and fund payment of a snapshot, for ``region`` (the by-region rows are the counties of the
    dispensing pharmacies, the same rows ``dispensings_in_scope`` keeps for a region) or overall."""
    if region is None:
        rows = [data["totals"]]
    else:
        rows = [r for r in data["by_region"] if r["region_code"].startswith(region.descendant_prefix)]
    return {"visits": sum(int(r["visits"]) for r in rows),
            "total": sum((Decimal(r["total"]) for r in rows), ZERO),
            "fund": sum((Decimal(r["fund_payment"]) for r in rows), ZERO)}


def months_figures(*, periods, region=None) -> dict[dt.date, dict]:
    """``month_figures`` of several months (the dashboard: this month, last month and the six months' trend): a
    month whose current snapshot exists is read from it (issue 16: the dashboard summed a million dispensings per
    month on every view), the others in one grouped query over their dispensings."""
    periods = list(dict.fromkeys(periods))
    figures = {period: _snapshot_sums(data, region) for period, data in fresh_snapshots(periods).items()}
    missing = [period for period in periods if period not in figures]
    if missing:
        rows = (dispensings_in_scope(periods=missing, region=region).values("period")
                .annotate(visits=_visits_expr(), total=Sum("total"), fund=Sum("fund_payment")).order_by())
        for row in rows:
            figures[row["period"]] = row
    out = {}
    for period in periods:
        agg = figures.get(period, {})
        total, fund = agg.get("total") or ZERO, agg.get("fund") or ZERO
        out[period] = {"visits": int(agg.get("visits") or 0), "total": total, "fund": fund,
                       "ratio": ratio(fund, total)}
    return out


def monthly_report(*, period: dt.date, region=None) -> dict:
    """R-SET-3: visits, total, fund payment, personal payment and reimbursement ratio (fund ÷ total) for the month,
    overall and by region (county of the dispensing pharmacy), institution, pharmacy, drug and insurance type.

    Three scans of the month: dispensings grouped by (pharmacy, insurance type) — from which the pharmacy, region,
    insurance-type and overall figures are summed (a few thousand aggregate rows, exact Decimals) —, dispensings by
    prescribing institution, and lines by drug. Names are looked up for the aggregate rows only."""
    base = dispensings_in_scope(period=period, region=region)
    sums = {"visits": _visits_expr(), "total": Sum("total"), "fund": Sum("fund_payment"),
            "personal": Sum("personal_payment")}
    cells = list(base.values("pharmacy_id", "insurance_type").annotate(**sums).order_by())
    pharmacies = {p["pk"]: p for p in Pharmacy.objects.filter(pk__in={c["pharmacy_id"] for c in cells})
                  .values("pk", "code", "name", "region__code", "region__name")}
    overall: dict = {}
    per_pharmacy: dict[int, dict] = {}
    per_region: dict[str, dict] = {}
    per_type: dict[str, dict] = {}
    for cell in cells:
        pharmacy = pharmacies[cell["pharmacy_id"]]
        _add(overall, cell)
        _add(per_pharmacy.setdefault(cell["pharmacy_id"], {}), cell)
        _add(per_region.setdefault(pharmacy["region__code"], {"name": pharmacy["region__name"]}), cell)
        _add(per_type.setdefault(cell["insurance_type"], {}), cell)
    labels = dict(Dispensing._meta.get_field("insurance_type").choices)
    by_region = [_row(v, region_code=code, region_name=v["name"]) for code, v in sorted(per_region.items())]
    by_pharmacy = sorted((_row(v, code=pharmacies[pk]["code"], name=pharmacies[pk]["name"])
                          for pk, v in per_pharmacy.items()), key=lambda r: r["code"])
    by_insurance = [_row(v, insurance_type=t, name=str(labels.get(t, ""))) for t, v in sorted(per_type.items())]

    per_institution = list(base.values("institution_id").annotate(**sums).order_by())
    institutions = {i["pk"]: i for i in Institution.objects.filter(pk__in={r["institution_id"] for r in per_institution})
                    .values("pk", "code", "name")}
    by_institution = sorted((_row(v, code=institutions[v["institution_id"]]["code"],
                                  name=institutions[v["institution_id"]]["name"]) for v in per_institution),
                            key=lambda r: r["code"])

    lines = DispensingLine.objects.filter(dispensing__period=period)
    if region is not None:
        lines = lines.filter(dispensing__pharmacy_id__in=Pharmacy.objects.filter(region_q(region)).values("pk"))
    per_drug = list(lines.values("drug_id").annotate(
        visits=_line_visits_expr(), quantity=Sum("quantity"), total=Sum("line_total"), fund=Sum("fund_payment"),
        personal=Sum("personal_payment")).order_by())
    drugs = {d["pk"]: d for d in Drug.objects.filter(pk__in={r["drug_id"] for r in per_drug})
             .values("pk", "code", "generic_name", "manufacturer")}
    by_drug = sorted((_row(v, code=drugs[v["drug_id"]]["code"], generic_name=drugs[v["drug_id"]]["generic_name"],
                           manufacturer=drugs[v["drug_id"]]["manufacturer"], quantity=int(v["quantity"] or 0))
                      for v in per_drug), key=lambda r: r["code"])
    return {
        "period": label(period),
        "region": None if region is None else {"code": region.code, "name": region.name},
        "totals": _row(overall),
        "by_region": by_region,
        "by_institution": by_institution,
        "by_pharmacy": by_pharmacy,
        "by_drug": by_drug,
        "by_insurance_type": by_insurance,
    }


def month_figures(*, period: dt.date, region=None) -> dict:
    """Visits, fund payment and ratio of one month (the dashboard, the home figures): ``months_figures``."""
    return months_figures(periods=[period], region=region)[period]


# --------------------------------------------------------------------------- reconciliation (R-SET-2)

def _month_bounds(period: dt.date) -> tuple[dt.datetime, dt.datetime]:
    tz = timezone.get_current_timezone()
    start = dt.datetime.combine(period, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(next_period(period), dt.time.min, tzinfo=tz)
    return start, end


def _not_reversed():
    return ~Exists(Dispensing.objects.filter(reverses=OuterRef("pk")))


def reconciliation_findings(*, period: dt.date) -> list[dict]:
    """Every R-SET-2 mismatch of the month, each as the fields of a ``ReconciliationDifference``. Each kind is one
    set-based query; only the (few) mismatching rows come back to Python."""
    start, end = _month_bounds(period)
    findings: list[dict] = []
    kinds = ReconciliationDifference.Kind
    live = Dispensing.objects.filter(period=period, kind=Dispensing.Kind.NORMAL).filter(_not_reversed())

    # 1. dispensed without a flowed prescription (cancelled, declined, expired, or flowed to another pharmacy)
    for d in (live.exclude(prescription__status=Prescription.Status.DISPENSED, prescription__pharmacy_id=F("pharmacy_id"))
              .values("id", "pharmacy_id", "institution_id", "prescription_id", "prescription__status",
                      "prescription__serial_no")):
        findings.append({
            "kind": kinds.NO_FLOWED_PRESCRIPTION, "key": f"d{d['id']}", "dispensing_id": d["id"],
            "pharmacy_id": d["pharmacy_id"], "institution_id": d["institution_id"],
            "prescription_id": d["prescription_id"],
            "detail": f"处方 {d['prescription__serial_no']} 状态为 {d['prescription__status']} 或未流转至本药店，却已配药",
        })

    # 2. quantities that differ from the prescription's
    rx_quantity = PrescriptionItem.objects.filter(prescription_id=OuterRef("dispensing__prescription_id"),
                                                  drug_id=OuterRef("drug_id")).values("quantity")[:1]
    for line in (DispensingLine.objects.filter(dispensing__in=live)
                 .values("dispensing_id", "drug_id", "dispensing__pharmacy_id", "dispensing__institution_id",
                         "dispensing__prescription_id")
                 .annotate(dispensed=Sum("quantity"), prescribed=Subquery(rx_quantity))
                 .filter(Q(prescribed__isnull=True) | ~Q(dispensed=F("prescribed")))):
        findings.append({
            "kind": kinds.QUANTITY_MISMATCH, "key": f"d{line['dispensing_id']}-{line['drug_id']}",
            "dispensing_id": line["dispensing_id"], "drug_id": line["drug_id"],
            "pharmacy_id": line["dispensing__pharmacy_id"], "institution_id": line["dispensing__institution_id"],
            "prescription_id": line["dispensing__prescription_id"],
            "expected": Decimal(line["prescribed"] or 0), "actual": Decimal(line["dispensed"]),
            "detail": f"处方数量 {line['prescribed'] or 0}，配药数量 {line['dispensed']}",
        })

    # 3. prices above the payment standard in force that day, or a line total that is not quantity × price
    standard = (PaymentStandard.objects.filter(drug_id=OuterRef("drug_id"), valid_from__lte=OuterRef("day"))
                .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=OuterRef("day")))
                .order_by("-valid_from").values("amount")[:1])
    priced = (DispensingLine.objects.filter(dispensing__in=live)
              .annotate(day=TruncDate("dispensing__dispensed_at"))
              .annotate(standard=Subquery(standard, output_field=MONEY),
                        computed=F("quantity") * F("unit_price"))
              .filter(Q(unit_price__gt=F("standard") + Decimal("0.005"))
                      | Q(standard__isnull=True)
                      | Q(line_total__gt=F("computed") + Decimal("0.005"))
                      | Q(line_total__lt=F("computed") - Decimal("0.005")))
              .values("dispensing_id", "drug_id", "unit_price", "standard", "line_total", "quantity",
                      "dispensing__pharmacy_id", "dispensing__institution_id", "dispensing__prescription_id"))
    for line in priced:
        findings.append({
            "kind": kinds.PRICE_MISMATCH, "key": f"d{line['dispensing_id']}-{line['drug_id']}",
            "dispensing_id": line["dispensing_id"], "drug_id": line["drug_id"],
            "pharmacy_id": line["dispensing__pharmacy_id"], "institution_id": line["dispensing__institution_id"],
            "prescription_id": line["dispensing__prescription_id"],
            "expected": line["standard"], "actual": line["unit_price"],
            "detail": (f"单价 {line['unit_price']}，当日支付标准 {line['standard'] if line['standard'] is not None else '无'}，"
                       f"金额 {line['line_total']}（数量 {line['quantity']}）"),
        })

    # 4. prescriptions issued this month, flowed and never dispensed (expired, or past their expiry)
    for rx in (Prescription.objects.filter(issued_at__gte=start, issued_at__lt=end)
               .filter(Q(status=Prescription.Status.EXPIRED)
                       | Q(status=Prescription.Status.FLOWED, expires_at__lt=end))
               .filter(~Exists(Dispensing.objects.filter(prescription=OuterRef("pk"))))
               .values("id", "serial_no", "pharmacy_id", "institution_id", "status")):
        findings.append({
            "kind": kinds.NEVER_DISPENSED, "key": f"rx{rx['id']}", "prescription_id": rx["id"],
            "pharmacy_id": rx["pharmacy_id"], "institution_id": rx["institution_id"],
            "detail": f"处方 {rx['serial_no']} 已流转但未配药（{rx['status']}）",
        })

    # 5. a pharmacy's sales to the end of the month above its purchases less returns (R-PHA-3)
    active_pairs = DispensingLine.objects.filter(dispensing__period=period).values(
        "dispensing__pharmacy_id", "drug_id").distinct()
    pairs = {(p["dispensing__pharmacy_id"], p["drug_id"]) for p in active_pairs}
    if pairs:
        pharmacy_ids = {p for p, _ in pairs}
        sold = {(r["dispensing__pharmacy_id"], r["drug_id"]): r["sold"] for r in
                DispensingLine.objects.filter(dispensing__pharmacy_id__in=pharmacy_ids, dispensing__dispensed_at__lt=end)
                .values("dispensing__pharmacy_id", "drug_id").annotate(sold=Sum("quantity"))}
        bought = {(r["pharmacy_id"], r["drug_id"]): r["net"] for r in
                  StockMovement.objects.filter(pharmacy_id__in=pharmacy_ids, occurred_at__lt=end)
                  .values("pharmacy_id", "drug_id")
                  .annotate(net=Sum(Case(When(kind=StockMovement.Kind.PURCHASE, then=F("quantity")),
                                         default=-F("quantity"), output_field=IntegerField())))}
        for pharmacy_id, drug_id in sorted(pairs):
            s, b = sold.get((pharmacy_id, drug_id)) or 0, bought.get((pharmacy_id, drug_id)) or 0
            if s > b:
                findings.append({
                    "kind": kinds.SALES_EXCEED_PURCHASES, "key": f"p{pharmacy_id}-{drug_id}",
                    "pharmacy_id": pharmacy_id, "drug_id": drug_id, "expected": Decimal(b), "actual": Decimal(s),
                    "detail": f"截至月末累计销售 {s} 盒，进货（扣除退货）{b} 盒",
                })

    # 6. organisations' own totals that differ from the system's
    reported = ReportedTotal.objects.filter(period=period).values("organisation_kind", "institution_id",
                                                                  "pharmacy_id").distinct()
    for org in reported:
        if org["organisation_kind"] == OrganisationKind.INSTITUTION:
            organisation = Institution.objects.get(pk=org["institution_id"])
        else:
            organisation = Pharmacy.objects.get(pk=org["pharmacy_id"])
        for row in reported_comparison(organisation=organisation, period=period):
            if row["matches"]:
                continue
            prefix = "i" if org["organisation_kind"] == OrganisationKind.INSTITUTION else "p"
            findings.append({
                "kind": kinds.REPORTED_TOTAL_MISMATCH, "key": f"{prefix}{organisation.pk}-{row['drug_id']}",
                "institution_id": org["institution_id"], "pharmacy_id": org["pharmacy_id"], "drug_id": row["drug_id"],
                "expected": Decimal(row["system_total"]), "actual": Decimal(row["reported_total"]),
                "detail": (f"{row['drug_code']}：系统 {row['system_quantity']} 盒 / {row['system_total']} 元 / 基金 "
                           f"{row['system_fund_payment']}；上报 {row['reported_quantity']} 盒 / {row['reported_total']} 元 / "
                           f"基金 {row['reported_fund_payment']}")[:255],
            })
    return findings


def reported_comparison(*, organisation, period: dt.date) -> list[dict]:
    """R-SET-2: the organisation's reported monthly totals next to the system's, drug by drug (union of both)."""
    if isinstance(organisation, Institution):
        system_qs = DispensingLine.objects.filter(dispensing__period=period, dispensing__institution=organisation)
        reported_qs = ReportedTotal.objects.filter(period=period, institution=organisation)
    else:
        system_qs = DispensingLine.objects.filter(dispensing__period=period, dispensing__pharmacy=organisation)
        reported_qs = ReportedTotal.objects.filter(period=period, pharmacy=organisation)
    system = {r["drug_id"]: r for r in system_qs.values("drug_id", "drug__code", "drug__generic_name").annotate(
        quantity=Sum("quantity"), total=Sum("line_total"), fund=Sum("fund_payment"))}
    reported = {r["drug_id"]: r for r in reported_qs.values("drug_id", "drug__code", "drug__generic_name",
                                                             "quantity", "total", "fund_payment")}
    rows = []
    for drug_id in sorted(set(system) | set(reported), key=lambda i: (system.get(i) or reported.get(i))["drug__code"]):
        s, r = system.get(drug_id, {}), reported.get(drug_id, {})
        meta = s or r
        sq, st, sf = int(s.get("quantity") or 0), Decimal(s.get("total") or ZERO), Decimal(s.get("fund") or ZERO)
        rq, rt, rf = int(r.get("quantity") or 0), Decimal(r.get("total") or ZERO), Decimal(r.get("fund_payment") or ZERO)
        rows.append({
            "drug_id": drug_id, "drug_code": meta["drug__code"], "generic_name": meta["drug__generic_name"],
            "system_quantity": sq, "system_total": f"{st:.2f}", "system_fund_payment": f"{sf:.2f}",
            "reported_quantity": rq, "reported_total": f"{rt:.2f}", "reported_fund_payment": f"{rf:.2f}",
            "quantity_difference": rq - sq, "total_difference": f"{rt - st:.2f}",
            "fund_payment_difference": f"{rf - sf:.2f}", "in_system": bool(s), "reported": bool(r),
            "matches": sq == rq and st == rt and sf == rf,
        })
    return rows


def differences_visible_to(user) -> QuerySet[ReconciliationDifference]:
    qs = ReconciliationDifference.objects.select_related("institution", "pharmacy", "drug", "prescription",
                                                         "resolved_by")
    return scope_to_user(qs, user, region_fields=("pharmacy__region", "institution__region"))


def ward_delivery_statements(*, user, period: dt.date, today: dt.date) -> list[dict]:
    """R-SET-2 / 000 五(三): per hospital and pharmacy, the month's ward deliveries the hospital owes the pharmacy
    for, due by the 10th of the next month, with what was paid (payments recorded and not reversed). Overdue means
    unpaid or underpaid after the due date, never the date alone."""
    qs = scope_to_user(Dispensing.objects.filter(period=period, delivery=Delivery.WARD), user,
                       region_fields=("institution__region", "pharmacy__region"))
    due = ward_payment_due(period)
    rows = qs.values("institution__code", "institution__name", "pharmacy__code", "pharmacy__name").annotate(
        visits=_visits_expr(), total=Sum("total"), fund=Sum("fund_payment"), personal=Sum("personal_payment"),
    ).order_by("institution__code", "pharmacy__code")
    paid = {(p["statement__institution__code"], p["pharmacy__code"]): p["s"] for p in
            WardPayment.objects.filter(statement__period=period, reversed_at__isnull=True)
            .values("statement__institution__code", "pharmacy__code").annotate(s=Sum("amount"))}
    out = []
    for r in rows:
        amount_paid = paid.get((r["institution__code"], r["pharmacy__code"])) or ZERO
        outstanding = (r["total"] or ZERO) - amount_paid
        out.append(_row(r, institution_code=r["institution__code"], institution_name=r["institution__name"],
                        pharmacy_code=r["pharmacy__code"], pharmacy_name=r["pharmacy__name"], due_date=due.isoformat(),
                        paid=f"{amount_paid:.2f}", outstanding=f"{outstanding:.2f}",
                        overdue=outstanding > 0 and today > due))
    return out


def open_differences_count(user) -> int:
    return differences_visible_to(user).filter(status=ReconciliationDifference.Status.OPEN).count()


def organisation_of(user):
    """The institution or pharmacy a hospital or pharmacy user acts for (None for bureau users)."""
    if user.role == Role.HOSPITAL and user.institution_id:
        return user.institution
    if user.role == Role.PHARMACY and user.pharmacy_id:
        return user.pharmacy
    return None

