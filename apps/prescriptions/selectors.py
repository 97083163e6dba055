"""Reads of prescriptions, dispensings, stock and year-to-date usage, scoped to the user (R-SEC-1).

A hospital sees the prescriptions its institution issued; a pharmacy only what flowed to it (R-RX-4); bureau
users what was issued by institutions of their region or for persons insured in it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise

from django.db.models import Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from apps.catalogue.models import Drug, PaymentStandard
from apps.core.models import Region, RegionSettings
from apps.core.scoping import scope_to_user
from apps.prescriptions.models import (
    CrossRegionFiling, Dispensing, DispensingLine, ManualClaim, PatientYearUsage, Prescription, StockMovement,
)


# --- prescriptions -----------------------------------------------------------------------------------------------

def prescriptions_visible_to(user) -> QuerySet[Prescription]:
    qs = Prescription.objects.select_related("institution", "pharmacy", "physician", "person", "application")
    return scope_to_user(qs, user, region_fields=("institution__region", "person__insured_region"))


def prescription_get_for(user, pk) -> Prescription:
    """One prescription through the user's scope: ``Http404`` for another organisation's (R-SEC-1)."""
    return get_object_or_404(prescriptions_visible_to(user), pk=pk)


@dataclass
class PrescriptionFilters:
    status: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    patient: str = ""  # name or the end of the ID number
    serial_no: str = ""


def prescription_list(*, user, filters: PrescriptionFilters | None = None) -> QuerySet[Prescription]:
    f = filters or PrescriptionFilters()
    qs = prescriptions_visible_to(user)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.date_from:
        qs = qs.filter(issued_at__date__gte=f.date_from)
    if f.date_to:
        qs = qs.filter(issued_at__date__lte=f.date_to)
    if f.patient:
        term = f.patient.strip()
        qs = qs.filter(Q(person__name__icontains=term) | Q(person__id_number__endswith=term))
    if f.serial_no:
        qs = qs.filter(serial_no__icontains=f.serial_no.strip())
    return qs.order_by("-issued_at", "-id")


def _dispensing_columns():
    from apps.applications.models import InsuredPerson
    from apps.institutions.models import Institution
    from apps.pharmacies.models import Pharmacy
    from apps.prescriptions.models import PrescriptionItem

    region = ["id", "code", "name", "level", "parent"]
    return _Columns(
        ("p", Prescription, ["id", "status", "expires_at", "issued_at", "care_setting", "delivery", "serial_no",
                             "person", "pharmacy", "institution"]),
        ("pe", InsuredPerson, ["id", "name", "insurance_type", "insured_region"]),
        ("pr0", Region, region), ("pr1", Region, region), ("pr2", Region, region),
        ("ph", Pharmacy, ["id", "code", "name", "status", "region"]),
        ("fr0", Region, region), ("fr1", Region, region), ("fr2", Region, region),
        ("i", Institution, ["id", "code", "name"]),
        ("it", PrescriptionItem, ["id", "prescription", "drug", "quantity", "days_supply"]),
        ("d", Drug, ["id", "code", "generic_name", "specification", "category", "route", "agreement_start",
                     "agreement_end", "withdrawn_on", "first_self_pay_ratio"]),
    )


_DISPENSING_COLUMNS: _Columns | None = None


class DbValue:
    """The backend's converters for a computed column that holds ``model.name`` values (e.g. a subquery)."""

    def __init__(self, model, name):
        self.field = model._meta.get_field(name)
        self._by_vendor: dict = {}

    def convert(self, value, connection):
        convs = self._by_vendor.get(connection.vendor)
        if convs is None:
            col = self.field.get_col(self.field.model._meta.db_table)
            convs = [(conv, col) for conv in connection.ops.get_db_converters(col) + col.get_db_converters(connection)]
            self._by_vendor[connection.vendor] = convs
        for conv, col in convs:
            value = conv(value, col, connection)
        return value


