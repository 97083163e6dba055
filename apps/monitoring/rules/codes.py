"""R-MON-4: a traceability code seen twice. Every appearance of a code after its first is compared with the one
before it: flagged when the earlier one is still live (never released by a reversal: two live dispensings of
one pack — the live-code unique index refuses it today, the rule still says so) or when the earlier one was released by a reversal and the pack
was then dispensed by another pharmacy (a released pack should be back on the first pharmacy's shelf). The
reversal-and-redispense at the same pharmacy (R-RX-6) is the normal correction and is not flagged.

One finding per later appearance, about its pharmacy; amount at risk: the fund paid for that pack (the line's
fund ÷ its quantity)."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, FindingQuery, month_bounds, q2
from apps.prescriptions.models import TraceCode

RULE = Rule.TRACE_CODE_REUSED


@dataclass(frozen=True)
class CodeRow:
    id: int
    code: str
    dispensing_id: int
    prescription_id: int
    period: dt.date
    dispensed_at: dt.datetime
    released_at: dt.datetime | None
    pharmacy_id: int
    region_id: int
    institution_id: int | None  # None for a row read only for its supply (hot path)
    person_id: int
    pack_fund: Decimal


def key(row_id: int) -> str:
    return f"{RULE}:trace:{row_id}"


def code_rows(qs) -> list[CodeRow]:
    rows = []
    for t in qs.select_related("line__dispensing", "pharmacy").order_by("id"):
        d = t.line.dispensing
        rows.append(CodeRow(id=t.pk, code=t.code, dispensing_id=d.pk, prescription_id=d.prescription_id,
                            period=d.period, dispensed_at=t.dispensed_at, released_at=t.released_at,
                            pharmacy_id=t.pharmacy_id, region_id=t.pharmacy.region_id,
                            institution_id=d.institution_id, person_id=d.person_id,
                            pack_fund=t.line.fund_payment / t.line.quantity if t.line.quantity else Decimal(0)))
    return rows


def rows_for_month(*, period: dt.date) -> list[CodeRow]:
    """Every appearance of each code that appears in a dispensing of ``period``."""
    start, _ = month_bounds(period)
    codes = TraceCode.objects.filter(line__dispensing__period=start).values("code")
    return code_rows(TraceCode.objects.filter(code__in=codes))


def find(rows: Iterable[CodeRow], *, period: dt.date | None = None) -> list[Finding]:
    by_code: dict[str, list[CodeRow]] = defaultdict(list)
    for r in rows:
        by_code[r.code].append(r)
    findings = []
    for code, seen in sorted(by_code.items()):
        seen.sort(key=lambda r: (r.dispensed_at, r.id))
        for before, later in zip(seen, seen[1:]):
            if period is not None and later.period != period:
                continue
            if before.released_at is not None and before.pharmacy_id == later.pharmacy_id:
                continue
            why = "此前配药未冲正仍有效" if before.released_at is None else "冲正释放后由另一药店再次配药"
            findings.append(Finding(
                rule=RULE, key=key(later.id), period=later.period, region_id=later.region_id,
                pharmacy_id=later.pharmacy_id, institution_id=later.institution_id, person_id=later.person_id,
                amount=q2(later.pack_fund),
                summary=f"追溯码 {code} 再次出现：{why}",
                evidence={"codes": [code], "dispensings": [before.dispensing_id, later.dispensing_id],
                          "prescriptions": [before.prescription_id, later.prescription_id],
                          "trace_rows": [before.id, later.id], "earlier_released": before.released_at is not None}))
    return findings


def query(*, period: dt.date) -> FindingQuery:
    """The same set-based (one finding query): each appearance compared with the one before it (``lag``)."""
    start, _ = month_bounds(period)
    sql = """
        WITH seen AS (
          SELECT t.id, t.code, t.dispensed_at, t.released_at, t.pharmacy_id, ph.region_id, d.id AS dispensing_id,
                 d.prescription_id, d.period, d.institution_id, d.person_id,
                 CASE WHEN l.quantity = 0 THEN 0 ELSE l.fund_payment / l.quantity END AS pack_fund,
                 lag(t.id) OVER w AS before_id, lag(t.released_at) OVER w AS before_released,
                 lag(t.pharmacy_id) OVER w AS before_pharmacy, lag(d.id) OVER w AS before_dispensing,
                 lag(d.prescription_id) OVER w AS before_prescription
          FROM prescriptions_tracecode t
          JOIN prescriptions_dispensingline l ON l.id = t.line_id
          JOIN prescriptions_dispensing d ON d.id = l.dispensing_id
          JOIN pharmacies_pharmacy ph ON ph.id = t.pharmacy_id
          WHERE t.code IN (SELECT t2.code FROM prescriptions_tracecode t2
                           JOIN prescriptions_dispensingline l2 ON l2.id = t2.line_id
                           JOIN prescriptions_dispensing d2 ON d2.id = l2.dispensing_id WHERE d2.period = %s)
          WINDOW w AS (PARTITION BY t.code ORDER BY t.dispensed_at, t.id))
        SELECT 'R-MON-4' AS rule, 'R-MON-4:trace:' || id AS finding_key, period, region_id, institution_id,
               pharmacy_id, person_id, NULL::bigint AS physician_id, round(pack_fund, 2) AS amount,
               '追溯码 ' || code || ' 再次出现：' || CASE WHEN before_released IS NULL THEN '此前配药未冲正仍有效'
                                                        ELSE '冲正释放后由另一药店再次配药' END AS summary,
               jsonb_build_object('codes', jsonb_build_array(code),
                                  'dispensings', jsonb_build_array(before_dispensing, dispensing_id),
                                  'prescriptions', jsonb_build_array(before_prescription, prescription_id),
                                  'trace_rows', jsonb_build_array(before_id, id),
                                  'earlier_released', before_released IS NOT NULL) AS evidence
        FROM seen
        WHERE before_id IS NOT NULL AND period = %s
          AND (before_released IS NULL OR before_pharmacy <> pharmacy_id)"""
    return FindingQuery(sql, (start, start))
