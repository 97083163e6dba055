"""R-MON-1..5 on every dispensing, inside its transaction (``prescriptions.hooks.dispensing_recorded``): they
flag, never refuse (refusing is R-RX's job). The dispensing's own lines come from memory; what the rules need
from the database — the patient's supplies of the same varieties still running with their prescribing hospital
(R-MON-5: an alert led by an earlier supply is about that supply's pharmacy and hospital), the prescriber's filing
and therapeutic areas (R-MON-2), the patient's applications for these generic names (R-MON-3), earlier
appearances of the dispensed trace codes (R-MON-4) and the region's supply margin — is read in ONE prepared
statement (five parts, UNION ALL, each on an index). The rules themselves are the pure functions of
``apps.monitoring.rules`` (the batch's parity twins); a rule is skipped only where it provably finds nothing
(R-MON-5 with no earlier supply of a variety dispensed once, R-MON-4 with no earlier appearance of a code).
Alerts are written only when a rule fires: one prepared ``INSERT … ON CONFLICT DO NOTHING``.

Cost (issue 12 §Speed, < 1 ms at p50): one statement per dispensing, two when an alert is raised. Everything the
rows need about the dispensing, its prescription, drugs and institution comes from the objects the dispensing
service already holds — every attribute read here is one the service's read loaded (``prescription_for_dispensing``):
a deferred field would cost an ORM query per access (before this was checked, four per dispensing: +13 ms CPU under
gunicorn). ``tests/monitoring/test_hot.py`` counts the statements."""
from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from functools import lru_cache

from django.conf import settings
from django.db import connection
from django.utils.dateparse import parse_datetime

from apps.applications.models import Application
from apps.catalogue.models import Drug
from apps.core.models import Region
from apps.core.sql import execute_hot, is_postgresql
from apps.monitoring import selectors
from apps.monitoring.models import Alert, MonitoringSettings
from apps.monitoring.rules import codes, prescribing, pricing, supply
from apps.monitoring.rules.base import local_day, variety_key
from apps.monitoring.rules.prescribing import ApplicationRow, PhysicianRow
from apps.monitoring.rules.rows import LineRow
from apps.monitoring.services import _insert_sql, alerts_raise
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.prescriptions.models import Dispensing, DispensingLine, Prescription, PrescriptionItem, TraceCode

_T = {m: m._meta.db_table for m in (Application, Drug, Physician, Dispensing, DispensingLine, Prescription,
                                    PrescriptionItem, TraceCode)}
_SETTINGS = MonitoringSettings._meta.db_table
_REGION = Region._meta.db_table
_AREAS = Physician.therapeutic_areas.through._meta.db_table
_PHARMACY = Pharmacy._meta.db_table


@lru_cache(maxsize=64)
def _sql(n_names: int, n_codes: int) -> str:
    """The flags' one statement for ``n_names`` generic names and ``n_codes`` trace codes. Row shape: kind,
    a1..a13 (a12, a13: dates). Parameters: person, since, since's month, dispensing, generic names (supplies);
    physician; person, generic names (applications); the pharmacy's region code thrice; the codes and the
    dispensing (R-MON-4)."""
    names = ", ".join(["%s"] * max(n_names, 1))
    code_list = ", ".join(["%s"] * n_codes)
    t = _T
    parts = [
        # R-MON-5: the patient's live (not reversed) supplies of these generic names within the lookback, other
        # than this dispensing (the service calls the hook after writing it). A dispensing counts in its day's
        # month or a later one (R-SET-1), so ``period >= the lookback's month`` loses none and lets PostgreSQL
        # skip older months (dispensings and lines are partitioned by month; a line carries its dispensing's period)
        f"""
        SELECT 'supply' AS k, l.id AS a1, d.id AS a2, d.prescription_id AS a3, d.dispensed_at AS a4,
               d.pharmacy_id AS a5, CAST(coalesce(it.days_supply, 0) AS INTEGER) AS a6, dr.generic_name AS a7,
               dr.dosage_form AS a8, d.period AS a9, d.institution_id AS a10, ph.region_id AS a11,
               CAST(NULL AS date) AS a12, CAST(NULL AS date) AS a13
        FROM {t[Dispensing]} d
        JOIN {t[DispensingLine]} l ON l.dispensing_id = d.id AND l.period = d.period
        JOIN {t[Drug]} dr ON dr.id = l.drug_id
        JOIN {_PHARMACY} ph ON ph.id = d.pharmacy_id
        LEFT JOIN {t[PrescriptionItem]} it ON it.prescription_id = d.prescription_id AND it.drug_id = l.drug_id
        WHERE d.person_id = %s AND d.dispensed_at >= %s AND d.period >= %s AND d.id <> %s AND d.kind = 'normal'
          AND dr.generic_name IN ({names})
          AND NOT EXISTS (SELECT 1 FROM {t[Dispensing]} r WHERE r.reverses_id = d.id)""",
        # R-MON-2: the prescriber's filing, one row per therapeutic area
        f"""
        SELECT 'physician', doc.id, pa.therapeuticarea_id, NULL, NULL, NULL, NULL, doc.status, doc.name,
               doc.filed_on, NULL, NULL, doc.filing_valid_until, doc.revoked_on
        FROM {t[Physician]} doc LEFT JOIN {_AREAS} pa ON pa.physician_id = doc.id
        WHERE doc.id = %s""",
        # R-MON-3: the patient's applications for these generic names that can cover a day
        f"""
        SELECT 'application', a.id, NULL, NULL, NULL, NULL, NULL, a.generic_name, a.dosage_form || '|' || a.status,
               a.valid_from, NULL, NULL, a.valid_until, a.terminated_on
        FROM {t[Application]} a
        WHERE a.person_id = %s AND a.generic_name IN ({names}) AND a.status IN ('approved', 'terminated', 'expired')""",
        # R-MON-5's margin: the settings of the pharmacy's region, its city, its province
        f"""
        SELECT 'margin', ms.supply_margin_days, LENGTH(RTRIM(rr.code, '0')), NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL, NULL, NULL, NULL
        FROM {_SETTINGS} ms JOIN {_REGION} rr ON rr.id = ms.region_id
        WHERE rr.code IN (%s, SUBSTR(%s, 1, 4) || '00', SUBSTR(%s, 1, 2) || '0000')"""]
    if n_codes:
        # R-MON-4: every other appearance of the dispensed codes
        parts.append(f"""
        SELECT 'code', tc.id, tc.line_id, l.dispensing_id, tc.dispensed_at, tc.pharmacy_id, NULL, tc.code,
               CASE WHEN tc.released_at IS NULL THEN 'live' ELSE 'released' END, NULL, NULL, NULL, NULL, NULL
        FROM {t[TraceCode]} tc JOIN {t[DispensingLine]} l ON l.id = tc.line_id
        WHERE tc.code IN ({code_list}) AND l.dispensing_id <> %s""")
    return " UNION ALL ".join(parts)