_AMOUNT = DbValue(PaymentStandard, "amount")


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
    from django.db import connection

    from apps.prescriptions.models import PrescriptionItem

    if not (user.is_authenticated and getattr(user, "pharmacy_id", None)):
        return None
    global _DISPENSING_COLUMNS
    if _DISPENSING_COLUMNS is None:
        _DISPENSING_COLUMNS = _dispensing_columns()
    cols = _DISPENSING_COLUMNS
    region = Region._meta.db_table
    lock = " FOR UPDATE OF p" if connection.features.has_select_for_update_of else ""
    sql = f"""
        SELECT {cols.sql},
          (SELECT ps.amount FROM {PaymentStandard._meta.db_table} ps
            WHERE ps.drug_id = d.id AND ps.valid_from <= %s AND (ps.valid_until IS NULL OR ps.valid_until >= %s)
            ORDER BY ps.valid_from DESC LIMIT 1)
        FROM prescriptions_prescription p
        JOIN applications_insuredperson pe ON pe.id = p.person_id
        JOIN {region} pr0 ON pr0.id = pe.insured_region_id
        LEFT JOIN {region} pr1 ON pr1.id = pr0.parent_id
        LEFT JOIN {region} pr2 ON pr2.id = pr1.parent_id
        JOIN pharmacies_pharmacy ph ON ph.id = p.pharmacy_id
        JOIN {region} fr0 ON fr0.id = ph.region_id
        LEFT JOIN {region} fr1 ON fr1.id = fr0.parent_id
        LEFT JOIN {region} fr2 ON fr2.id = fr1.parent_id
        JOIN institutions_institution i ON i.id = p.institution_id
        LEFT JOIN {PrescriptionItem._meta.db_table} it ON it.prescription_id = p.id
        LEFT JOIN catalogue_drug d ON d.id = it.drug_id
        WHERE p.id = %s AND p.pharmacy_id = %s
        ORDER BY it.id{lock}"""
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


def prescription_items(prescription: Prescription):
    return prescription.items.select_related("drug").order_by("id")


# --- dispensings -------------------------------------------------------------------------------------------------

def dispensings_visible_to(user) -> QuerySet[Dispensing]:
    qs = Dispensing.objects.select_related("prescription", "pharmacy", "institution", "person", "policy")
    return scope_to_user(qs, user, region_fields=("pharmacy__region", "insured_region"))


def dispensing_get_for(user, pk) -> Dispensing:
    return get_object_or_404(dispensings_visible_to(user), pk=pk)


def dispensing_lines(dispensing: Dispensing):
    return dispensing.lines.select_related("drug").prefetch_related("trace_codes").order_by("id")


def live_trace_codes(codes: list[str]) -> list[str]:
    """Which of ``codes`` are dispensed now (not released by a reversal) anywhere in the system (R-RX-5)."""
    from apps.prescriptions.models import TraceCode

    return sorted(TraceCode.objects.filter(code__in=codes, released_at__isnull=True).values_list("code", flat=True))


# --- catalogue and settings reads on the hot path ----------------------------------------------------------------

def payment_standards_on(*, drugs: list[Drug], on: dt.date) -> dict[int, Decimal]:
    """R-CAT-3 for several drugs in one query (the batch twin of
    ``apps.catalogue.selectors.payment_standard_on``): drug id → amount in force on ``on``; drugs with no version
    in force are missing from the result."""
    found: dict[int, Decimal] = {}
    rows = (PaymentStandard.objects.filter(drug__in=drugs, valid_from__lte=on)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
            .order_by("drug_id", "-valid_from").values_list("drug_id", "amount"))
    for drug_id, amount in rows:
        found.setdefault(drug_id, amount)
    return found


# --- stock (R-PHA-3) ---------------------------------------------------------------------------------------------

@dataclass
class StockRow:
    drug: Drug
    purchased: int
    returned: int
    dispensed: int

    @property
    def on_hand(self) -> int:
        return self.purchased - self.returned - self.dispensed


