"""R-MON-5 supply beyond need, per patient and variety (generic name + dosage form), counting every pharmacy and
hospital.

When a line is dispensed, every earlier live supply of the same patient and variety that is still running
(its day + its days of supply is after today) leaves ``remaining = day + days − today`` days. The line is
flagged when the days remaining exceed the region's margin (7 days by default: days supplied exceed the days
elapsed by more than the margin), or when a supply still running came from another pharmacy (several pharmacies
dispensing the variety within one supply period).

One finding per patient, variety and settlement month, about the pharmacy of the first flagged line; amount at
risk: the fund paid for the flagged lines. Example (issue 12): 30 + 20 + 30 + 84 days on one day from several
places — the 2nd line leaves 30 days remaining, the 3rd 50, the 4th 80: all flagged.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Iterable

from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, FindingQuery, month_bounds, q2, variety_key
from apps.monitoring.rules.month import LOOKBACK_DAYS, city_filter, lookback_since  # noqa: F401 (LOOKBACK_DAYS: the hot path reads it here)
from apps.monitoring.rules.rows import LineRow

RULE = Rule.SUPPLY_BEYOND_NEED


def key(*, person_id: int, variety: str, period: dt.date) -> str:
    return f"{RULE}:{person_id}:{variety}:{period:%Y-%m}"


def flagged_lines(rows: Iterable[LineRow], margin_for: Callable[[int], int]) -> list[tuple[LineRow, int, list]]:
    """Each flagged line with its days remaining and the running supplies it overlaps."""
    by_variety: dict[tuple, list[LineRow]] = defaultdict(list)
    for r in rows:
        by_variety[(r.person_id, variety_key(r.generic_name, r.dosage_form))].append(r)
    flagged = []
    for lines in by_variety.values():
        lines.sort(key=lambda r: (r.dispensed_at, r.line_id))
        for k, cur in enumerate(lines):
            today = cur.day
            running = [p for p in lines[:k] if p.day + dt.timedelta(days=p.days_supply) > today]
            if not running:
                continue
            remaining = sum((p.day - today).days + p.days_supply for p in running)
            other_pharmacy = any(p.pharmacy_id != cur.pharmacy_id for p in running)
            if remaining > margin_for(cur.pharmacy_region_id) or other_pharmacy:
                flagged.append((cur, remaining, running))
    return flagged


def _finding(group: list[tuple], margin_for) -> Finding:
    first = group[0][0]
    variety = variety_key(first.generic_name, first.dosage_form)
    supplies = sorted({(r.dispensing_id, r.line_id) for cur, _, running in group for r in [cur, *running]})
    return Finding(
        rule=RULE, key=key(person_id=first.person_id, variety=variety, period=first.period), period=first.period,
        region_id=first.pharmacy_region_id, pharmacy_id=first.pharmacy_id, institution_id=first.institution_id,
        person_id=first.person_id, amount=q2(sum(cur.fund for cur, _, _ in group)),
        summary=f"{first.generic_name}（{first.dosage_form}）配药时尚余 {max(g[1] for g in group)} 天用量"
                f"（容差 {margin_for(first.pharmacy_region_id)} 天），{len(group)} 次超量",
        evidence={"dispensings": sorted({d for d, _ in supplies}), "lines": sorted({l for _, l in supplies}),
                  "flagged_lines": [cur.line_id for cur, _, _ in group],
                  "remaining_days": [rem for _, rem, _ in group], "variety": variety})


def find(rows: Iterable[LineRow], margin_for: Callable[[int], int], *, period: dt.date | None = None) -> list[Finding]:
    """Findings for the flagged lines (of ``period`` only, when given: earlier rows are the running supplies)."""
    groups: dict[tuple, list] = defaultdict(list)
    for cur, remaining, running in flagged_lines(rows, margin_for):
        if period is not None and cur.period != period:
            continue
        groups[(cur.person_id, variety_key(cur.generic_name, cur.dosage_form), cur.period)].append(
            (cur, remaining, running))
    return [_finding(sorted(g, key=lambda t: (t[0].dispensed_at, t[0].line_id)), margin_for)
            for _, g in sorted(groups.items())]


def query(*, period: dt.date, lines: str, margins: dict[int, int], default_margin: int,
          cities=None) -> FindingQuery:
    """The same in PostgreSQL, as one finding query over the month table ``lines`` (the month's live lines and
    the lookback's, ``month.month_table_build``): only the patients' varieties with two lines or more can flag
    (a window count); each such line of the month is joined to the running supplies of the patient and variety
    (a hash join on integer keys), the flagged lines grouped per patient, variety and month (the first flagged
    line's pharmacy, region, hospital and margin; the supplies involved as evidence) — no row leaves the
    database. ``cities`` (one group of a split run): the findings about those cities' pharmacies, read from every
    line of the patients with a line of the month there."""
    start, _ = month_bounds(period)
    persons = "" if cities is None else (
        f" AND m.person_id IN (SELECT person_id FROM {lines} WHERE in_month{city_filter('pharmacy_city', cities)})")
    margin_values = ", ".join(f"({int(r)}, {int(m)})" for r, m in margins.items()) or "(0, 0)"
    sql = f"""
        WITH s AS MATERIALIZED (
          SELECT * FROM (
            SELECT m.line_id, m.dispensing_id, m.period, m.in_month, m.dispensed_at, m.day, m.person_id,
                   m.pharmacy_id, m.pharmacy_region_id AS region_id, m.pharmacy_city AS city, m.institution_id,
                   m.variety_id,
                   m.days_supply, m.fund,
                   count(*) OVER (PARTITION BY m.person_id, m.variety_id) AS supplies
            FROM {lines} m WHERE m.dispensed_at >= %s{persons}) AS w
          WHERE supplies > 1),
        flagged AS (
          SELECT c.line_id, c.dispensing_id, c.period, c.dispensed_at, c.person_id, c.pharmacy_id, c.region_id,
                 c.city, c.institution_id, c.variety_id, c.fund,
                 sum(p.day + p.days_supply - c.day) AS remaining,
                 bool_or(p.pharmacy_id <> c.pharmacy_id) AS other_pharmacy,
                 array_agg(p.line_id) AS running_lines, array_agg(p.dispensing_id) AS running_dispensings,
                 coalesce(m.margin, %s) AS margin
          FROM s c
          JOIN s p ON p.person_id = c.person_id AND p.variety_id = c.variety_id
                  AND (p.dispensed_at, p.line_id) < (c.dispensed_at, c.line_id)
                  AND p.day + p.days_supply > c.day
          LEFT JOIN (VALUES {margin_values}) AS m(region_id, margin) ON m.region_id = c.region_id
          WHERE c.in_month
          GROUP BY c.line_id, c.dispensing_id, c.period, c.dispensed_at, c.person_id, c.pharmacy_id, c.region_id,
                   c.city, c.institution_id, c.variety_id, c.fund, m.margin),
        hit AS (SELECT * FROM flagged WHERE remaining > margin OR other_pharmacy),
        grouped AS (
          SELECT h.person_id, h.variety_id, h.period,
                 (array_agg(h.pharmacy_id ORDER BY h.dispensed_at, h.line_id))[1] AS pharmacy_id,
                 (array_agg(h.region_id ORDER BY h.dispensed_at, h.line_id))[1] AS region_id,
                 (array_agg(h.city ORDER BY h.dispensed_at, h.line_id))[1] AS city,
                 (array_agg(h.institution_id ORDER BY h.dispensed_at, h.line_id))[1] AS institution_id,
                 (array_agg(h.margin ORDER BY h.dispensed_at, h.line_id))[1] AS margin,
                 sum(h.fund) AS amount, max(h.remaining) AS most_remaining, count(*) AS flagged,
                 jsonb_agg(h.line_id ORDER BY h.dispensed_at, h.line_id) AS flagged_lines,
                 jsonb_agg(h.remaining ORDER BY h.dispensed_at, h.line_id) AS remaining_days
          FROM hit h
          GROUP BY h.person_id, h.variety_id, h.period),
        supplies AS (
          SELECT h.person_id, h.variety_id, h.period,
                 jsonb_agg(DISTINCT u.dispensing_id ORDER BY u.dispensing_id) AS dispensings,
                 jsonb_agg(DISTINCT u.line_id ORDER BY u.line_id) AS lines
          FROM hit h
          CROSS JOIN LATERAL unnest(h.running_lines || h.line_id, h.running_dispensings || h.dispensing_id)
                     AS u(line_id, dispensing_id)
          GROUP BY h.person_id, h.variety_id, h.period)
        SELECT 'R-MON-5' AS rule,
               'R-MON-5:' || g.person_id || ':' || btrim(dr.generic_name) || '|' || btrim(dr.dosage_form) || ':'
                 || to_char(g.period, 'YYYY-MM') AS finding_key,
               g.period, g.region_id, g.institution_id, g.pharmacy_id, g.person_id, NULL::bigint AS physician_id,
               g.amount, dr.generic_name || '（' || dr.dosage_form || '）配药时尚余 ' || g.most_remaining
                 || ' 天用量（容差 ' || g.margin || ' 天），' || g.flagged || ' 次超量' AS summary,
               jsonb_build_object('dispensings', v.dispensings, 'lines', v.lines, 'flagged_lines', g.flagged_lines,
                                  'remaining_days', g.remaining_days,
                                  'variety', btrim(dr.generic_name) || '|' || btrim(dr.dosage_form)) AS evidence
        FROM grouped g JOIN supplies v USING (person_id, variety_id, period)
        JOIN catalogue_drug dr ON dr.id = g.variety_id
        WHERE true{city_filter('g.city', cities)}"""
    return FindingQuery(sql, (lookback_since(start), default_margin))
