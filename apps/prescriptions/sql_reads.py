"""The prescriptions' hand-written SQL (the hot path of R-RX-1 upload and R-RX-5 dispensing; one SQL module per app). Building a queryset costs far
more CPU than PostgreSQL spends answering it, so the two paths hospitals' and pharmacies' systems call all day read
what they need in ONE statement each. The rows become ordinary (deferred) model instances (``apps.core.sql.Columns``),
so the services apply the same model methods (``is_active_on``, ``is_listed_on``, ``covers``) as everywhere else; a
field not read here loads lazily if a rare path needs it. Nothing is cached between requests: every status that
decides a refusal is read in the request itself. Tables are named through ``Model._meta.db_table``.

Three rules are computed here a second time beside their ORM form, each with a parity test
(``tests/core/test_sql_parity.py``): the payment standard in force (R-CAT-3, ``payment_standard_version_on``), the
nearest region settings (``region_settings_for``) and the policy in force (R-PAY-1, ``policy_for``).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from django.db import connection

from apps.applications.models import Application, InsuredPerson, OtherFundUse
from apps.catalogue.models import Drug, PaymentStandard
from apps.core.models import Region, RegionSettings
from apps.core.sql import Columns, DbValue, execute_hot, lock_rows_of
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.policies.models import PaymentPolicy
from apps.policies.selectors import policy_for
from apps.prescriptions.models import PatientYearUsage, Prescription, PrescriptionItem


def T(model) -> str:  # noqa: N802 - reads as a table name in the statements below
    return connection.ops.quote_name(model._meta.db_table)


# --- rules shared by several statements (each with its ORM twin and a parity test) ---------------------------------

def payment_standard_in_force_sql(drug_id: str) -> str:
    """R-CAT-3 as a scalar subquery: the amount of the version of drug ``drug_id`` (an SQL expression) in force on
    the day given twice as parameters — latest ``valid_from`` on or before it, not ended before it. The twin of
    ``apps.catalogue.selectors.payment_standard_version_on``."""
    return (f"(SELECT ps.amount FROM {T(PaymentStandard)} ps WHERE ps.drug_id = {drug_id} AND ps.valid_from <= %s "
            f"AND (ps.valid_until IS NULL OR ps.valid_until >= %s) ORDER BY ps.valid_from DESC LIMIT 1)")


def nearest_region_settings_sql(column: str, region_code: str) -> str:
    """The settings column ``column`` of the nearest region with settings, as a scalar subquery: the region whose
    code is ``region_code`` (an SQL expression), else its city (XXYY00), else its province (XX0000) — the longest
    code without its trailing zeros is the nearest. NULL when none has settings. The twin of
    ``apps.core.selectors.region_settings_for``."""
    return (f"(SELECT rs.{connection.ops.quote_name(column)} FROM {T(RegionSettings)} rs "
            f"JOIN {T(Region)} rr ON rr.id = rs.region_id "
            f"WHERE rr.code IN ({region_code}, SUBSTR({region_code}, 1, 4) || '00', "
            f"SUBSTR({region_code}, 1, 2) || '0000') ORDER BY LENGTH(RTRIM(rr.code, '0')) DESC LIMIT 1)")


_AMOUNT = DbValue(PaymentStandard, "amount")


def payment_standards_in_force(*, drug_ids: list[int], on: dt.date) -> dict[int, Decimal]:
    """``payment_standard_in_force_sql`` for several drugs: drug id → amount in force on ``on`` (missing: none)."""
    if not drug_ids:
        return {}
    sql = (f"SELECT d.id, {payment_standard_in_force_sql('d.id')} FROM {T(Drug)} d "
           f"WHERE d.id IN ({', '.join(['%s'] * len(drug_ids))})")
    with connection.cursor() as cursor:
        cursor.execute(sql, [on, on, *drug_ids])
        return {pk: _AMOUNT.convert(amount) for pk, amount in cursor.fetchall() if amount is not None}


def nearest_region_setting(*, region: Region, column: str):
    """``nearest_region_settings_sql`` for one region (``None`` when no region up the tree has settings)."""
    field = RegionSettings._meta.get_field(column)
    sql = f"SELECT {nearest_region_settings_sql(column, 'r.code')} FROM {T(Region)} r WHERE r.id = %s"
    with connection.cursor() as cursor:
        cursor.execute(sql, [region.pk])
        (value,) = cursor.fetchone()
    return None if value is None else DbValue(RegionSettings, field.name).convert(value)


# --- dispensing (R-RX-5, R-PAY-3) ----------------------------------------------------------------------------------

def _dispensing_columns():
    region = ["id", "code", "name", "level", "parent"]
    return Columns(
        ("p", Prescription, ["id", "status", "expires_at", "issued_at", "care_setting", "delivery", "serial_no",
                             "person", "pharmacy", "institution", "physician"]),
        ("pe", InsuredPerson, ["id", "name", "insurance_type", "insured_region"]),
        ("pr0", Region, region), ("pr1", Region, region), ("pr2", Region, region),
        ("ph", Pharmacy, ["id", "code", "name", "status", "region"]),
        ("fr0", Region, region), ("fr1", Region, region), ("fr2", Region, region),
        ("i", Institution, ["id", "code", "name", "region"]),
        ("it", PrescriptionItem, ["id", "prescription", "drug", "quantity", "days_supply"]),
        # dosage form and therapeutic area: the monitoring flags' line rows (section 9) read them — a deferred
        # field would cost one ORM query per access on every dispensing
        ("d", Drug, ["id", "code", "generic_name", "dosage_form", "specification", "category", "route",
                     "therapeutic_area", "agreement_start", "agreement_end", "withdrawn_on", "first_self_pay_ratio"]),
    )


_DISPENSING_COLUMNS: Columns | None = None


@dataclass
class DispensingContext:
    """A prescription locked for dispensing with what dispensing reads (see ``prescription_for_dispensing``)."""

    prescription: Prescription
    items: list  # PrescriptionItem with .drug, in id order
    standards: dict[int, Decimal]  # drug id → payment standard in force on the day (missing: none in force)


def _link_chain(nodes: list) -> Region | None:
    """``[region, parent, grandparent]`` (``None`` where absent) → the region with ``.parent`` set up the chain."""
    for child, parent in pairwise(nodes):
        if child is not None and parent is not None:
            child.parent = parent
    return nodes[0]


def prescription_for_dispensing(*, user, pk, day: dt.date) -> DispensingContext | None:
    """The prescription ``pk`` if it flowed to ``user``'s pharmacy, locked (``SELECT … FOR UPDATE`` of its own row)
    with everything dispensing reads, in one statement: the patient and the pharmacy with their region chains (for
    the policy, R-PAY-5), the institution, the prescribed items with their drugs and each drug's payment standard
    in force on ``day`` (R-CAT-3, as ``payment_standards_on``). ``None`` outside the user's scope (→ 404,
    R-SEC-1)."""
    if not (user.is_authenticated and getattr(user, "pharmacy_id", None)):
        return None
    global _DISPENSING_COLUMNS
    if _DISPENSING_COLUMNS is None:
        _DISPENSING_COLUMNS = _dispensing_columns()
    cols = _DISPENSING_COLUMNS
    region = T(Region)
    sql = f"""
        SELECT {cols.sql},
          {payment_standard_in_force_sql("d.id")}
        FROM {T(Prescription)} p
        JOIN {T(InsuredPerson)} pe ON pe.id = p.person_id
        JOIN {region} pr0 ON pr0.id = pe.insured_region_id
        LEFT JOIN {region} pr1 ON pr1.id = pr0.parent_id
        LEFT JOIN {region} pr2 ON pr2.id = pr1.parent_id
        JOIN {T(Pharmacy)} ph ON ph.id = p.pharmacy_id
        JOIN {region} fr0 ON fr0.id = ph.region_id
        LEFT JOIN {region} fr1 ON fr1.id = fr0.parent_id
        LEFT JOIN {region} fr2 ON fr2.id = fr1.parent_id
        JOIN {T(Institution)} i ON i.id = p.institution_id
        LEFT JOIN {T(PrescriptionItem)} it ON it.prescription_id = p.id
        LEFT JOIN {T(Drug)} d ON d.id = it.drug_id
        WHERE p.id = %s AND p.pharmacy_id = %s
        ORDER BY it.id{lock_rows_of("p")}"""
    with connection.cursor() as cursor:
        execute_hot(cursor, "rx_dispensing", sql, [day, day, pk, user.pharmacy_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    items, standards, first = [], {}, None
    for row in rows:
        instances = cols.instances(row, connection)
        first = first or instances
        item, drug = instances[-2:]
        if item is not None:
            item.drug = drug
            items.append(item)
            if row[-1] is not None:
                standards[drug.pk] = _AMOUNT.convert(row[-1], connection)
    # the prescription and its relations are the same in every row: take them from the first
    prescription, person, pr0, pr1, pr2, pharmacy, fr0, fr1, fr2, institution, _item, _drug = first
    person.insured_region = _link_chain([pr0, pr1, pr2])
    pharmacy.region = _link_chain([fr0, fr1, fr2])
    prescription.person, prescription.pharmacy, prescription.institution = person, pharmacy, institution
    for item in items:
        item.prescription = prescription
    return DispensingContext(prescription=prescription, items=items, standards=standards)



# --- upload (R-RX-2, R-RX-3, R-RX-4) ------------------------------------------------------------------------------

def _upload_columns():
    return Columns(
        ("i", Institution, ["id", "code", "name", "region", "kind"]),
        ("r", Region, ["id", "code"]),
        ("ex", Prescription, ["id", "serial_no", "status", "expires_at", "delivery", "content_hash"]),
        ("ph", Physician, ["id", "code", "name", "status", "filed_on", "filing_valid_until", "revoked_on",
                             "is_certifying", "is_treating"]),
        ("pa", Pharmacy, ["id", "code", "status"]),
        ("ap", Application, ["id", "person", "status", "generic_name", "dosage_form", "manufacturer",
                             "therapeutic_area", "valid_from", "valid_until", "terminated_on"]),
        ("pe", InsuredPerson, ["id", "insured_region", "insurance_type"]),
        ("d", Drug, ["id", "code", "generic_name", "dosage_form", "manufacturer", "route", "category",
                     "agreement_start", "agreement_end", "withdrawn_on"]),
    )


_UPLOAD_COLUMNS: Columns | None = None


@dataclass
class UploadContext:
    """What an upload checks, read in one statement (see ``upload_context``)."""

    institution: object
    existing: Prescription | None
    physician: object | None
    physician_covers_application_area: bool
    pharmacy: object | None
    application: object | None
    drugs: dict[str, Drug]
    validity_days: int
    role_split: bool = False  # R-DOC-2: the institution's region splits certifying and treating physicians


def upload_context(*, institution_id: int, serial_no: str, physician_code: str, pharmacy_code: str,
                   application_id: int | None, drug_codes: list[str]) -> UploadContext:
    """One statement for everything an upload reads (R-RX-2, R-RX-3, R-RX-4): the user's institution with its
    region, a prescription already holding ``serial_no`` there, the physician of that institution with ``code``,
    the pharmacy, the application with its person — only one filed by this institution (R-SEC-1: another
    institution's application reads as missing) —, whether the physician is filed for the application's
    therapeutic area (R-APP-8), the drugs by code (one row each: the statement returns one row per drug found)
    and the prescription validity of the nearest region with settings (county → city → province by code: the
    longest code without its trailing zeros is the nearest)."""
    global _UPLOAD_COLUMNS
    if _UPLOAD_COLUMNS is None:
        _UPLOAD_COLUMNS = _upload_columns()
    cols = _UPLOAD_COLUMNS
    areas = T(Physician.therapeutic_areas.through)
    codes = list(dict.fromkeys(drug_codes)) or [""]
    sql = f"""
        SELECT {cols.sql},
          {nearest_region_settings_sql("prescription_validity_days", "r.code")},
          EXISTS (SELECT 1 FROM {areas} pta WHERE pta.physician_id = ph.id
                     AND pta.therapeuticarea_id = ap.therapeutic_area_id),
          {nearest_region_settings_sql("role_split", "r.code")}
        FROM {T(Institution)} i
        JOIN {T(Region)} r ON r.id = i.region_id
        LEFT JOIN {T(Prescription)} ex ON ex.institution_id = i.id AND ex.serial_no = %s
        LEFT JOIN {T(Physician)} ph ON ph.institution_id = i.id AND ph.code = %s
        LEFT JOIN {T(Pharmacy)} pa ON pa.code = %s
        LEFT JOIN {T(Application)} ap ON ap.id = %s AND ap.institution_id = i.id
        LEFT JOIN {T(InsuredPerson)} pe ON pe.id = ap.person_id
        LEFT JOIN {T(Drug)} d ON d.code IN ({", ".join(["%s"] * len(codes))})
        WHERE i.id = %s"""
    with connection.cursor() as cursor:
        execute_hot(cursor, "rx_upload", sql,
                    [serial_no, physician_code, pharmacy_code, application_id, *codes, institution_id])
        rows = cursor.fetchall()
    if not rows:
        raise Institution.DoesNotExist(institution_id)
    drugs: dict[str, Drug] = {}
    for row in rows:
        institution, region, existing, physician, pharmacy, application, person, drug = \
            cols.instances(row, connection)
        if drug is not None:
            drugs[drug.code] = drug
    institution.region = region
    if application is not None:
        application.person = person
    validity, covers_area, role_split = rows[0][-3], bool(rows[0][-2]), bool(rows[0][-1])
    return UploadContext(
        institution=institution, existing=existing, physician=physician,
        physician_covers_application_area=covers_area and physician is not None and application is not None,
        pharmacy=pharmacy, application=application, drugs=drugs,
        validity_days=validity if validity is not None else RegionSettings().prescription_validity_days,
        role_split=role_split)


_POLICY_COLUMNS: Columns | None = None


# --- policy in force (R-PAY-1, R-PAY-5) --------------------------------------------------------------------------

def policy_in_force(*, region: Region, on: dt.date):
    """``apps.policies.selectors.policy_for`` as one hand-written statement, for the dispensing hot path: the policy
    in force on ``on`` for ``region``, else its city's, else its province's (R-PAY-1, R-PAY-5). With none in force
    it defers to ``policy_for``, which refuses with ``no_policy``."""
    global _POLICY_COLUMNS
    if _POLICY_COLUMNS is None:
        _POLICY_COLUMNS = Columns(("pp", PaymentPolicy, [f.name for f in PaymentPolicy._meta.concrete_fields]))
    cols = _POLICY_COLUMNS
    chain = region.ancestors_and_self()
    sql = (f"SELECT {cols.sql} FROM {T(PaymentPolicy)} pp "
           f"WHERE pp.region_id IN ({', '.join(['%s'] * len(chain))}) AND pp.valid_from <= %s "
           f"AND (pp.valid_until IS NULL OR pp.valid_until >= %s) ORDER BY pp.valid_from DESC")
    with connection.cursor() as cursor:
        execute_hot(cursor, "rx_policy", sql, [*(r.pk for r in chain), on, on])
        rows = cursor.fetchall()
    by_region: dict[int, object] = {}
    for row in rows:
        (policy,) = cols.instances(row, connection)
        by_region.setdefault(policy.region_id, policy)
    for node in chain:
        if node.pk in by_region:
            return by_region[node.pk]
    return policy_for(region=region, on=on)


# --- the patient's year-to-date usage, locked (R-PAY-3) -----------------------------------------------------------

_USAGE_MONEY = DbValue(PatientYearUsage, "fund_paid")  # SQLite returns numbers, PostgreSQL Decimals


def locked_year_usage(*, person_id: int, year: int, now: dt.datetime) -> PatientYearUsage:
    """The patient's accumulator for ``year`` under a row lock, created first if missing, in one statement:
    ``INSERT … ON CONFLICT (person, year) DO UPDATE`` either inserts the row or locks the existing one (waiting for
    a concurrent holder and then seeing its committed figures), and returns it. The unique constraint decides a
    creation race."""
    table = T(PatientYearUsage)
    sql = (f"INSERT INTO {table} (person_id, year, deductible_met, fund_paid, dispensing_count, updated_at) "
           f"VALUES (%s, %s, 0, 0, 0, %s) ON CONFLICT (person_id, year) "
           f"DO UPDATE SET dispensing_count = {table}.dispensing_count "
           f"RETURNING id, deductible_met, fund_paid, dispensing_count")
    with connection.cursor() as cursor:
        execute_hot(cursor, "rx_usage_lock", sql, [person_id, year, now])
        pk, deductible_met, fund_paid, count = cursor.fetchone()
        # R-PAY-3 step 4: the year's other fund use, read after the lock — a writer of it holds the same lock
        # (``apps.applications.hooks.patient_year_lock``), so the remaining cap is never used twice
        execute_hot(cursor, "rx_other_fund", _OTHER_FUND_SQL, [person_id, year])
        (other,) = cursor.fetchone()
    usage = PatientYearUsage(pk=pk, person_id=person_id, year=year, dispensing_count=count,
                             deductible_met=_USAGE_MONEY.convert(deductible_met, connection),
                             fund_paid=_USAGE_MONEY.convert(fund_paid, connection))
    usage.other_fund_paid = _USAGE_MONEY.convert(other, connection)
    usage._state.adding, usage._state.db = False, connection.alias
    return usage


_OTHER_FUND_SQL = f"SELECT COALESCE(SUM(amount), 0) FROM {T(OtherFundUse)} WHERE person_id = %s AND year = %s"


def patient_years_lock(*, pairs, now: dt.datetime) -> None:
    """``apps.applications.hooks.patient_year_lock``: the accumulators of ``pairs`` locked (created when missing) in
    the given order for the rest of the transaction."""
    for person_id, year in pairs:
        locked_year_usage(person_id=person_id, year=year, now=now)
