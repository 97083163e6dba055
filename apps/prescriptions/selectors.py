"""Reads of prescriptions, dispensings, stock and year-to-date usage, scoped to the user (R-SEC-1).

A hospital sees the prescriptions its institution issued; a pharmacy only what flowed to it (R-RX-4); bureau
users what was issued by institutions of their region or for persons insured in it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from apps.accounts.models import BUREAU_ROLES, Role
from apps.catalogue.models import Drug, PaymentStandard
from apps.core.models import Region, RegionSettings
from apps.core.selectors import region_q
from apps.prescriptions.models import (
    CrossRegionFiling, Dispensing, DispensingLine, ManualClaim, PatientYearUsage, Prescription, StockMovement,
)


# --- prescriptions -----------------------------------------------------------------------------------------------

def prescriptions_visible_to(user) -> QuerySet[Prescription]:
    qs = Prescription.objects.select_related("institution", "pharmacy", "physician", "person", "application")
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES:
        if user.region_id is None:
            return qs.none()
        return qs.filter(region_q(user.region, "institution__region") | region_q(user.region, "person__insured_region"))
    if user.role == Role.HOSPITAL and user.institution_id:
        return qs.filter(institution_id=user.institution_id)
    if user.role == Role.PHARMACY and user.pharmacy_id:
        return qs.filter(pharmacy_id=user.pharmacy_id)
    return qs.none()


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


_REGION_CHAIN = ("id", "code", "name", "level", "parent_id")


def _chain_fields(prefix: str) -> list[str]:
    return [f"{prefix}{p}{f}" for p in ("", "parent__", "parent__parent__") for f in _REGION_CHAIN]


def prescription_for_dispensing(*, user, pk) -> Prescription | None:
    """The prescription ``pk`` if it flowed to ``user``'s pharmacy, locked (``SELECT … FOR UPDATE`` of its own row)
    with what dispensing needs in one query: the patient and the pharmacy with their region chains (for the
    policy, R-PAY-5), the institution. ``None`` outside the user's scope (→ 404, R-SEC-1)."""
    if not (user.is_authenticated and getattr(user, "pharmacy_id", None)):
        return None
    fields = ["id", "status", "expires_at", "issued_at", "care_setting", "delivery", "serial_no",
              "person__id", "person__name", "person__insurance_type", "person__insured_region",
              "pharmacy__id", "pharmacy__code", "pharmacy__name", "pharmacy__status", "pharmacy__region",
              "institution__id", "institution__code", "institution__name",
              *_chain_fields("person__insured_region__"), *_chain_fields("pharmacy__region__")]
    return (Prescription.objects.filter(pk=pk, pharmacy_id=user.pharmacy_id)
            .select_related("person__insured_region__parent__parent", "pharmacy__region__parent__parent",
                            "institution")
            .only(*fields).select_for_update(of=("self",)).first())


def prescription_items(prescription: Prescription):
    return prescription.items.select_related("drug").order_by("id")


# --- dispensings -------------------------------------------------------------------------------------------------

def dispensings_visible_to(user) -> QuerySet[Dispensing]:
    qs = Dispensing.objects.select_related("prescription", "pharmacy", "institution", "person", "policy")
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES:
        if user.region_id is None:
            return qs.none()
        return qs.filter(region_q(user.region, "pharmacy__region") | region_q(user.region, "insured_region"))
    if user.role == Role.HOSPITAL and user.institution_id:
        return qs.filter(institution_id=user.institution_id)
    if user.role == Role.PHARMACY and user.pharmacy_id:
        return qs.filter(pharmacy_id=user.pharmacy_id)
    return qs.none()


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


def prescription_validity_days(region_code: str) -> int:
    """R-RX-4 validity: ``RegionSettings.prescription_validity_days`` of the nearest region up the tree that has
    settings (as ``apps.core.selectors.region_settings_for``), in one query. The tree follows the 6-digit codes:
    county XXYYZZ → city XXYY00 → province XX0000."""
    chain = list(dict.fromkeys([region_code, region_code[:4] + "00", region_code[:2] + "0000"]))
    found = dict(RegionSettings.objects.filter(region__code__in=chain)
                 .values_list("region__code", "prescription_validity_days"))
    for code in chain:
        if code in found:
            return found[code]
    return RegionSettings().prescription_validity_days


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
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES and user.region_id:
        return qs.filter(region_q(user.region, "pharmacy__region"))
    if user.role == Role.PHARMACY and user.pharmacy_id:
        return qs.filter(pharmacy_id=user.pharmacy_id)
    return qs.none()


# --- year-to-date usage, filings, claims -------------------------------------------------------------------------

def year_usage(*, person, year: int) -> PatientYearUsage | None:
    return PatientYearUsage.objects.filter(person=person, year=year).first()


def persons_visible_to(user):
    """Bureau users see persons insured in their region (year-to-date usage page)."""
    from apps.applications.models import InsuredPerson

    qs = InsuredPerson.objects.select_related("insured_region")
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES and user.region_id:
        return qs.filter(region_q(user.region, "insured_region"))
    return qs.none()


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
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES and user.region_id:
        return qs.filter(region_q(user.region, "treatment_region") | region_q(user.region, "insured_region"))
    return qs.none()


def manual_claims_visible_to(user) -> QuerySet[ManualClaim]:
    qs = ManualClaim.objects.select_related("person", "policy", "region")
    if user.is_superuser:
        return qs
    if user.role in BUREAU_ROLES and user.region_id:
        return qs.filter(region_q(user.region, "region") | region_q(user.region, "insured_region"))
    return qs.none()