def dispensing_flag(*, dispensing: Dispensing, lines: list, trace_codes: list, prescription: Prescription,
                    items: list, now: dt.datetime) -> int:
    """The hook's handler: run R-MON-1..5 on the dispensing just recorded; returns how many alerts were raised.
    ``settings.MONITORING_FLAGS_ON_DISPENSING = False`` skips it (the rx load benchmark's "before" figure; the
    monthly batch still finds everything)."""
    if not getattr(settings, "MONITORING_FLAGS_ON_DISPENSING", True):
        return 0
    if dispensing.kind != Dispensing.Kind.NORMAL or not lines:
        return 0
    drugs = {i.drug_id: i.drug for i in items}
    days = {i.drug_id: i.days_supply for i in items}
    person_id = dispensing.person_id
    physician_id = prescription.physician_id
    names = sorted({drugs[l.drug_id].generic_name for l in lines})
    trace = [(tc.code, tc) for tc in trace_codes]
    pharmacy_region = dispensing.pharmacy.region
    region_code = pharmacy_region.code
    since = dispensing.dispensed_at - dt.timedelta(days=supply.LOOKBACK_DAYS + 1)
    params = [person_id, since, local_day(since).replace(day=1), dispensing.pk, *names, physician_id,
              person_id, *names, region_code, region_code, region_code]
    if trace:
        params += [c for c, _ in trace] + [dispensing.pk]
    with connection.cursor() as cursor:
        # the statement's text depends on how many generic names and codes: both are in its prepared name
        execute_hot(cursor, f"monitoring_flags_{len(names)}_{len(trace)}", _sql(len(names), len(trace)), params)
        rows = cursor.fetchall()

    institution_region = prescription.institution.region_id
    issued_on = local_day(prescription.issued_at)

    def line_row(l) -> LineRow:
        drug = drugs[l.drug_id]
        return LineRow(
            line_id=l.pk, dispensing_id=dispensing.pk, prescription_id=prescription.pk, period=dispensing.period,
            dispensed_at=dispensing.dispensed_at, pharmacy_id=dispensing.pharmacy_id,
            pharmacy_region_id=pharmacy_region.pk, institution_id=dispensing.institution_id,
            institution_region_id=institution_region, person_id=person_id, physician_id=physician_id,
            issued_on=issued_on, care_setting=dispensing.care_setting, drug_id=l.drug_id,
            generic_name=drug.generic_name, dosage_form=drug.dosage_form,
            therapeutic_area_id=drug.therapeutic_area_id, quantity=l.quantity, unit_price=l.unit_price,
            standard_in_force=l.payment_standard, fund=l.fund_payment, days_supply=days.get(l.drug_id, 0))

    current = [line_row(l) for l in lines]
    earlier, areas, doc, applications, code_rows = [], set(), {}, [], []
    margin, margin_depth = selectors.DEFAULT_THRESHOLDS.supply_margin_days, -1
    for k, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13 in rows:
        if k == "supply":
            earlier.append(LineRow(
                line_id=a1, dispensing_id=a2, prescription_id=a3, period=_date(a9), dispensed_at=_moment(a4),
                pharmacy_id=a5,
                pharmacy_region_id=a11, institution_id=a10, institution_region_id=None, person_id=person_id,
                physician_id=0, issued_on=None, care_setting="", drug_id=0, generic_name=a7, dosage_form=a8,
                therapeutic_area_id=None, quantity=0, unit_price=Decimal(0), standard_in_force=None,
                fund=Decimal(0), days_supply=a6))
        elif k == "physician":
            doc.update(id=a1, status=a7, name=a8, filed_on=a9, filing_valid_until=a12, revoked_on=a13)
            if a2 is not None:
                areas.add(a2)
        elif k == "application":
            form, _, status = a8.rpartition("|")
            applications.append(ApplicationRow(
                id=a1, person_id=person_id, generic_name=a7, dosage_form=form, status=status, valid_from=_date(a9),
                valid_until=_date(a12), terminated_on=_date(a13)))
        elif k == "margin":
            if a2 > margin_depth:  # the nearest region with settings: itself, its city, its province
                margin, margin_depth = a1, a2
        elif k == "code":
            code_rows.append((a1, a3, a4, a5, a7, a8))

    findings = pricing.find(current)
    physician = PhysicianRow(id=doc["id"], name=doc["name"], status=doc["status"], filed_on=_date(doc["filed_on"]),
                             filing_valid_until=_date(doc["filing_valid_until"]),
                             revoked_on=_date(doc["revoked_on"]), area_ids=frozenset(areas))
    findings += prescribing.find_physician(current, {physician.id: physician})
    findings += prescribing.find_application(current, applications)
    # R-MON-5 needs a running supply of the same variety: an earlier one, or another line of this dispensing
    varieties = [variety_key(r.generic_name, r.dosage_form) for r in current]
    if earlier or len(set(varieties)) < len(varieties):
        mine = {r.line_id for r in current}
        findings += [f for f in supply.find(earlier + current, lambda _region: margin)
                     if set(f.evidence["flagged_lines"]) & mine]
    # R-MON-4 needs an earlier appearance of a code (a dispensing's own codes are distinct: R-RX-5)
    if code_rows:
        findings += _code_findings(dispensing, current, trace, code_rows, pharmacy_region.pk)
    if not findings:
        return 0
    return _alerts_raise(findings, now)