def stock_for(*, pharmacy, drug: Drug | None = None) -> list[StockRow]:
    """Stock per drug = purchases − returns − net dispensed (reversal lines are negative, so they add back)."""
    moves = StockMovement.objects.filter(pharmacy=pharmacy)
    lines = DispensingLine.objects.filter(dispensing__pharmacy=pharmacy)
    if drug is not None:
        moves, lines = moves.filter(drug=drug), lines.filter(drug=drug)
    purchased = dict(moves.filter(kind=StockMovement.Kind.PURCHASE).values_list("drug_id").annotate(n=Sum("quantity")))
    returned = dict(moves.filter(kind=StockMovement.Kind.RETURN).values_list("drug_id").annotate(n=Sum("quantity")))
    dispensed = dict(lines.values_list("drug_id").annotate(n=Sum("quantity")))
    ids = set(purchased) | set(returned) | set(dispensed)
    drugs = {d.pk: d for d in Drug.objects.filter(pk__in=ids)}
    rows = [StockRow(drug=drugs[i], purchased=purchased.get(i) or 0, returned=returned.get(i) or 0,
                     dispensed=dispensed.get(i) or 0) for i in ids]
    return sorted(rows, key=lambda r: (r.drug.generic_name, r.drug.code))


def stock_movements_visible_to(user) -> QuerySet[StockMovement]:
    qs = StockMovement.objects.select_related("drug", "pharmacy")
    return scope_to_user(qs, user, region_fields=("pharmacy__region",), institution_field=None)


# --- year-to-date usage, filings, claims -------------------------------------------------------------------------

def year_usage(*, person, year: int) -> PatientYearUsage | None:
    return PatientYearUsage.objects.filter(person=person, year=year).first()


def persons_visible_to(user):
    """Bureau users see persons insured in their region (year-to-date usage page)."""
    from apps.applications.models import InsuredPerson

    qs = InsuredPerson.objects.select_related("insured_region")
    return scope_to_user(qs, user, region_fields=("insured_region",), institution_field=None, pharmacy_field=None)


def person_year_summary(*, person, year: int) -> dict:
    """What the usage page shows: the accumulator and the year's dispensings and manual claims."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    dispensings = (Dispensing.objects.filter(person=person, dispensed_at__date__gte=start, dispensed_at__date__lte=end)
                   .select_related("pharmacy", "prescription", "policy").order_by("dispensed_at", "id"))
    claims = ManualClaim.objects.filter(person=person, invoice_date__year=year).order_by("invoice_date", "id")
    totals = dispensings.aggregate(total=Sum("total"), fund=Sum("fund_payment"), personal=Sum("personal_payment"))
    return {"usage": year_usage(person=person, year=year), "dispensings": dispensings, "claims": claims,
            "totals": {k: v or Decimal("0.00") for k, v in totals.items()}}


def cross_region_filing_for(*, person, treatment_region: Region, on: dt.date) -> CrossRegionFiling | None:
    """R-PAY-5: the person's filing covering ``on`` for treatment in ``treatment_region`` (or a region above it)."""
    codes = [r.code for r in treatment_region.ancestors_and_self()]
    return (CrossRegionFiling.objects.filter(person=person, treatment_region__code__in=codes, valid_from__lte=on)
            .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on)).order_by("-valid_from").first())


def cross_region_filings_visible_to(user) -> QuerySet[CrossRegionFiling]:
    qs = CrossRegionFiling.objects.select_related("person", "insured_region", "treatment_region")
    return scope_to_user(qs, user, region_fields=("treatment_region", "insured_region"), institution_field=None,
                         pharmacy_field=None)


def manual_claims_visible_to(user) -> QuerySet[ManualClaim]:
    qs = ManualClaim.objects.select_related("person", "policy", "region")
    return scope_to_user(qs, user, region_fields=("region", "insured_region"), institution_field=None,
                         pharmacy_field=None)


# --- hot-path reads in hand-written SQL (issue 5 "Speed") ---------------------------------------------------------
#
# Building a queryset costs far more CPU than PostgreSQL spends answering it, so the two paths hospitals' and
# pharmacies' systems call all day read what they need in ONE statement each. The rows become ordinary (deferred)
# model instances with ``Model.from_db``, so the services apply the same model methods (``is_active_on``,
# ``is_listed_on``, ``covers``) as everywhere else; a field not read here loads lazily if a rare path needs it.
# Nothing is cached between requests: every status that decides a refusal is read in the request itself.

