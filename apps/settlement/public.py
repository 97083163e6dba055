"""R-PUB-1 (000 二(三); 002 四(一)): the public page, without login, of the region's designated institutions and
pharmacies in service, with the diseases (therapeutic areas) each can certify or treat, the negotiated drugs each
stocks, and their addresses. Read live from the registries, so it changes as soon as they do."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q, Sum

from apps.catalogue.models import Drug
from apps.core.models import DesignationStatus, Region
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.prescriptions.models import DispensingLine, StockMovement
from apps.settlement.models import StockingReport
from apps.settlement.stocking_selectors import listed_negotiated_q, stocked_on_q


def _in_service(model, today: dt.date, prefix: str):
    return (model.objects.filter(status=DesignationStatus.ADMITTED, region__code__startswith=prefix)
            .filter(Q(agreement_start__isnull=True) | Q(agreement_start__lte=today))
            .filter(Q(agreement_end__isnull=True) | Q(agreement_end__gte=today))
            .select_related("region").order_by("region__code", "code"))


def _variety(drug_generic: str, form: str) -> str:
    return f"{drug_generic}（{form}）" if form else drug_generic


def public_designated(*, today: dt.date, region: Region | None = None) -> dict:
    """Institutions and pharmacies in service on ``today`` (admitted, within their agreement), with what the public
    needs: address, kind, the therapeutic areas its filed physicians certify or treat (R-DOC-2), and the negotiated
    varieties it stocks (institutions: their stocking reports, R-STK-1; pharmacies: positive stock, R-PHA-3).
    A handful of aggregate queries for the whole page."""
    prefix = region.descendant_prefix if region is not None else ""
    institutions = list(_in_service(Institution, today, prefix))
    pharmacies = list(_in_service(Pharmacy, today, prefix))

    physicians = (Physician.objects.filter(institution__in=institutions, status=Physician.Status.FILED,
                                           filed_on__lte=today)
                  .filter(Q(filing_valid_until__isnull=True) | Q(filing_valid_until__gte=today))
                  .values_list("institution_id", "is_certifying", "is_treating", "therapeutic_areas__name"))
    certify: dict[int, set[str]] = {}
    treat: dict[int, set[str]] = {}
    kinds = {i.pk: i.kind for i in institutions}
    for inst_id, is_certifying, is_treating, area in physicians:
        if area is None:
            continue
        if is_certifying and kinds[inst_id] == Institution.Kind.CERTIFYING:
            certify.setdefault(inst_id, set()).add(area)
        if is_treating:
            treat.setdefault(inst_id, set()).add(area)

    stocked: dict[int, set[str]] = {}
    for inst_id, generic, form in (StockingReport.objects.filter(stocked_on_q(today), listed_negotiated_q(today, "drug__"),
                                                                 institution__in=institutions)
                                   .values_list("institution_id", "drug__generic_name", "drug__dosage_form").distinct()):
        stocked.setdefault(inst_id, set()).add(_variety(generic, form))

    negotiated = Drug.objects.filter(listed_negotiated_q(today))
    on_hand: dict[tuple[int, int], int] = {}
    for kind, sign in ((StockMovement.Kind.PURCHASE, 1), (StockMovement.Kind.RETURN, -1)):
        for pharmacy_id, drug_id, n in (StockMovement.objects.filter(pharmacy__in=pharmacies, kind=kind,
                                                                     drug__in=negotiated)
                                        .values_list("pharmacy_id", "drug_id").annotate(n=Sum("quantity"))):
            on_hand[(pharmacy_id, drug_id)] = on_hand.get((pharmacy_id, drug_id), 0) + sign * (n or 0)
    for pharmacy_id, drug_id, n in (DispensingLine.objects.filter(dispensing__pharmacy__in=pharmacies,
                                                                  drug__in=negotiated)
                                    .values_list("dispensing__pharmacy_id", "drug_id").annotate(n=Sum("quantity"))):
        on_hand[(pharmacy_id, drug_id)] = on_hand.get((pharmacy_id, drug_id), 0) - (n or 0)
    names = {d.pk: _variety(d.generic_name, d.dosage_form)
             for d in Drug.objects.filter(pk__in={drug for (_p, drug), n in on_hand.items() if n > 0})}
    pharmacy_stock: dict[int, set[str]] = {}
    for (pharmacy_id, drug_id), n in on_hand.items():
        if n > 0:
            pharmacy_stock.setdefault(pharmacy_id, set()).add(names[drug_id])

    return {
        "today": today, "region": region,
        "institutions": [{"code": i.code, "name": i.name, "region": i.region.name, "address": i.address,
                          "kind": i.get_kind_display(), "level": i.get_level_display(),
                          "certifies": sorted(certify.get(i.pk, ())), "treats": sorted(treat.get(i.pk, ())),
                          "drugs": sorted(stocked.get(i.pk, ()))} for i in institutions],
        "pharmacies": [{"code": p.code, "name": p.name, "region": p.region.name, "address": p.address,
                        "drugs": sorted(pharmacy_stock.get(p.pk, ()))} for p in pharmacies],
    }
