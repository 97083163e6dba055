"""R-MON-9 physician outliers: per variety, pooling city (of the prescribing institution) and month, each
physician's prescriptions per patient and fund per patient for the variety, compared with the city's physicians
who prescribed it. Flagged when a figure is above the peers' percentile (95th by default, interpolated as
PostgreSQL's ``percentile_cont``) and at least the multiple (2×) of the peers' median; not judged with fewer peers
than the region's minimum (5). One finding per physician, variety and month, about the institution; amount at
risk: the physician's fund for the variety that month. Batch only."""
from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, fetch_dicts, month_bounds, q2, variety_key
from apps.monitoring.rules.month import city_filter
from apps.monitoring.rules.rows import LineRow

RULE = Rule.PHYSICIAN_OUTLIER
METRICS = (("rx_per_patient", "人均处方数"), ("fund_per_patient", "人均基金支付"))


@dataclass(frozen=True)
class OutlierThresholds:
    percentile: float
    median_multiple: float
    min_peers: int


def key(*, physician_id: int, variety: str, period: dt.date) -> str:
    return f"{RULE}:{physician_id}:{variety}:{period:%Y-%m}"


def percentile_cont(values: list[float], fraction: float) -> float:
    """As PostgreSQL's ``percentile_cont``: linear interpolation between the sorted values."""
    ordered = sorted(values)
    pos = fraction * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return ordered[lo]
    return ordered[lo] + (pos - lo) * (ordered[hi] - ordered[lo])


def _distribution(stats: dict, t: OutlierThresholds) -> dict:
    figures = {}
    for metric, _label in METRICS:
        column = [v[metric] for v in stats.values()]
        figures[metric] = {"percentile": percentile_cont(column, t.percentile), "median": percentile_cont(column, 0.5),
                           "peers": sorted(round(c, 4) for c in column)}
    return figures


def find(rows: Iterable[LineRow], *, city_of: Callable[[int], str], region_of_city: Callable[[str], int],
         thresholds_for: Callable[[int], OutlierThresholds], region_of_institution: Callable[[int], int],
         institution_of_physician: Callable[[int], int]) -> list[Finding]:
    acc: dict[tuple, dict] = {}
    for r in rows:
        k = (city_of(r.institution_region_id), variety_key(r.generic_name, r.dosage_form), r.period, r.physician_id)
        a = acc.setdefault(k, {"patients": set(), "prescriptions": set(), "fund": Decimal(0),
                               "name": (r.generic_name, r.dosage_form)})
        a["patients"].add(r.person_id)
        a["prescriptions"].add(r.prescription_id)
        a["fund"] += r.fund
    pools: dict[tuple, dict] = defaultdict(dict)
    for (city, variety, period, physician), a in acc.items():
        n = len(a["patients"])
        pools[(city, variety, period)][physician] = {
            "rx_per_patient": len(a["prescriptions"]) / n, "fund_per_patient": float(a["fund"]) / n,
            "patients": n, "prescriptions": len(a["prescriptions"]), "fund": a["fund"], "name": a["name"]}
    findings = []
    for (city, variety, period), stats in sorted(pools.items()):
        t = thresholds_for(region_of_city(city))
        if len(stats) < t.min_peers:
            continue
        figures = _distribution(stats, t)
        for physician, s in sorted(stats.items()):
            over = [label for metric, label in METRICS
                    if s[metric] > figures[metric]["percentile"]
                    and s[metric] >= t.median_multiple * figures[metric]["median"]]
            if over:
                institution = institution_of_physician(physician)
                findings.append(_finding(physician=physician, institution=institution,
                                         region_id=region_of_institution(institution), variety=variety,
                                         period=period, s=s, over=over, figures=figures, peers=len(stats),
                                         pct=t.percentile))
    return findings


def _finding(*, physician, institution, region_id, variety, period, s, over, figures, peers, pct) -> Finding:
    name = s["name"]
    return Finding(
        rule=RULE, key=key(physician_id=physician, variety=variety, period=period), period=period,
        region_id=region_id, institution_id=institution, physician_id=physician, amount=q2(s["fund"]),
        summary=f"{name[0]}（{name[1]}）{'、'.join(over)}高于同行第 {round(float(pct) * 100)} 百分位且达到中位数的规定倍数"
                f"（同行 {peers} 人）",
        evidence={"variety": variety, "peers": peers, "patients": s["patients"], "prescriptions": s["prescriptions"],
                  "fund": str(q2(s["fund"])), "over": over,
                  "rx_per_patient": round(s["rx_per_patient"], 4), "fund_per_patient": round(s["fund_per_patient"], 2),
                  "distribution": {m: {"percentile": round(f["percentile"], 4), "median": round(f["median"], 4),
                                       "values": f["peers"]} for m, f in figures.items()}})


