"""Reads of prescriptions, dispensings, stock and year-to-date usage, scoped to the user (R-SEC-1).

A hospital sees the prescriptions its institution issued; a pharmacy only what flowed to it (R-RX-4); bureau
users what was issued by institutions of their region or for persons insured in it. The hand-written statements
of the upload and dispensing hot paths are in ``apps.prescriptions.sql_reads``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import DecimalField, ExpressionWrapper, F, Max, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Round
from django.shortcuts import get_object_or_404

from apps.applications.models import InsuredPerson
from apps.catalogue.models import Drug, PaymentStandard
from apps.core.models import Region
from apps.core.scoping import scope_to_user
from apps.prescriptions.engine import money as to_fen
from apps.prescriptions.models import (
    CrossRegionFiling, Dispensing, DispensingLine, ManualClaim, PatientYearUsage, Prescription, StockMovement, TraceCode,
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
        # the ID number is encrypted at rest (PIPL): a whole one, or its last four characters, through keyed digests
        match = Q(person__name__icontains=term) | Q(person__id_number=term)
        if len(term) == 4:
            match |= Q(person__id_number__endswith=term)
        qs = qs.filter(match)
    if f.serial_no:
        qs = qs.filter(serial_no__icontains=f.serial_no.strip())
    return qs.order_by("-issued_at", "-id")


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


@dataclass
class BeyondCapRow:
    person: InsuredPerson
    fund_payment: Decimal
    beyond_cap: Decimal


def beyond_cap_by_patient(*, user, year: int) -> list[BeyondCapRow]:
    """R-PAY-6: per patient insured in the user's region, what the fund did not pay in ``year`` because the annual
    limit was reached — for hand-over to serious-illness insurance (大病保险) and medical assistance (医疗救助).

    For each directly settled dispensing the engine paid ``min(round((in_scope − deductible) × ratio), remaining
    cap)`` (R-PAY-3 step 4); the amount beyond the cap is the difference, computed in SQL from the stored figures
    and the ratio snapshot on its lines (reversals carry negated figures and cancel theirs). Manual claims add theirs
    under their policy's ratio."""
    persons = persons_visible_to(user)
    ratio = Subquery(DispensingLine.objects.filter(dispensing=OuterRef("pk")).values("dispensing")
                     .annotate(r=Max("reimbursement_ratio")).values("r")[:1])
    money = DecimalField(max_digits=14, decimal_places=2)
    rows = (Dispensing.objects.filter(person__in=persons, settlement=Dispensing.Settlement.DIRECT,
                                      dispensed_at__year=year)
            .annotate(ratio=ratio)
            .annotate(uncapped=Round(ExpressionWrapper((F("in_scope") - F("deductible")) * F("ratio"),
                                                       output_field=money), 2))
            .values("person").annotate(fund=Sum("fund_payment"),
                                       beyond=Sum(ExpressionWrapper(F("uncapped") - F("fund_payment"),
                                                                    output_field=money))))
    totals: dict[int, list[Decimal]] = {r["person"]: [r["fund"] or Decimal("0"), r["beyond"] or Decimal("0")]
                                        for r in rows}
    for claim in ManualClaim.objects.filter(person__in=persons, invoice_date__year=year).select_related("policy"):
        ratio_value = claim.policy.ratio(care_setting=claim.care_setting, insurance_type=claim.insurance_type)
        uncapped = to_fen((claim.in_scope - claim.deductible) * Decimal(ratio_value))
        entry = totals.setdefault(claim.person_id, [Decimal("0"), Decimal("0")])
        entry[0] += claim.fund_payment
        entry[1] += uncapped - claim.fund_payment
    people = {p.pk: p for p in InsuredPerson.objects.select_related("insured_region").filter(pk__in=[k for k, v in totals.items() if v[1] > 0])}
    return sorted((BeyondCapRow(people[k], to_fen(v[0]), to_fen(v[1])) for k, v in totals.items() if k in people),
                  key=lambda r: (-r.beyond_cap, r.person.id_number))
