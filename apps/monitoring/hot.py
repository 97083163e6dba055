"""R-MON-1..5 on every dispensing, inside its transaction (``prescriptions.hooks.dispensing_recorded``): they
flag, never refuse (refusing is R-RX's job). The dispensing's own lines come from memory; what the rules need
from the database — the patient's supplies of the same varieties still running with their prescribing hospital
(R-MON-5: an alert led by an earlier supply is about that supply's pharmacy and hospital), the prescriber's filing
and therapeutic areas (R-MON-2), the patient's applications for these generic names (R-MON-3) and earlier
appearances of the dispensed trace codes (R-MON-4) — is read in ONE query (four parts, UNION ALL, each on an
index). Alerts are inserted only when a rule fires (``ON CONFLICT DO NOTHING``)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.utils.dateparse import parse_datetime

from apps.applications.models import Application
from apps.catalogue.models import Drug
from apps.core.models import Region
from apps.core.sql import execute_hot
from apps.monitoring import selectors
from apps.monitoring.models import Alert, MonitoringSettings
from apps.monitoring.rules import codes, prescribing, pricing, supply
from apps.monitoring.rules.base import local_day
from apps.monitoring.rules.prescribing import ApplicationRow, PhysicianRow
from apps.monitoring.rules.rows import LineRow
from apps.monitoring.services import alerts_raise
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.prescriptions.models import Dispensing, DispensingLine, Prescription, PrescriptionItem, TraceCode

_T = {m: m._meta.db_table for m in (Application, Drug, Physician, Dispensing, DispensingLine, Prescription,
                                    PrescriptionItem, TraceCode)}
_SETTINGS = MonitoringSettings._meta.db_table
_REGION = Region._meta.db_table
_AREAS = Physician.therapeutic_areas.through._meta.db_table
_PHARMACY = Pharmacy._meta.db_table


def _sql(n_names: int, n_codes: int) -> str:
    names = ", ".join(["%s"] * max(n_names, 1))
    code_list = ", ".join(["%s"] * n_codes)
    t = _T
    # kind, a1..a11 (a generic row shape)
    parts = [f"""
        SELECT 'supply' AS k, l.id AS a1, d.id AS a2, d.prescription_id AS a3, d.dispensed_at AS a4,
               d.pharmacy_id AS a5, CAST(coalesce(it.days_supply, 0) AS INTEGER) AS a6, dr.generic_name AS a7,
               dr.dosage_form AS a8, d.period AS a9, d.institution_id AS a10,
               ph.region_id AS a11
        FROM {t[Dispensing]} d
        JOIN {t[DispensingLine]} l ON l.dispensing_id = d.id
        JOIN {t[Drug]} dr ON dr.id = l.drug_id
        JOIN {_PHARMACY} ph ON ph.id = d.pharmacy_id
        LEFT JOIN {t[PrescriptionItem]} it ON it.prescription_id = d.prescription_id AND it.drug_id = l.drug_id
        WHERE d.person_id = %s AND d.dispensed_at >= %s AND d.id <> %s AND d.kind = 'normal'
          AND dr.generic_name IN ({names})
          AND NOT EXISTS (SELECT 1 FROM {t[Dispensing]} r WHERE r.reverses_id = d.id)""",
             f"""
        SELECT 'physician', doc.id, pa.therapeuticarea_id, NULL, NULL, NULL, NULL, doc.status, doc.name, doc.filed_on,
               NULL, NULL
        FROM {t[Physician]} doc LEFT JOIN {_AREAS} pa ON pa.physician_id = doc.id
        WHERE doc.id = %s""",
             f"""
        SELECT 'physician_dates', doc.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, doc.filing_valid_until, NULL, NULL
        FROM {t[Physician]} doc WHERE doc.id = %s""",
             f"""
        SELECT 'physician_revoked', doc.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, doc.revoked_on, NULL, NULL
        FROM {t[Physician]} doc WHERE doc.id = %s""",
             f"""
        SELECT 'application', a.id, NULL, NULL, NULL, NULL, NULL, a.generic_name, a.dosage_form || '|' || a.status,
               a.valid_from, NULL, NULL
        FROM {t[Application]} a
        WHERE a.person_id = %s AND a.generic_name IN ({names}) AND a.status IN ('approved', 'terminated', 'expired')""",
             f"""
        SELECT 'application_until', a.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, a.valid_until, NULL, NULL
        FROM {t[Application]} a
        WHERE a.person_id = %s AND a.generic_name IN ({names}) AND a.status IN ('approved', 'terminated', 'expired')""",
             f"""
        SELECT 'application_end', a.id, NULL, NULL, NULL, NULL, NULL, NULL, NULL, a.terminated_on, NULL, NULL
        FROM {t[Application]} a
        WHERE a.person_id = %s AND a.generic_name IN ({names}) AND a.status IN ('approved', 'terminated', 'expired')
          AND a.terminated_on IS NOT NULL""",
             f"""
        SELECT 'margin', ms.supply_margin_days, LENGTH(RTRIM(rr.code, '0')), NULL, NULL, NULL, NULL, NULL, NULL, NULL,
               NULL, NULL
        FROM {_SETTINGS} ms JOIN {_REGION} rr ON rr.id = ms.region_id
        WHERE rr.code IN (%s, SUBSTR(%s, 1, 4) || '00', SUBSTR(%s, 1, 2) || '0000')"""]
    if n_codes:
        parts.append(f"""
        SELECT 'code', tc.id, tc.line_id, l.dispensing_id, tc.dispensed_at, tc.pharmacy_id, NULL, tc.code,
               CASE WHEN tc.released_at IS NULL THEN 'live' ELSE 'released' END, NULL, NULL, NULL
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
    day = local_day(dispensing.dispensed_at)
    person_id = dispensing.person_id
    names = sorted({drugs[l.drug_id].generic_name for l in lines})
    trace = [(tc.code, tc) for tc in trace_codes]
    region_code = dispensing.pharmacy.region.code
    since = dispensing.dispensed_at - dt.timedelta(days=supply.LOOKBACK_DAYS + 1)
    params = [person_id, since, dispensing.pk, *names, prescription.physician_id, prescription.physician_id,
              prescription.physician_id, person_id, *names, person_id, *names, person_id, *names,
              region_code, region_code, region_code]
    if trace:
        params += [c for c, _ in trace] + [dispensing.pk]
    with connection.cursor() as cursor:
        # the statement's text depends on how many generic names and codes: both are in its prepared name
        execute_hot(cursor, f"monitoring_dispensing_{len(names)}_{len(trace)}", _sql(len(names), len(trace)), params)
        rows = cursor.fetchall()

    pharmacy_region = dispensing.pharmacy.region_id
    institution_region = prescription.institution.region_id

    def line_row(l) -> LineRow:
        drug = drugs[l.drug_id]
        return LineRow(
            line_id=l.pk, dispensing_id=dispensing.pk, prescription_id=prescription.pk, period=dispensing.period,
            dispensed_at=dispensing.dispensed_at, pharmacy_id=dispensing.pharmacy_id,
            pharmacy_region_id=pharmacy_region, institution_id=dispensing.institution_id,
            institution_region_id=institution_region, person_id=person_id, physician_id=prescription.physician_id,
            issued_on=local_day(prescription.issued_at), care_setting=dispensing.care_setting, drug_id=l.drug_id,
            generic_name=drug.generic_name, dosage_form=drug.dosage_form,
            therapeutic_area_id=drug.therapeutic_area_id, quantity=l.quantity, unit_price=l.unit_price,
            standard_in_force=l.payment_standard, fund=l.fund_payment, days_supply=days.get(l.drug_id, 0))

    current = [line_row(l) for l in lines]
    earlier, areas, doc, apps_, app_until, app_end, code_rows = [], set(), {}, {}, {}, {}, []
    margin, margin_depth = selectors.DEFAULT_THRESHOLDS.supply_margin_days, -1
    for k, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11 in rows:
        if k == "supply":
            earlier.append(LineRow(
                line_id=a1, dispensing_id=a2, prescription_id=a3, period=_date(a9), dispensed_at=_moment(a4),
                pharmacy_id=a5,
                pharmacy_region_id=a11, institution_id=a10, institution_region_id=None, person_id=person_id,
                physician_id=0, issued_on=None, care_setting="", drug_id=0, generic_name=a7, dosage_form=a8,
                therapeutic_area_id=None, quantity=0, unit_price=Decimal(0), standard_in_force=None,
                fund=Decimal(0), days_supply=a6))
        elif k == "physician":
            doc.update(id=a1, status=a7, name=a8, filed_on=a9)
            if a2 is not None:
                areas.add(a2)
        elif k == "physician_dates":
            doc["filing_valid_until"] = a9
        elif k == "physician_revoked":
            doc["revoked_on"] = a9
        elif k == "application":
            form, _, status = a8.rpartition("|")
            apps_[a1] = (a7, form, status, a9)
        elif k == "application_until":
            app_until[a1] = a9
        elif k == "application_end":
            app_end[a1] = a9
        elif k == "margin":
            if a2 > margin_depth:  # the nearest region with settings: itself, its city, its province
                margin, margin_depth = a1, a2
        elif k == "code":
            code_rows.append((a1, a3, a4, a5, a7, a8))

    findings = pricing.find(current)
    physician = PhysicianRow(id=doc["id"], name=doc["name"], status=doc["status"], filed_on=_date(doc["filed_on"]),
                             filing_valid_until=_date(doc.get("filing_valid_until")),
                             revoked_on=_date(doc.get("revoked_on")), area_ids=frozenset(areas))
    findings += prescribing.find_physician(current, {physician.id: physician})
    applications = [ApplicationRow(id=i, person_id=person_id, generic_name=g, dosage_form=f, status=s,
                                   valid_from=_date(vf), valid_until=_date(app_until.get(i)),
                                   terminated_on=_date(app_end.get(i))) for i, (g, f, s, vf) in apps_.items()]
    findings += prescribing.find_application(current, applications)
    mine = {r.line_id for r in current}
    findings += [f for f in supply.find(earlier + current, lambda _region: margin)
                 if set(f.evidence["flagged_lines"]) & mine]
    if trace:
        findings += _code_findings(dispensing, current, trace, code_rows, pharmacy_region)
    if not findings:
        return 0
    return alerts_raise(findings=findings, source=Alert.Source.DISPENSING, now=now)


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
