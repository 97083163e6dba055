"""R-MON-2 (the prescriber) and R-MON-3 (the treatment application) for each dispensing.

- R-MON-2: the prescription's physician was not filed (or was suspended, revoked, expired) on the issue date
  (``Physician.is_active_on``, the R-DOC-3 rule itself), or none of the physician's therapeutic areas is the
  drug's. One finding per dispensing, about the prescribing institution; amount at risk: the dispensing's fund.
- R-MON-3: an outpatient line with no approved, unexpired application of the patient covering the drug's generic
  name and dosage form on the dispensing day (R-APP-1, as ``application_covering``; inpatient use needs none,
  R-RX-2). One finding per line, about the pharmacy; amount at risk: the line's fund.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


from apps.applications.models import Application
from apps.monitoring.models import Rule
from apps.monitoring.rules.base import Finding, FindingQuery, q2
from apps.monitoring.rules.month import city_filter
from apps.monitoring.rules.rows import LineRow
from apps.physicians.models import Physician

COVERING = (Application.Status.APPROVED, Application.Status.TERMINATED, Application.Status.EXPIRED)
INPATIENT = "inpatient"


# --------------------------------------------------------------------------- R-MON-2

@dataclass(frozen=True)
class PhysicianRow:
    id: int
    name: str
    status: str
    filed_on: dt.date | None
    filing_valid_until: dt.date | None
    revoked_on: dt.date | None
    area_ids: frozenset

    def is_active_on(self, day: dt.date) -> bool:
        return Physician(status=self.status, filed_on=self.filed_on, filing_valid_until=self.filing_valid_until,
                         revoked_on=self.revoked_on).is_active_on(day)


def physician_rows(ids) -> dict[int, PhysicianRow]:
    physicians = Physician.objects.filter(pk__in=set(ids)).prefetch_related("therapeutic_areas")
    return {p.pk: PhysicianRow(id=p.pk, name=p.name, status=p.status, filed_on=p.filed_on,
                               filing_valid_until=p.filing_valid_until, revoked_on=p.revoked_on,
                               area_ids=frozenset(a.pk for a in p.therapeutic_areas.all())) for p in physicians}


def physician_key(dispensing_id: int) -> str:
    return f"{Rule.PHYSICIAN_NOT_ELIGIBLE}:dispensing:{dispensing_id}"


def find_physician(rows: Iterable[LineRow], physicians: Mapping[int, PhysicianRow]) -> list[Finding]:
    by_dispensing: dict[int, list[LineRow]] = defaultdict(list)
    for r in rows:
        by_dispensing[r.dispensing_id].append(r)
    findings = []
    for dispensing_id, lines in sorted(by_dispensing.items()):
        first = lines[0]
        doc = physicians[first.physician_id]
        active = doc.is_active_on(first.issued_on)
        outside = sorted({l.generic_name for l in lines if l.therapeutic_area_id not in doc.area_ids})
        if active and not outside:
            continue
        reasons = ([] if active else [f"开具日 {first.issued_on} 医师未备案或备案已失效（{doc.status}）"]) + \
                  ([f"{'、'.join(outside)} 不属于该医师的治疗领域"] if outside else [])
        findings.append(Finding(
            rule=Rule.PHYSICIAN_NOT_ELIGIBLE, key=physician_key(dispensing_id), period=first.period,
            region_id=first.institution_region_id, institution_id=first.institution_id, pharmacy_id=first.pharmacy_id,
            person_id=first.person_id, physician_id=doc.id, amount=q2(sum(l.fund for l in lines)),
            summary=f"医师 {doc.name}：" + "；".join(reasons),
            evidence={"dispensings": [dispensing_id], "prescriptions": [first.prescription_id],
                      "issued_on": first.issued_on.isoformat(), "physician_active": active,
                      "outside_area": outside}))
    return findings


def physician_query(*, period: dt.date, lines: str, cities=None) -> FindingQuery:
    """R-MON-2 set-based (one finding query) over the month table ``lines``: per line, was the physician filed on
    the issue date (R-DOC-3, as ``Physician.is_active_on``), is the drug's area one of theirs (a hash join on the
    areas); only the dispensings with a finding are grouped. ``cities``: only the prescribing institutions of
    those cities (one group of a split run)."""
    issued = "m.issued_on"
    sql = f"""
        WITH x AS NOT MATERIALIZED (
          SELECT m.dispensing_id, m.prescription_id, m.period, m.institution_id, m.institution_region_id AS region_id,
                 m.pharmacy_id, m.person_id, doc.id AS physician_id, doc.name AS physician_name,
                 doc.status AS physician_status, {issued} AS issued_on,
                 (doc.status NOT IN ('proposed', 'rejected') AND doc.filed_on IS NOT NULL AND {issued} >= doc.filed_on
                  AND (doc.filing_valid_until IS NULL OR {issued} <= doc.filing_valid_until)
                  AND (doc.status NOT IN ('suspended', 'revoked')
                       OR (doc.revoked_on IS NOT NULL AND {issued} < doc.revoked_on))) AS active,
                 pa.physician_id IS NULL AS outside, m.drug_id, m.fund AS fund_payment
          FROM {lines} m
          JOIN physicians_physician doc ON doc.id = m.physician_id
          LEFT JOIN physicians_physician_therapeutic_areas pa
                 ON pa.physician_id = doc.id AND pa.therapeuticarea_id = m.therapeutic_area_id
          WHERE m.in_month AND m.institution_id IS NOT NULL{city_filter('m.institution_city', cities)}),
        flagged AS (SELECT DISTINCT dispensing_id FROM x WHERE NOT active OR outside),
        grouped AS (
          SELECT dispensing_id, prescription_id, period, institution_id, region_id, pharmacy_id, person_id,
                 physician_id, physician_name, physician_status, issued_on, active, sum(fund_payment) AS fund,
                 array_agg(DISTINCT dr.generic_name ORDER BY dr.generic_name) FILTER (WHERE outside) AS outside
          FROM x JOIN catalogue_drug dr ON dr.id = x.drug_id
          WHERE dispensing_id IN (SELECT dispensing_id FROM flagged)
          GROUP BY dispensing_id, prescription_id, period, institution_id, region_id, pharmacy_id, person_id,
                   physician_id, physician_name, physician_status, issued_on, active)
        SELECT 'R-MON-2' AS rule, 'R-MON-2:dispensing:' || dispensing_id AS finding_key, period, region_id,
               institution_id, pharmacy_id, person_id, physician_id, fund AS amount,
               '医师 ' || physician_name || '：' || concat_ws('；',
                 CASE WHEN NOT active THEN '开具日 ' || issued_on || ' 医师未备案或备案已失效（' || physician_status || '）' END,
                 CASE WHEN outside IS NOT NULL THEN array_to_string(outside, '、') || ' 不属于该医师的治疗领域' END)
                 AS summary,
               jsonb_build_object('dispensings', jsonb_build_array(dispensing_id),
                                  'prescriptions', jsonb_build_array(prescription_id),
                                  'issued_on', issued_on::text, 'physician_active', active,
                                  'outside_area', coalesce(to_jsonb(outside), '[]'::jsonb)) AS evidence
        FROM grouped"""
    return FindingQuery(sql)


# --------------------------------------------------------------------------- R-MON-3

@dataclass(frozen=True)
class ApplicationRow:
    id: int
    person_id: int
    generic_name: str
    dosage_form: str
    status: str
    valid_from: dt.date | None
    valid_until: dt.date | None
    terminated_on: dt.date | None

    def covers(self, line: LineRow, day: dt.date) -> bool:
        """As ``apps.applications.selectors.application_covering`` (R-APP-1, R-APP-6, R-APP-7)."""
        return (self.person_id == line.person_id and self.generic_name == line.generic_name.strip()
                and self.dosage_form in ("", line.dosage_form) and self.status in COVERING
                and self.valid_from is not None and self.valid_until is not None
                and self.valid_from <= day <= self.valid_until
                and (self.terminated_on is None or self.terminated_on > day))


def application_rows(*, person_ids, generic_names=None) -> list[ApplicationRow]:
    qs = Application.objects.filter(person_id__in=set(person_ids), status__in=COVERING)
    if generic_names is not None:
        qs = qs.filter(generic_name__in=set(generic_names))
    return [ApplicationRow(id=a.pk, person_id=a.person_id, generic_name=a.generic_name, dosage_form=a.dosage_form,
                           status=a.status, valid_from=a.valid_from, valid_until=a.valid_until,
                           terminated_on=a.terminated_on) for a in qs]


def application_key(line_id: int) -> str:
    return f"{Rule.NO_APPLICATION}:line:{line_id}"


def _no_application_finding(r: LineRow, day: dt.date) -> Finding:
    return Finding(
        rule=Rule.NO_APPLICATION, key=application_key(r.line_id), period=r.period, region_id=r.pharmacy_region_id,
        pharmacy_id=r.pharmacy_id, institution_id=r.institution_id, person_id=r.person_id,
        physician_id=r.physician_id, amount=q2(r.fund),
        summary=f"{r.generic_name}（{r.dosage_form}）{day} 配药时无有效待遇申请",
        evidence={"dispensings": [r.dispensing_id], "prescriptions": [r.prescription_id], "lines": [r.line_id],
                  "day": day.isoformat()})


def find_application(rows: Iterable[LineRow], applications: Iterable[ApplicationRow]) -> list[Finding]:
    by_person: dict[int, list[ApplicationRow]] = defaultdict(list)
    for a in applications:
        by_person[a.person_id].append(a)
    findings = []
    for r in rows:
        if r.care_setting == INPATIENT:
            continue
        day = r.day
        if not any(a.covers(r, day) for a in by_person.get(r.person_id, ())):
            findings.append(_no_application_finding(r, day))
    return findings


def application_query(*, period: dt.date, lines: str, cities=None) -> FindingQuery:
    """R-MON-3 set-based (one finding query): the month's outpatient live lines (from the month table ``lines``)
    with no covering application."""
    sql = f"""
        SELECT 'R-MON-3' AS rule, 'R-MON-3:line:' || m.line_id AS finding_key, m.period,
               m.pharmacy_region_id AS region_id, m.institution_id, m.pharmacy_id, m.person_id, m.physician_id,
               m.fund AS amount,
               dr.generic_name || '（' || dr.dosage_form || '）' || m.day || ' 配药时无有效待遇申请' AS summary,
               jsonb_build_object('dispensings', jsonb_build_array(m.dispensing_id),
                                  'prescriptions', jsonb_build_array(m.prescription_id),
                                  'lines', jsonb_build_array(m.line_id), 'day', m.day::text) AS evidence
        FROM {lines} m
        JOIN catalogue_drug dr ON dr.id = m.drug_id
        WHERE m.in_month AND m.care_setting <> 'inpatient'{city_filter('m.pharmacy_city', cities)}
          AND NOT EXISTS (
            SELECT 1 FROM applications_application a
            WHERE a.person_id = m.person_id AND a.generic_name = btrim(dr.generic_name)
              AND a.dosage_form IN ('', dr.dosage_form) AND a.status IN ('approved', 'terminated', 'expired')
              AND a.valid_from <= m.day AND a.valid_until >= m.day
              AND (a.terminated_on IS NULL OR a.terminated_on > m.day))"""
    return FindingQuery(sql)
