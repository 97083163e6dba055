"""R-MON-6 high-cost, high-volume drugs (000 六): per variety, pooling city and month, the patients' fund use for
the variety; flagged are the top N patients by fund (ties: lower patient id first) and the patients above the
region's multiple of the median patient's fund use. One finding per patient, variety, pooling city and month, about the
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
from apps.monitoring.rules.month import city_filter
from apps.monitoring.rules.rows import LineRow

RULE = Rule.HIGH_COST_HIGH_VOLUME


@dataclass(frozen=True)
class PoolThresholds:
    top_n: int
    median_multiple: Decimal


def key(*, person_id: int, variety: str, city: str, period: dt.date) -> str:
    """Per patient, variety, pooling city and month: a patient may be among the top of two cities' pools."""
    return f"{RULE}:{person_id}:{variety}:{city}:{period:%Y-%m}"


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
            findings.append(_finding(person=person, variety=variety, city=city, period=period, name=u["name"],
                                     fund=u["fund"], rank=rank, median=median, above=above, t=t, pharmacy=pharmacy,
                                     region_id=u["regions"][pharmacy], institution_id=u["institution"][pharmacy],
                                     dispensings=sorted(u["dispensings"]), patients=len(patients)))
    return findings


def _finding(*, person, variety, city, period, name, fund, rank, median, above, t, pharmacy, region_id, institution_id,
             dispensings, patients) -> Finding:
    why = []
    if rank <= t.top_n:
        why.append(f"基金支付排第 {rank} 名（前 {t.top_n} 名）")
    if above:
        why.append(f"超过中位数 {q2(median)} 的 {t.median_multiple} 倍")
    return Finding(
        rule=RULE, key=key(person_id=person, variety=variety, city=city, period=period), period=period,
        region_id=region_id,
        pharmacy_id=pharmacy, institution_id=institution_id, person_id=person, amount=q2(fund),
        summary=f"{name[0]}（{name[1]}）本月基金支付 {q2(fund)} 元：" + "，".join(why),
        evidence={"dispensings": dispensings, "variety": variety, "rank": rank, "median": str(q2(median)),
                  "patients": patients, "fund": str(q2(fund))})


def query(*, period: dt.date, lines: str, thresholds: dict[str, PoolThresholds],
          default: PoolThresholds, cities=None) -> FindingQuery:
    """R-MON-6 set-based, as one finding query over the month table ``lines``. ``thresholds``: city code →
    thresholds (the cities without their own use ``default``). The month's lines are summed on integer keys
    (patient, pharmacy, variety = the lowest drug id of its generic name and form); one window ranks each pool;
    the median is exact (the mean of the middle one or two values, as ``statistics.median``), read from the same
    ranking (the k-th value from the bottom is the (n + 1 − k)-th from the top). ``cities``: only those cities' pools (one group of a split run)."""
    start, _ = month_bounds(period)
    values = ", ".join(f"('{c}', {int(t.top_n)}, {Decimal(t.median_multiple)})" for c, t in thresholds.items()) \
        or "('', 0, 0)"
    sql = f"""
        WITH use AS (
          SELECT m.person_id, m.pharmacy_id, m.variety_id, m.pharmacy_city AS city,
                 min(m.pharmacy_region_id) AS region_id, min(m.institution_id) AS institution_id,
                 sum(m.fund) AS fund
          FROM {lines} m WHERE m.in_month{city_filter('m.pharmacy_city', cities)}
          GROUP BY 1, 2, 3, 4),
        patient AS (
          -- per patient, variety and city: the fund, and the pharmacy that received most of it (one sort)
          SELECT DISTINCT ON (u.city, u.variety_id, u.person_id)
                 u.city, u.variety_id, u.person_id,
                 sum(u.fund) OVER (PARTITION BY u.city, u.variety_id, u.person_id) AS fund,
                 u.pharmacy_id, u.region_id, u.institution_id
          FROM use u
          ORDER BY u.city, u.variety_id, u.person_id, u.fund DESC, u.pharmacy_id),
        ranked AS MATERIALIZED (
          SELECT p.*, row_number() OVER w AS rank,
                 count(*) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS patients
          FROM patient p
          WINDOW w AS (PARTITION BY city, variety_id ORDER BY fund DESC, person_id)),
        medians AS (
          SELECT city, variety_id, avg(fund) AS median FROM ranked
          WHERE patients + 1 - rank IN ((patients + 1) / 2, (patients + 2) / 2) GROUP BY 1, 2),
        found AS (
          SELECT r.*, m.median, coalesce(t.top_n, %s) AS top_n, coalesce(t.multiple, %s) AS multiple
          FROM ranked r JOIN medians m USING (city, variety_id)
          LEFT JOIN (VALUES {values}) AS t(city, top_n, multiple) ON t.city = r.city
          WHERE r.rank <= coalesce(t.top_n, %s) OR r.fund > coalesce(t.multiple, %s) * m.median)
        SELECT 'R-MON-6' AS rule,
               'R-MON-6:' || f.person_id || ':' || btrim(dr.generic_name) || '|' || btrim(dr.dosage_form) || ':'
                 || f.city || ':' || to_char(%s::date, 'YYYY-MM') AS finding_key,
               %s::date AS period, f.region_id, f.institution_id, f.pharmacy_id, f.person_id,
               NULL::bigint AS physician_id, round(f.fund, 2) AS amount,
               dr.generic_name || '（' || dr.dosage_form || '）本月基金支付 ' || round(f.fund, 2) || ' 元：'
                 || concat_ws('，',
                      CASE WHEN f.rank <= f.top_n THEN '基金支付排第 ' || f.rank || ' 名（前 ' || f.top_n || ' 名）' END,
                      CASE WHEN f.fund > f.multiple * f.median
                           THEN '超过中位数 ' || round(f.median, 2) || ' 的 ' || f.multiple || ' 倍' END) AS summary,
               jsonb_build_object(
                 'dispensings', coalesce((
                   SELECT jsonb_agg(DISTINCT m.dispensing_id ORDER BY m.dispensing_id)
                   FROM {lines} m
                   WHERE m.person_id = f.person_id AND m.variety_id = f.variety_id AND m.in_month
                     AND m.pharmacy_city = f.city),
                   '[]'::jsonb),
                 'variety', btrim(dr.generic_name) || '|' || btrim(dr.dosage_form), 'rank', f.rank,
                 'median', round(f.median, 2)::text, 'patients', f.patients, 'fund', round(f.fund, 2)::text) AS evidence
        FROM found f JOIN catalogue_drug dr ON dr.id = f.variety_id"""
    return FindingQuery(sql, (default.top_n, default.median_multiple, default.top_n, default.median_multiple,
                              start, start))
