"""R-MON-1: a dispensing line priced above the payment standard in force on its day (R-CAT-3) — anything that got
past R-RX-5's refusal (imported or corrected rows). Amount at risk: (price − standard) × quantity."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, fetch_dicts, local_day_sql, month_bounds, q2
from apps.monitoring.rules.rows import LineRow

RULE = Rule.PRICE_ABOVE_STANDARD


def key(line_id: int) -> str:
    return f"{RULE}:line:{line_id}"


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


def find_sql(*, period: dt.date) -> list[Finding]:
    start, end = month_bounds(period)
    day = local_day_sql("d.dispensed_at")
    # only lines above the drug's lowest standard ever can be above the one in force: the exact check (a lookup
    # per drug and day) runs on those few
    rows = fetch_dicts(f"""
        WITH lowest AS (SELECT drug_id, min(amount) AS amount FROM catalogue_paymentstandard GROUP BY drug_id),
        candidates AS MATERIALIZED (
          SELECT l.id AS line_id, d.id AS dispensing_id, d.prescription_id, d.period, d.pharmacy_id, d.institution_id,
                 d.person_id, d.dispensed_at, l.drug_id, l.quantity, l.unit_price, {day} AS day
          FROM prescriptions_dispensingline l
          JOIN prescriptions_dispensing d ON d.id = l.dispensing_id
          JOIN lowest ON lowest.drug_id = l.drug_id
          WHERE d.period = %s AND d.kind = 'normal' AND l.unit_price > lowest.amount
            AND NOT EXISTS (SELECT 1 FROM prescriptions_dispensing r WHERE r.reverses_id = d.id))
        SELECT c.*, ph.region_id, dr.generic_name, std.amount AS standard,
               round((c.unit_price - std.amount) * c.quantity, 2) AS amount
        FROM candidates c
        JOIN pharmacies_pharmacy ph ON ph.id = c.pharmacy_id
        JOIN catalogue_drug dr ON dr.id = c.drug_id
        JOIN LATERAL (SELECT ps.amount FROM catalogue_paymentstandard ps
                      WHERE ps.drug_id = c.drug_id AND ps.valid_from <= c.day
                        AND (ps.valid_until IS NULL OR ps.valid_until >= c.day)
                      ORDER BY ps.valid_from DESC LIMIT 1) std ON true
        WHERE c.unit_price > std.amount
        ORDER BY c.line_id""", [start])
    return [Finding(
        rule=RULE, key=key(r["line_id"]), period=r["period"], region_id=r["region_id"], pharmacy_id=r["pharmacy_id"],
        institution_id=r["institution_id"], person_id=r["person_id"], amount=q2(r["amount"]),
        summary=f"{r['generic_name']} 单价 {r['unit_price']} 高于支付标准 {r['standard']}（{r['quantity']} 盒）",
        evidence={"dispensings": [r["dispensing_id"]], "prescriptions": [r["prescription_id"]],
                  "lines": [r["line_id"]], "unit_price": str(r["unit_price"]), "payment_standard": str(r["standard"]),
                  "quantity": r["quantity"]}) for r in rows]
