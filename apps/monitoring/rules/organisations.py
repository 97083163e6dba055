"""The organisations' rules (batch only).

- R-MON-7: institutions and pharmacies meeting an exit criterion (R-INS-4, R-PHA-2). The criteria live once, in
  the registries (``institutions_flagged_for_exit`` / ``pharmacies_flagged_for_exit``, judged on the month's last
  day); this rule turns each flag into one finding per organisation and year (the annual assessment, 上年度), so a
  flag that persists is not raised again every month.
- R-MON-8: pharmacy sales exceeding purchases (R-PHA-3): for a pharmacy that reports its stock (at least one
  purchase or return recorded), a drug dispensed in the month whose net packs dispensed up to the month's end
  exceed the packs bought less returned by then. One finding per pharmacy, drug and month; amount at risk: the
  excess packs × the month's fund per pack of that drug there.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, Sum

from apps.institutions.selectors import institutions_flagged_for_exit
from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, FindingQuery, month_bounds, q2
from apps.pharmacies.selectors import pharmacies_flagged_for_exit
from apps.prescriptions.models import DispensingLine, StockMovement


# --------------------------------------------------------------------------- R-MON-7

@dataclass(frozen=True)
class ExitRow:
    kind: str  # "institution" | "pharmacy"
    id: int
    name: str
    region_id: int
    reasons: tuple


def exit_key(row: ExitRow, period: dt.date) -> str:
    return f"{Rule.EXIT_CRITERIA}:{row.kind}:{row.id}:{period.year}"


def exit_rows(*, period: dt.date) -> list[ExitRow]:
    """The registries' R-INS-4 flags on the month's last day."""
    _, end = month_bounds(period)
    today = end - dt.timedelta(days=1)
    rows = [ExitRow("institution", f.organisation.pk, f.organisation.name, f.organisation.region_id,
                    tuple(f.reasons)) for f in institutions_flagged_for_exit(today=today)]
    rows += [ExitRow("pharmacy", f.organisation.pk, f.organisation.name, f.organisation.region_id, tuple(f.reasons))
             for f in pharmacies_flagged_for_exit(today=today)]
    return rows


def find_exit(rows: Iterable[ExitRow], *, period: dt.date) -> list[Finding]:
    start, _ = month_bounds(period)
    return [Finding(
        rule=Rule.EXIT_CRITERIA, key=exit_key(r, start), period=start, region_id=r.region_id,
        institution_id=r.id if r.kind == "institution" else None, pharmacy_id=r.id if r.kind == "pharmacy" else None,
        summary=f"{r.name} 符合退出情形：" + "；".join(r.reasons), evidence={"reasons": list(r.reasons)})
        for r in sorted(rows, key=lambda r: (r.kind, r.id))]


# --------------------------------------------------------------------------- R-MON-8

@dataclass(frozen=True)
class StockRow:
    pharmacy_id: int
    region_id: int
    drug_id: int
    drug_name: str
    purchased: int
    returned: int
    dispensed_to_date: int
    month_quantity: int
    month_fund: Decimal


def stock_key(*, pharmacy_id: int, drug_id: int, period: dt.date) -> str:
    return f"{Rule.SALES_EXCEED_PURCHASES}:{pharmacy_id}:{drug_id}:{period:%Y-%m}"


def _month_end_moment(period: dt.date) -> dt.datetime:
    _, end = month_bounds(period)
    return dt.datetime.combine(end, dt.time.min, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def stock_rows(*, period: dt.date) -> list[StockRow]:
    """Per pharmacy reporting stock and drug dispensed there in ``period``: the packs bought, returned and
    dispensed (net, reversals negative) up to the month's end, and the month's packs and fund."""
    start, _ = month_bounds(period)
    until = _month_end_moment(start)
    reporting = StockMovement.objects.filter(occurred_at__lt=until).values("pharmacy_id")
    month = (DispensingLine.objects.filter(dispensing__period=start, dispensing__pharmacy_id__in=reporting)
             .values("dispensing__pharmacy_id", "dispensing__pharmacy__region_id", "drug_id", "drug__generic_name")
             .annotate(q=Sum("quantity"), f=Sum("fund_payment")))
    rows = []
    for m in month:
        pharmacy, drug = m["dispensing__pharmacy_id"], m["drug_id"]
        moves = StockMovement.objects.filter(pharmacy_id=pharmacy, drug_id=drug, occurred_at__lt=until).aggregate(
            bought=Sum("quantity", filter=Q(kind=StockMovement.Kind.PURCHASE)),
            back=Sum("quantity", filter=Q(kind=StockMovement.Kind.RETURN)))
        dispensed = DispensingLine.objects.filter(dispensing__pharmacy_id=pharmacy, drug_id=drug,
                                                  dispensing__period__lte=start).aggregate(n=Sum("quantity"))["n"]
        rows.append(StockRow(pharmacy_id=pharmacy, region_id=m["dispensing__pharmacy__region_id"], drug_id=drug,
                             drug_name=m["drug__generic_name"], purchased=moves["bought"] or 0,
                             returned=moves["back"] or 0, dispensed_to_date=dispensed or 0,
                             month_quantity=m["q"] or 0, month_fund=m["f"] or Decimal(0)))
    return rows


def find_stock(rows: Iterable[StockRow], *, period: dt.date) -> list[Finding]:
    start, _ = month_bounds(period)
    findings = []
    for r in sorted(rows, key=lambda r: (r.pharmacy_id, r.drug_id)):
        excess = r.dispensed_to_date - (r.purchased - r.returned)
        if excess <= 0 or r.month_quantity <= 0:
            continue
        per_pack = r.month_fund / r.month_quantity
        findings.append(Finding(
            rule=Rule.SALES_EXCEED_PURCHASES, key=stock_key(pharmacy_id=r.pharmacy_id, drug_id=r.drug_id, period=start),
            period=start, region_id=r.region_id, pharmacy_id=r.pharmacy_id, amount=q2(excess * per_pack),
            summary=f"{r.drug_name} 截至月末配出 {r.dispensed_to_date} 盒，进货 {r.purchased} 盒、退货 {r.returned} 盒，"
                    f"超出 {excess} 盒",
            evidence={"drug": r.drug_id, "purchased": r.purchased, "returned": r.returned,
                      "dispensed_to_date": r.dispensed_to_date, "excess": excess}))
    return findings


def stock_query(*, period: dt.date) -> FindingQuery:
    """R-MON-8 set-based, as one finding query (the same figures as ``stock_rows`` + ``find_stock``)."""
    start, _ = month_bounds(period)
    until = _month_end_moment(start)
    sql = """
        WITH reporting AS (SELECT DISTINCT pharmacy_id FROM prescriptions_stockmovement WHERE occurred_at < %s),
        month AS (
          SELECT d.pharmacy_id, l.drug_id, sum(l.quantity) AS q, sum(l.fund_payment) AS f
          FROM prescriptions_dispensing d JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
          WHERE d.period = %s AND d.pharmacy_id IN (SELECT pharmacy_id FROM reporting)
          GROUP BY 1, 2),
        moves AS (
          SELECT s.pharmacy_id, s.drug_id,
                 coalesce(sum(s.quantity) FILTER (WHERE s.kind = 'purchase'), 0) AS bought,
                 coalesce(sum(s.quantity) FILTER (WHERE s.kind = 'return'), 0) AS back
          FROM prescriptions_stockmovement s JOIN month USING (pharmacy_id, drug_id)
          WHERE s.occurred_at < %s GROUP BY 1, 2),
        sold AS (
          SELECT d.pharmacy_id, l.drug_id, sum(l.quantity) AS n
          FROM prescriptions_dispensing d JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
          JOIN month m ON m.pharmacy_id = d.pharmacy_id AND m.drug_id = l.drug_id
          WHERE d.period <= %s GROUP BY 1, 2),
        over AS (
          SELECT m.pharmacy_id, ph.region_id, m.drug_id, dr.generic_name, coalesce(mv.bought, 0) AS bought,
                 coalesce(mv.back, 0) AS back, s.n AS dispensed, m.q, m.f,
                 s.n - (coalesce(mv.bought, 0) - coalesce(mv.back, 0)) AS excess
          FROM month m JOIN sold s USING (pharmacy_id, drug_id)
          LEFT JOIN moves mv USING (pharmacy_id, drug_id)
          JOIN pharmacies_pharmacy ph ON ph.id = m.pharmacy_id JOIN catalogue_drug dr ON dr.id = m.drug_id
          WHERE m.q > 0 AND s.n > coalesce(mv.bought, 0) - coalesce(mv.back, 0))
        SELECT 'R-MON-8' AS rule,
               'R-MON-8:' || pharmacy_id || ':' || drug_id || ':' || to_char(%s::date, 'YYYY-MM') AS finding_key,
               %s::date AS period, region_id, NULL::bigint AS institution_id, pharmacy_id, NULL::bigint AS person_id,
               NULL::bigint AS physician_id, round(excess * (f / q), 2) AS amount,
               generic_name || ' 截至月末配出 ' || dispensed || ' 盒，进货 ' || bought || ' 盒、退货 ' || back
                 || ' 盒，超出 ' || excess || ' 盒' AS summary,
               jsonb_build_object('drug', drug_id, 'purchased', bought, 'returned', back, 'dispensed_to_date', dispensed,
                                  'excess', excess) AS evidence
        FROM over"""
    return FindingQuery(sql, (until, start, until, start, start, start))
