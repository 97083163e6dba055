"""R-MON-6 high-cost, high-volume drugs (000 六): per variety, pooling city and month, the patients' fund use for
the variety; flagged are the top N patients by fund (ties: lower patient id first) and the patients above the
region's multiple of the median patient's fund use. One finding per patient, variety and month, about the
pharmacy that received most of that fund (ties: lower id); amount at risk: the patient's fund for the variety.
Batch only."""
from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, FindingQuery, month_bounds, q2, variety_key
from apps.monitoring.rules.rows import LineRow

RULE = Rule.HIGH_COST_HIGH_VOLUME


@dataclass(frozen=True)
class PoolThresholds:
    top_n: int
    median_multiple: Decimal


def key(*, person_id: int, variety: str, period: dt.date) -> str:
    return f"{RULE}:{person_id}:{variety}:{period:%Y-%m}"


def city_code(region_code: str) -> str:
    return region_code[:4] + "00"


def find(rows: Iterable[LineRow], *, city_of: Callable[[int], str], region_of_city: Callable[[str], int],
         thresholds_for: Callable[[int], PoolThresholds]) -> list[Finding]:
    """``city_of(pharmacy_region_id)`` → the pooling city's code; ``region_of_city(code)`` → its region id;
    ``thresholds_for(region_id)`` the city's thresholds."""
    use: dict[tuple, dict] = {}
    for r in rows:
        k = (city_of(r.pharmacy_region_id), variety_key(r.generic_name, r.dosage_form), r.period, r.person_id)
        u = use.setdefault(k, {"fund": Decimal(0), "by_pharmacy": defaultdict(Decimal), "regions": {},
                               "dispensings": set(), "name": (r.generic_name, r.dosage_form), "institution": {}})
        u["fund"] += r.fund
        u["by_pharmacy"][r.pharmacy_id] += r.fund
        u["regions"][r.pharmacy_id] = r.pharmacy_region_id
        u["institution"][r.pharmacy_id] = min(u["institution"].get(r.pharmacy_id, r.institution_id), r.institution_id)
        u["dispensings"].add(r.dispensing_id)
    pools: dict[tuple, list] = defaultdict(list)
    for (city, variety, period, person), u in use.items():
        pools[(city, variety, period)].append((person, u))
    findings = []
    for (city, variety, period), patients in sorted(pools.items()):
        t = thresholds_for(region_of_city(city))
        median = statistics.median([u["fund"] for _, u in patients])
        ranked = sorted(patients, key=lambda p: (-p[1]["fund"], p[0]))
        for rank, (person, u) in enumerate(ranked, start=1):
            above = u["fund"] > t.median_multiple * median
            if rank > t.top_n and not above:
                continue
            pharmacy = min(u["by_pharmacy"], key=lambda ph: (-u["by_pharmacy"][ph], ph))
            findings.append(_finding(person=person, variety=variety, period=period, name=u["name"],
                                     fund=u["fund"], rank=rank, median=median, above=above, t=t, pharmacy=pharmacy,
                                     region_id=u["regions"][pharmacy], institution_id=u["institution"][pharmacy],
                                     dispensings=sorted(u["dispensings"]), patients=len(patients)))
    return findings


def _finding(*, person, variety, period, name, fund, rank, median, above, t, pharmacy, region_id, institution_id,
             dispensings, patients) -> Finding:
    why = []
    if rank <= t.top_n:
        why.append(f"基金支付排第 {rank} 名（前 {t.top_n} 名）")
    if above:
        why.append(f"超过中位数 {q2(median)} 的 {t.median_multiple} 倍")
    return Finding(
        rule=RULE, key=key(person_id=person, variety=variety, period=period), period=period, region_id=region_id,
        pharmacy_id=pharmacy, institution_id=institution_id, person_id=person, amount=q2(fund),
        summary=f"{name[0]}（{name[1]}）本月基金支付 {q2(fund)} 元：" + "，".join(why),
        evidence={"dispensings": dispensings, "variety": variety, "rank": rank, "median": str(q2(median)),
                  "patients": patients, "fund": str(q2(fund))})