def find_sql(*, period: dt.date, lines: str, thresholds: dict[str, OutlierThresholds],
             default: OutlierThresholds, cities=None) -> list[Finding]:
    """The same in PostgreSQL over the month table ``lines``: each physician's figures per pool in one GROUP BY
    (patients and prescriptions counted distinct), the pools' percentiles and medians by ``percentile_cont``.
    ``cities``: only those cities' pools (one group of a split run)."""
    start, _ = month_bounds(period)
    values = ", ".join(f"('{c}', {float(t.percentile)}, {float(t.median_multiple)}, {int(t.min_peers)})"
                       for c, t in thresholds.items()) or "('', 0.0, 0.0, 0)"
    rows = fetch_dicts(f"""
        WITH acc AS MATERIALIZED (
          SELECT x.city, dr.generic_name, dr.dosage_form, x.physician_id, x.patients, x.prescriptions, x.fund
          FROM (SELECT m.institution_city AS city, m.variety_id, m.physician_id,
                       count(DISTINCT m.person_id) AS patients, count(DISTINCT m.prescription_id) AS prescriptions,
                       sum(m.fund) AS fund
                FROM {lines} m WHERE m.in_month AND m.institution_id IS NOT NULL{city_filter('m.institution_city', cities)}
                GROUP BY 1, 2, 3) AS x
          JOIN catalogue_drug dr ON dr.id = x.variety_id),
        m AS (
          SELECT a.*, a.prescriptions::float8 / a.patients AS rx_per_patient,
                 a.fund::float8 / a.patients AS fund_per_patient,
                 coalesce(t.pct, %s) AS pct, coalesce(t.multiple, %s) AS multiple, coalesce(t.min_peers, %s) AS min_peers
          FROM acc a LEFT JOIN (VALUES {values}) AS t(city, pct, multiple, min_peers) ON t.city = a.city),
        pools AS (
          SELECT city, generic_name, dosage_form, pct, min_peers, count(*) AS peers,
                 percentile_cont(pct) WITHIN GROUP (ORDER BY rx_per_patient) AS rx_p,
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY rx_per_patient) AS rx_median,
                 percentile_cont(pct) WITHIN GROUP (ORDER BY fund_per_patient) AS fund_p,
                 percentile_cont(0.5) WITHIN GROUP (ORDER BY fund_per_patient) AS fund_median,
                 array_agg(round(rx_per_patient::numeric, 4) ORDER BY rx_per_patient) AS rx_values,
                 array_agg(round(fund_per_patient::numeric, 4) ORDER BY fund_per_patient) AS fund_values
          FROM m GROUP BY 1, 2, 3, 4, 5)
        SELECT m.*, pools.peers, pools.rx_p, pools.rx_median, pools.fund_p, pools.fund_median, pools.rx_values,
               pools.fund_values, doc.institution_id, i.region_id AS institution_region_id
        FROM m JOIN pools USING (city, generic_name, dosage_form, pct, min_peers)
        JOIN physicians_physician doc ON doc.id = m.physician_id
        JOIN institutions_institution i ON i.id = doc.institution_id
        WHERE pools.peers >= pools.min_peers
          AND ((m.rx_per_patient > pools.rx_p AND m.rx_per_patient >= m.multiple * pools.rx_median)
               OR (m.fund_per_patient > pools.fund_p AND m.fund_per_patient >= m.multiple * pools.fund_median))
        ORDER BY m.city, m.generic_name, m.dosage_form, m.physician_id""",
                       [default.percentile, default.median_multiple, default.min_peers])
    findings = []
    for r in rows:
        figures = {"rx_per_patient": {"percentile": r["rx_p"], "median": r["rx_median"],
                                      "peers": [float(v) for v in r["rx_values"]]},
                   "fund_per_patient": {"percentile": r["fund_p"], "median": r["fund_median"],
                                        "peers": [float(v) for v in r["fund_values"]]}}
        s = {"rx_per_patient": r["rx_per_patient"], "fund_per_patient": r["fund_per_patient"],
             "patients": r["patients"], "prescriptions": r["prescriptions"], "fund": r["fund"],
             "name": (r["generic_name"], r["dosage_form"])}
        over = [label for metric, label in METRICS
                if s[metric] > figures[metric]["percentile"] and s[metric] >= float(r["multiple"]) * figures[metric]["median"]]
        findings.append(_finding(physician=r["physician_id"], institution=r["institution_id"],
                                 region_id=r["institution_region_id"], variety=variety_key(r["generic_name"], r["dosage_form"]),
                                 period=start, s=s, over=over, figures=figures, peers=r["peers"], pct=r["pct"]))
    return findings