def _alerts_raise(findings: list, now: dt.datetime) -> int:
    """The flags' alerts (a handful: one per rule and line at most) in one prepared statement — the same
    ``INSERT … ON CONFLICT (finding_key) DO NOTHING`` as ``services.alerts_raise`` (a finding already raised is
    not raised again), without planning it on every dispensing."""
    if not is_postgresql() or len(findings) > 8:
        return alerts_raise(findings=findings, source=Alert.Source.DISPENSING, now=now)
    params = []
    for f in findings:
        params += [str(f.rule), f.key[:200], f.region_id, f.institution_id, f.pharmacy_id, f.person_id,
                   f.physician_id, f.period, f.amount, f.summary[:500], json.dumps(f.evidence, default=str),
                   Alert.Source.DISPENSING.value, Alert.Status.OPEN.value, "", now, now]
    with connection.cursor() as cursor:
        execute_hot(cursor, f"monitoring_flag_alerts_{len(findings)}",
                    _insert_sql(len(findings), refresh=False) + " RETURNING id", params)
        return len(cursor.fetchall())


def _date(value):
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _code_findings(dispensing, current, trace, code_rows, pharmacy_region):
    by_line = {r.line_id: r for r in current}
    rows = []
    for row_id, other_dispensing, dispensed_at, pharmacy_id, code, state in code_rows:
        rows.append(codes.CodeRow(
            id=row_id, code=code, dispensing_id=other_dispensing, prescription_id=0, period=dispensing.period,
            dispensed_at=_moment(dispensed_at), released_at=None if state == "live" else _moment(dispensed_at),
            pharmacy_id=pharmacy_id, region_id=0, institution_id=None, person_id=0, pack_fund=Decimal(0)))
    for code, tc in trace:
        r = by_line[tc.line_id]
        rows.append(codes.CodeRow(
            id=tc.pk, code=code, dispensing_id=dispensing.pk, prescription_id=r.prescription_id, period=r.period,
            dispensed_at=dispensing.dispensed_at, released_at=None, pharmacy_id=dispensing.pharmacy_id,
            region_id=pharmacy_region, institution_id=r.institution_id, person_id=r.person_id,
            pack_fund=r.fund / r.quantity if r.quantity else Decimal(0)))
    mine = {tc.pk for _, tc in trace}
    return [f for f in codes.find(rows) if int(f.key.rsplit(":", 1)[1]) in mine]


def _moment(value):
    """A timestamp from the raw row: PostgreSQL gives an aware datetime, SQLite a naive UTC one or its text."""
    moment = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.timezone.utc)
