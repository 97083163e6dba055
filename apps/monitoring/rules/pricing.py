"""R-MON-1: a price above the payment standard in force on its day (R-CAT-3) — anything that got past R-RX-5's
refusal: imported or corrected dispensing lines, and the lines of manual claims (手工报销, R-PAY-5), whose invoice
price is checked against the standard in force on the invoice date (the claim itself was settled at no more than
the standard, 就低结算: what the provider charged above it is the finding).

- a dispensing line: one finding per line, about its pharmacy; amount at risk (price − standard) × quantity;
- a manual claim's line: one finding per claim line, in the invoice's month, about the bureau that received it
  (``region``) and — when the claim reimburses a self-paid dispensing of this system — that dispensing's
  pharmacy and hospital; an invoice from outside names no organisation of ours; amount at risk
  (invoice price − standard) × quantity."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from apps.catalogue.models import Drug
from apps.catalogue.selectors import payment_standard_version_on
from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, FindingQuery, month_bounds, q2
from apps.monitoring.rules.month import city_filter, region_city_filter
from apps.monitoring.rules.rows import LineRow
from apps.prescriptions.models import ManualClaim

RULE = Rule.PRICE_ABOVE_STANDARD


def key(line_id: int) -> str:
    return f"{RULE}:line:{line_id}"


def claim_key(claim_id: int, line_no: int) -> str:
    return f"{RULE}:claim:{claim_id}:{line_no}"


def find(rows: Iterable[LineRow]) -> list[Finding]:
    findings = []
    for r in rows:
        if r.standard_in_force is None or r.unit_price <= r.standard_in_force:
            continue
        findings.append(Finding(
            rule=RULE, key=key(r.line_id), period=r.period, region_id=r.pharmacy_region_id,
            pharmacy_id=r.pharmacy_id, institution_id=r.institution_id, person_id=r.person_id,
            amount=q2((r.unit_price - r.standard_in_force) * r.quantity),
            summary=f"{r.generic_name} 单价 {r.unit_price} 高于支付标准 {r.standard_in_force}（{r.quantity} 盒）",
            evidence={"dispensings": [r.dispensing_id], "prescriptions": [r.prescription_id], "lines": [r.line_id],
                      "unit_price": str(r.unit_price), "payment_standard": str(r.standard_in_force),
                      "quantity": r.quantity}))
    return findings


# --------------------------------------------------------------------------- manual claims

@dataclass(frozen=True)
class ClaimLineRow:
    claim_id: int
    line_no: int  # 1-based position in the claim's invoice lines
    invoice_no: str
    invoice_date: dt.date
    region_id: int
    person_id: int
    dispensing_id: int | None
    pharmacy_id: int | None
    institution_id: int | None
    drug_code: str
    generic_name: str
    quantity: int
    price: Decimal  # the invoice's unit price (what the provider charged)
    standard_in_force: Decimal | None


def _price(line: dict) -> Decimal:
    try:
        return Decimal(str(line.get("invoice_unit_price") or line.get("unit_price") or "0"))
    except InvalidOperation:
        return Decimal(0)


def claim_rows_for_month(*, period: dt.date) -> list[ClaimLineRow]:
    """The lines of the manual claims whose invoice date is in ``period``'s month, each with the payment standard
    in force on the invoice date (R-CAT-3)."""
    start, end = month_bounds(period)
    claims = list(ManualClaim.objects.filter(invoice_date__gte=start, invoice_date__lt=end)
                  .select_related("dispensing").order_by("id"))
    drugs = {d.code: d for d in Drug.objects.filter(
        code__in={(l.get("drug_code") or "") for c in claims for l in c.lines})}
    rows = []
    for c in claims:
        for no, line in enumerate(c.lines, start=1):
            drug = drugs.get(line.get("drug_code") or "")
            version = payment_standard_version_on(drug=drug, on=c.invoice_date) if drug else None
            d = c.dispensing
            rows.append(ClaimLineRow(
                claim_id=c.pk, line_no=no, invoice_no=c.invoice_no, invoice_date=c.invoice_date,
                region_id=c.region_id, person_id=c.person_id, dispensing_id=d.pk if d else None,
                pharmacy_id=d.pharmacy_id if d else None, institution_id=d.institution_id if d else None,
                drug_code=line.get("drug_code") or "", generic_name=drug.generic_name if drug else "",
                quantity=int(line.get("quantity") or 0), price=_price(line),
                standard_in_force=version.amount if version else None))
    return rows


def find_claims(rows: Iterable[ClaimLineRow]) -> list[Finding]:
    findings = []
    for r in rows:
        if r.standard_in_force is None or r.price <= r.standard_in_force:
            continue
        start, _ = month_bounds(r.invoice_date)
        findings.append(Finding(
            rule=RULE, key=claim_key(r.claim_id, r.line_no), period=start, region_id=r.region_id,
            pharmacy_id=r.pharmacy_id, institution_id=r.institution_id, person_id=r.person_id,
            amount=q2((r.price - r.standard_in_force) * r.quantity),
            summary=f"手工报销发票 {r.invoice_no}：{r.generic_name} 单价 {r.price} 高于支付标准 "
                    f"{r.standard_in_force}（{r.quantity} 盒）",
            evidence={"manual_claims": [r.claim_id], "claim_line": r.line_no,
                      "dispensings": [r.dispensing_id] if r.dispensing_id else [], "unit_price": str(r.price),
                      "payment_standard": str(r.standard_in_force), "quantity": r.quantity}))
    return findings


# --------------------------------------------------------------------------- set-based (the batch)

def query(*, period: dt.date, lines: str, cities=None) -> FindingQuery:
    """Both parts in PostgreSQL, as one finding query. Dispensing lines, read from the month table ``lines``
    (``month.month_table_build``): only lines above the drug's lowest standard ever can be above the one in force,
    so the exact check (a lookup per drug and day) runs on those few. Claim lines: the month's claims by invoice
    date (an index), their lines unnested. ``cities``: only the lines of those cities' pharmacies and the claims
    of their bureaus (one group of a split run)."""
    start, end = month_bounds(period)
    sql = f"""
        WITH lowest AS (SELECT drug_id, min(amount) AS amount FROM catalogue_paymentstandard GROUP BY drug_id),
        candidates AS MATERIALIZED (
          SELECT m.line_id, m.dispensing_id, m.prescription_id, m.period, m.pharmacy_id, m.pharmacy_region_id,
                 m.institution_id, m.person_id, m.drug_id, m.quantity, m.unit_price, m.day
          FROM {lines} m
          JOIN lowest ON lowest.drug_id = m.drug_id
          WHERE m.in_month AND m.unit_price > lowest.amount{city_filter('m.pharmacy_city', cities)}),
        claim_lines AS MATERIALIZED (
          SELECT c.id AS claim_id, e.no AS line_no, c.invoice_no, c.invoice_date, c.region_id, c.person_id,
                 c.dispensing_id, dd.pharmacy_id, dd.institution_id, dr.id AS drug_id, dr.generic_name,
                 coalesce((e.line ->> 'quantity')::integer, 0) AS quantity,
                 coalesce(nullif(e.line ->> 'invoice_unit_price', ''), nullif(e.line ->> 'unit_price', ''),
                          '0')::numeric AS price
          FROM prescriptions_manualclaim c
          CROSS JOIN LATERAL jsonb_array_elements(c.lines) WITH ORDINALITY AS e(line, no)
          JOIN catalogue_drug dr ON dr.code = e.line ->> 'drug_code'
          LEFT JOIN prescriptions_dispensing dd ON dd.id = c.dispensing_id
          WHERE c.invoice_date >= %s AND c.invoice_date < %s{region_city_filter('c.region_id', cities)})
        SELECT 'R-MON-1' AS rule, 'R-MON-1:line:' || c.line_id AS finding_key, c.period, c.pharmacy_region_id AS region_id,
               c.institution_id, c.pharmacy_id, c.person_id, NULL::bigint AS physician_id,
               round((c.unit_price - std.amount) * c.quantity, 2) AS amount,
               dr.generic_name || ' 单价 ' || c.unit_price || ' 高于支付标准 ' || std.amount || '（' || c.quantity
                 || ' 盒）' AS summary,
               jsonb_build_object('dispensings', jsonb_build_array(c.dispensing_id),
                                  'prescriptions', jsonb_build_array(c.prescription_id),
                                  'lines', jsonb_build_array(c.line_id), 'unit_price', c.unit_price::text,
                                  'payment_standard', std.amount::text, 'quantity', c.quantity) AS evidence
        FROM candidates c
        JOIN catalogue_drug dr ON dr.id = c.drug_id
        JOIN LATERAL (SELECT ps.amount FROM catalogue_paymentstandard ps
                      WHERE ps.drug_id = c.drug_id AND ps.valid_from <= c.day
                        AND (ps.valid_until IS NULL OR ps.valid_until >= c.day)
                      ORDER BY ps.valid_from DESC LIMIT 1) std ON true
        WHERE c.unit_price > std.amount
        UNION ALL
        SELECT 'R-MON-1', 'R-MON-1:claim:' || k.claim_id || ':' || k.line_no, %s::date, k.region_id,
               k.institution_id, k.pharmacy_id, k.person_id, NULL::bigint,
               round((k.price - std.amount) * k.quantity, 2),
               '手工报销发票 ' || k.invoice_no || '：' || k.generic_name || ' 单价 ' || k.price || ' 高于支付标准 '
                 || std.amount || '（' || k.quantity || ' 盒）',
               jsonb_build_object('manual_claims', jsonb_build_array(k.claim_id), 'claim_line', k.line_no,
                                  'dispensings', CASE WHEN k.dispensing_id IS NULL THEN '[]'::jsonb
                                                      ELSE jsonb_build_array(k.dispensing_id) END,
                                  'unit_price', k.price::text, 'payment_standard', std.amount::text,
                                  'quantity', k.quantity)
        FROM claim_lines k
        JOIN LATERAL (SELECT ps.amount FROM catalogue_paymentstandard ps
                      WHERE ps.drug_id = k.drug_id AND ps.valid_from <= k.invoice_date
                        AND (ps.valid_until IS NULL OR ps.valid_until >= k.invoice_date)
                      ORDER BY ps.valid_from DESC LIMIT 1) std ON true
        WHERE k.price > std.amount"""
    return FindingQuery(sql, (start, end, start))