def execute_hot(cursor, name: str, sql: str, params: list) -> None:
    """Run a hot-path statement. On PostgreSQL it is prepared once per connection (``PREPARE``, then ``EXECUTE``
    with the same parameters): these statements join many tables, and planning them costs PostgreSQL several
    times what running them does. Persistent connections (``CONN_MAX_AGE``) keep the prepared statements; a
    prepared statement outlives a rolled-back transaction. Elsewhere (SQLite) the SQL runs as written.
    ``sql`` uses ``%s`` placeholders; ``name`` must identify the SQL text together with the number of
    parameters."""
    from django.db import connection

    if connection.vendor != "postgresql":
        cursor.execute(sql, params)
        return
    raw = connection.connection
    state = getattr(connection, "_hot_statements", None)
    if state is None or state[0] is not raw:
        state = (raw, set())
        connection._hot_statements = state
    name = f"{name}_{len(params)}"
    if name not in state[1]:
        pieces = sql.split("%s")
        numbered = pieces[0] + "".join(f"${i}{piece}" for i, piece in enumerate(pieces[1:], start=1))
        cursor.execute(f"PREPARE {name} AS {numbered}")
        state[1].add(name)
    cursor.execute(f"EXECUTE {name} ({', '.join(['%s'] * len(params))})" if params else f"EXECUTE {name}", params)


class _Columns:
    """Column list of a hand-written SELECT: ``(alias, Model, field names)`` groups. Applies the backend's value
    converters (SQLite returns dates as text; PostgreSQL needs none) and slices a row into model instances."""

    def __init__(self, *groups):
        from django.db import connection

        self.groups = []
        self.sql_parts = []
        for alias, model, names in groups:
            wanted = {model._meta.get_field(n) for n in names}
            fields = [f for f in model._meta.concrete_fields if f in wanted]  # ``from_db`` takes the model's order
            self.sql_parts.extend(f"{alias}.{connection.ops.quote_name(f.column)}" for f in fields)
            self.groups.append((model, [f.attname for f in fields], fields))
        self._converters: dict[str, list] = {}

    @property
    def sql(self) -> str:
        return ", ".join(self.sql_parts)

    def _converters_for(self, connection):
        found = self._converters.get(connection.vendor)
        if found is None:
            found = []
            for model, _names, fields in self.groups:
                for f in fields:
                    col = f.get_col(model._meta.db_table)
                    convs = connection.ops.get_db_converters(col) + col.get_db_converters(connection)
                    found.append([(conv, col) for conv in convs])
            self._converters[connection.vendor] = found
        return found

    def instances(self, row, connection) -> list:
        """The model instances of ``row`` (its first ``len(self.sql_parts)`` values); ``None`` for a group whose
        primary key is NULL (a LEFT JOIN that found nothing)."""
        values = list(row[:len(self.sql_parts)])
        for i, convs in enumerate(self._converters_for(connection)):
            for conv, col in convs:
                values[i] = conv(values[i], col, connection)
        out, start = [], 0
        for model, names, _fields in self.groups:
            chunk = values[start:start + len(names)]
            start += len(names)
            out.append(None if chunk[0] is None else model.from_db(connection.alias, names, chunk))
        return out


def _upload_columns():
    from apps.applications.models import Application, InsuredPerson
    from apps.institutions.models import Institution
    from apps.pharmacies.models import Pharmacy
    from apps.physicians.models import Physician

    return _Columns(
        ("i", Institution, ["id", "code", "name", "region", "kind"]),
        ("r", Region, ["id", "code"]),
        ("ex", Prescription, ["id", "serial_no", "status", "expires_at", "delivery", "content_hash"]),
        ("ph", Physician, ["id", "code", "name", "status", "filed_on", "filing_valid_until", "revoked_on",
                             "is_certifying", "is_treating"]),
        ("pa", Pharmacy, ["id", "code", "status"]),
        ("ap", Application, ["id", "person", "status", "generic_name", "therapeutic_area", "valid_from",
                             "valid_until", "terminated_on"]),
        ("pe", InsuredPerson, ["id", "insured_region", "insurance_type"]),
        ("d", Drug, ["id", "code", "generic_name", "dosage_form", "manufacturer", "route", "category",
                     "agreement_start", "agreement_end", "withdrawn_on"]),
    )