def query(*, period: dt.date, thresholds: dict[str, PoolThresholds], default: PoolThresholds) -> FindingQuery:
    """R-MON-6 set-based, as one finding query. ``thresholds``: city code → thresholds (the cities without their
    own use ``default``). The median is exact (the mean of the middle one or two values, as ``statistics.median``)."""
    start, _ = month_bounds(period)
    values = ", ".join(f"('{c}', {int(t.top_n)}, {Decimal(t.median_multiple)})" for c, t in thresholds.items()) \
        or "('', 0, 0)"
    sql = f"""
        WITH use AS MATERIALIZED (
          SELECT substr(rg.code, 1, 4) || '00' AS city, dr.generic_name, dr.dosage_form, d.person_id, d.pharmacy_id,
                 ph.region_id, min(d.institution_id) AS institution_id, sum(l.fund_payment) AS fund
          FROM prescriptions_dispensing d
          JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
          JOIN catalogue_drug dr ON dr.id = l.drug_id
          JOIN pharmacies_pharmacy ph ON ph.id = d.pharmacy_id
          JOIN core_region rg ON rg.id = ph.region_id
          WHERE d.period = %s AND d.kind = 'normal'
            AND NOT EXISTS (SELECT 1 FROM prescriptions_dispensing r WHERE r.reverses_id = d.id)
          GROUP BY 1, 2, 3, 4, 5, 6),
        patient AS (
          SELECT city, generic_name, dosage_form, person_id, sum(fund) AS fund,
                 (array_agg(pharmacy_id ORDER BY fund DESC, pharmacy_id))[1] AS pharmacy_id,
                 (array_agg(region_id ORDER BY fund DESC, pharmacy_id))[1] AS region_id,
                 (array_agg(institution_id ORDER BY fund DESC, pharmacy_id))[1] AS institution_id
          FROM use GROUP BY 1, 2, 3, 4),
        ranked AS (
          SELECT p.*,
                 row_number() OVER (PARTITION BY city, generic_name, dosage_form ORDER BY fund DESC, person_id) AS rank,
                 row_number() OVER (PARTITION BY city, generic_name, dosage_form ORDER BY fund, person_id) AS up,
                 count(*) OVER (PARTITION BY city, generic_name, dosage_form) AS patients
          FROM patient p),
        medians AS (
          SELECT city, generic_name, dosage_form, avg(fund) AS median FROM ranked
          WHERE up IN ((patients + 1) / 2, (patients + 2) / 2) GROUP BY 1, 2, 3)
        , found AS (
        SELECT r.*, m.median, coalesce(t.top_n, %s) AS top_n, coalesce(t.multiple, %s) AS multiple,
               (SELECT array_agg(DISTINCT d.id ORDER BY d.id) FROM prescriptions_dispensing d
                JOIN prescriptions_dispensingline l ON l.dispensing_id = d.id
                JOIN catalogue_drug dr ON dr.id = l.drug_id
                JOIN pharmacies_pharmacy ph ON ph.id = d.pharmacy_id
                JOIN core_region rg ON rg.id = ph.region_id
                WHERE d.person_id = r.person_id AND d.period = %s AND d.kind = 'normal'
                  AND dr.generic_name = r.generic_name AND dr.dosage_form = r.dosage_form
                  AND substr(rg.code, 1, 4) || '00' = r.city
                  AND NOT EXISTS (SELECT 1 FROM prescriptions_dispensing x WHERE x.reverses_id = d.id)) AS dispensings
        FROM ranked r JOIN medians m USING (city, generic_name, dosage_form)
        LEFT JOIN (VALUES {values}) AS t(city, top_n, multiple) ON t.city = r.city
        WHERE r.rank <= coalesce(t.top_n, %s) OR r.fund > coalesce(t.multiple, %s) * m.median)
        SELECT 'R-MON-6' AS rule,
               'R-MON-6:' || person_id || ':' || btrim(generic_name) || '|' || btrim(dosage_form) || ':'
                 || to_char(%s::date, 'YYYY-MM') AS finding_key,
               %s::date AS period, region_id, institution_id, pharmacy_id, person_id, NULL::bigint AS physician_id,
               round(fund, 2) AS amount,
               generic_name || '（' || dosage_form || '）本月基金支付 ' || round(fund, 2) || ' 元：' || concat_ws('，',
                 CASE WHEN rank <= top_n THEN '基金支付排第 ' || rank || ' 名（前 ' || top_n || ' 名）' END,
                 CASE WHEN fund > multiple * median THEN '超过中位数 ' || round(median, 2) || ' 的 ' || multiple || ' 倍' END)
                 AS summary,
               jsonb_build_object('dispensings', coalesce(to_jsonb(dispensings), '[]'::jsonb),
                                  'variety', btrim(generic_name) || '|' || btrim(dosage_form), 'rank', rank,
                                  'median', round(median, 2)::text, 'patients', patients,
                                  'fund', round(fund, 2)::text) AS evidence
        FROM found
"""
    return FindingQuery(sql, (start, default.top_n, default.median_multiple, start, default.top_n,
                              default.median_multiple, start, start))