_UPLOAD_COLUMNS: _Columns | None = None


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
    the pharmacy, the application with its person, whether the physician is filed for the application's
    therapeutic area (R-APP-8), the drugs by code (one row each: the statement returns one row per drug found)
    and the prescription validity of the nearest region with settings (county → city → province by code: the
    longest code without its trailing zeros is the nearest)."""
    from django.db import connection

    from apps.physicians.models import Physician

    global _UPLOAD_COLUMNS
    if _UPLOAD_COLUMNS is None:
        _UPLOAD_COLUMNS = _upload_columns()
    cols = _UPLOAD_COLUMNS
    areas = Physician.therapeutic_areas.through._meta.db_table
    codes = list(dict.fromkeys(drug_codes)) or [""]
    sql = f"""
        SELECT {cols.sql},
          (SELECT rs.prescription_validity_days FROM {RegionSettings._meta.db_table} rs
             JOIN {Region._meta.db_table} rr ON rr.id = rs.region_id
            WHERE rr.code IN (r.code, SUBSTR(r.code, 1, 4) || '00', SUBSTR(r.code, 1, 2) || '0000')
            ORDER BY LENGTH(RTRIM(rr.code, '0')) DESC LIMIT 1),
          EXISTS (SELECT 1 FROM {areas} pta WHERE pta.physician_id = ph.id
                     AND pta.therapeuticarea_id = ap.therapeutic_area_id),
          (SELECT rs.role_split FROM {RegionSettings._meta.db_table} rs
             JOIN {Region._meta.db_table} rr ON rr.id = rs.region_id
            WHERE rr.code IN (r.code, SUBSTR(r.code, 1, 4) || '00', SUBSTR(r.code, 1, 2) || '0000')
            ORDER BY LENGTH(RTRIM(rr.code, '0')) DESC LIMIT 1)
        FROM institutions_institution i
        JOIN {Region._meta.db_table} r ON r.id = i.region_id
        LEFT JOIN prescriptions_prescription ex ON ex.institution_id = i.id AND ex.serial_no = %s
        LEFT JOIN physicians_physician ph ON ph.institution_id = i.id AND ph.code = %s
        LEFT JOIN pharmacies_pharmacy pa ON pa.code = %s
        LEFT JOIN applications_application ap ON ap.id = %s
        LEFT JOIN applications_insuredperson pe ON pe.id = ap.person_id
        LEFT JOIN catalogue_drug d ON d.code IN ({", ".join(["%s"] * len(codes))})
        WHERE i.id = %s"""
    with connection.cursor() as cursor:
        execute_hot(cursor, "rx_upload", sql,
                    [serial_no, physician_code, pharmacy_code, application_id, *codes, institution_id])
        rows = cursor.fetchall()
    if not rows:
        from apps.institutions.models import Institution

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


_POLICY_COLUMNS: _Columns | None = None


def policy_in_force(*, region: Region, on: dt.date):
    """``apps.policies.selectors.policy_for`` as one hand-written statement, for the dispensing hot path: the policy
    in force on ``on`` for ``region``, else its city's, else its province's (R-PAY-1, R-PAY-5). With none in force
    it defers to ``policy_for``, which refuses with ``no_policy``."""
    from django.db import connection

    from apps.policies.models import PaymentPolicy
    from apps.policies.selectors import policy_for

    global _POLICY_COLUMNS
    if _POLICY_COLUMNS is None:
        _POLICY_COLUMNS = _Columns(("pp", PaymentPolicy, [f.name for f in PaymentPolicy._meta.concrete_fields]))
    cols = _POLICY_COLUMNS
    chain = region.ancestors_and_self()
    sql = (f"SELECT {cols.sql} FROM {PaymentPolicy._meta.db_table} pp "
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
