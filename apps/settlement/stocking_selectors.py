"""Stocking and coverage reports (R-STK-2..4, R-INS-5, R-DOC-4, R-CAT-7).

Every count is a SQL aggregate over the registry tables (``values().annotate(Count(..., distinct=True))``);
Python only arranges the aggregate rows (one per institution × area × route at most) into the report.
"""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Exists, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Concat, Substr

from apps.catalogue.models import Drug, TherapeuticArea
from apps.core.models import DesignationStatus, Region
from apps.core.scoping import scope_to_user
from apps.core.selectors import region_q, region_settings_by_region, region_settings_for
from apps.institutions.models import Institution, PharmacyCommitteeMeeting
from apps.pharmacies.models import Pharmacy
from apps.physicians.models import Physician
from apps.prescriptions.models import Dispensing, DispensingLine
from apps.settlement.models import CataloguePublication, StockingReport
from apps.settlement.periods import add_months

ROUTE_GROUPS = {Drug.Route.ORAL: "oral_external", Drug.Route.EXTERNAL: "oral_external",
                Drug.Route.INJECTION: "injection"}
ROUTE_GROUP_LABELS = {"oral_external": "口服/外用", "injection": "注射"}
AREA_GROUP_LABELS = {value: str(lbl) for value, lbl in TherapeuticArea.Group.choices}


def share(part: int, whole: int) -> Decimal | None:
    """A ratio to four decimals, half-up; None when the whole is zero."""
    if not whole:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def listed_negotiated_q(day: dt.date, prefix: str = "") -> Q:
    """Negotiated drugs listed in the catalogue on ``day`` (R-CAT-4, R-CAT-5)."""
    p = prefix
    return (Q(**{f"{p}category": Drug.Category.NEGOTIATED, f"{p}agreement_start__lte": day})
            & (Q(**{f"{p}agreement_end__isnull": True}) | Q(**{f"{p}agreement_end__gte": day}))
            & (Q(**{f"{p}withdrawn_on__isnull": True}) | Q(**{f"{p}withdrawn_on__gt": day})))


def stocked_on_q(day: dt.date) -> Q:
    return Q(listed_on__lte=day) & (Q(ended_on__isnull=True) | Q(ended_on__gte=day))


def stocking_reports_visible_to(user) -> QuerySet[StockingReport]:
    qs = StockingReport.objects.select_related("institution", "drug", "drug__therapeutic_area")
    return scope_to_user(qs, user, region_fields=("institution__region",), pharmacy_field=None)


def admitted_institutions(region=None) -> QuerySet[Institution]:
    return (Institution.objects.filter(status=DesignationStatus.ADMITTED).filter(region_q(region))
            .select_related("region", "specialty").order_by("code"))


def variety(prefix: str = ""):
    """R-STK-2: a variety (品种) is the generic name and the dosage form; manufacturers' products of one variety
    count once."""
    return Concat(f"{prefix}generic_name", Value("|"), f"{prefix}dosage_form")


def target_for(institution: Institution, settings_by_region: dict) -> Decimal | None:
    """R-STK-3 (revision 2): grade-A tertiary public general hospitals (三甲公立综合) ≥ target_tertiary_general (30 %),
    tertiary public specialist hospitals ≥ target_tertiary_specialist (60 %, of their specialty), hospitals the
    region names as key hospitals (指定医院) ≥ target_designated (50 %); other hospitals have no target unless the
    region sets ``target_other``. A hospital in two classes is held to the higher target. ``None``: no target."""
    rs = settings_by_region.get(institution.region_id)
    if rs is None:
        rs = settings_by_region[institution.region_id] = region_settings_for(institution.region)
    targets = []
    tertiary_public = institution.level == Institution.Level.LEVEL_3 and institution.is_public
    if tertiary_public and institution.hospital_type == Institution.HospitalType.SPECIALIST:
        targets.append(rs.target_tertiary_specialist)
    if tertiary_public and institution.hospital_type == Institution.HospitalType.GENERAL and institution.grade_a:
        targets.append(rs.target_tertiary_general)
    if institution.is_key_hospital:
        targets.append(rs.target_designated)
    if not targets and rs.target_other is not None:
        targets.append(rs.target_other)
    # unsaved default settings hold the field default as a string
    return max(Decimal(str(v)) for v in targets) if targets else None


def _cell(stocked: int, catalogue: int) -> dict:
    return {"stocked": stocked, "catalogue": catalogue, "rate": share(stocked, catalogue)}


def _institution_rows(*, on: dt.date, region=None):
    """R-STK-3 per admitted institution of ``region`` on ``on``: its stocking rate (specialist hospitals: within
    their specialty), split by area and dosage-form group, against its target. Returns the institutions, their rows,
    the catalogue cells and the active stocking reports (a queryset, for the other parts of the report)."""
    institutions = list(admitted_institutions(region))
    inst_ids = [i.pk for i in institutions]
    catalogue_cells = list(Drug.objects.filter(listed_negotiated_q(on))
                           .values("therapeutic_area_id", "therapeutic_area__group", "route")
                           .annotate(n=Count(variety(), distinct=True)))
    active = StockingReport.objects.filter(stocked_on_q(on), listed_negotiated_q(on, "drug__"),
                                           institution_id__in=inst_ids)
    stocked_cells = list(active.values("institution_id", "drug__therapeutic_area_id", "drug__therapeutic_area__group",
                                       "drug__route").annotate(n=Count(variety("drug__"), distinct=True)))

    by_institution_cells: dict[int, list[dict]] = {}
    for cell in stocked_cells:
        by_institution_cells.setdefault(cell["institution_id"], []).append(cell)

    settings_by_region = region_settings_by_region({i.region_id for i in institutions})  # two queries, not 3 a region
    institution_rows = []
    for inst in institutions:
        specialty = inst.specialty_id if inst.hospital_type == Institution.HospitalType.SPECIALIST else None

        def eligible(area_id):
            return specialty is None or area_id == specialty

        cat = [c for c in catalogue_cells if eligible(c["therapeutic_area_id"])]
        mine = [c for c in by_institution_cells.get(inst.pk, []) if eligible(c["drug__therapeutic_area_id"])]
        stocked, catalogue = sum(c["n"] for c in mine), sum(c["n"] for c in cat)
        area_groups = {g: _cell(sum(c["n"] for c in mine if c["drug__therapeutic_area__group"] == g),
                                sum(c["n"] for c in cat if c["therapeutic_area__group"] == g))
                       for g in AREA_GROUP_LABELS}
        route_groups = {g: _cell(sum(c["n"] for c in mine if ROUTE_GROUPS[c["drug__route"]] == g),
                                 sum(c["n"] for c in cat if ROUTE_GROUPS[c["route"]] == g))
                        for g in ROUTE_GROUP_LABELS}
        rate = share(stocked, catalogue)
        target = target_for(inst, settings_by_region)
        institution_rows.append({
            "institution": inst, "code": inst.code, "name": inst.name, "region": inst.region.name,
            "level": inst.level, "tertiary": inst.level == Institution.Level.LEVEL_3,
            "hospital_type": inst.hospital_type, "specialty": inst.specialty.name if specialty else "",
            "stocked": stocked, "catalogue": catalogue, "rate": rate, "target": target,
            "below_target": target is not None and (rate is None or rate < target),
            "by_area_group": area_groups, "by_route_group": route_groups,
        })
    return institutions, institution_rows, catalogue_cells, active


def stocking_metrics(*, on: dt.date, region=None) -> dict:
    """R-STK-2/3 on ``on``: per institution the stocking rate (specialist hospitals: within their specialty) and its
    target; per drug the institutions, tertiary hospitals, cities and counties stocking it; per county the
    varieties stocked; all split by therapeutic-area group and by dosage-form group (oral/external, injection)."""
    institutions, institution_rows, catalogue_cells, active = _institution_rows(on=on, region=region)

    # per variety: who stocks it, and how widely. R-STK-2: the tertiary share is of all tertiary hospitals in the
    # region (the figure the administrator keeps, designated or not); without it, the designated tertiary ones
    tertiary_total = region_settings_for(region).tertiary_hospital_count if region is not None else None
    if not tertiary_total:
        tertiary_total = sum(1 for i in institutions if i.level == Institution.Level.LEVEL_3)
    regions = Region.objects.filter(code__startswith=region.descendant_prefix) if region else Region.objects.all()
    city_total = regions.filter(level=Region.Level.CITY).count() or (1 if region is not None else 0)
    county_total = regions.filter(level=Region.Level.COUNTY).count()
    coverage = {(r["drug__generic_name"], r["drug__dosage_form"]): r for r in active.values(
                "drug__generic_name", "drug__dosage_form").annotate(
        institutions=Count("institution_id", distinct=True),
        tertiary=Count("institution_id", distinct=True, filter=Q(institution__level=Institution.Level.LEVEL_3)),
        cities=Count(Substr("institution__region__code", 1, 4), distinct=True),
        counties=Count("institution__region_id", distinct=True),
    )}
    drug_rows, seen = [], set()
    for drug in Drug.objects.filter(listed_negotiated_q(on)).select_related("therapeutic_area").order_by("generic_name", "code"):
        key = (drug.generic_name, drug.dosage_form)
        if key in seen:  # R-STK-2: one row per variety, whichever manufacturer
            continue
        seen.add(key)
        c = coverage.get(key, {})
        drug_rows.append({
            "drug": drug, "code": drug.code, "generic_name": drug.generic_name, "dosage_form": drug.dosage_form,
            "manufacturer": drug.manufacturer,
            "area_group": drug.therapeutic_area.group, "route_group": ROUTE_GROUPS[drug.route],
            "institutions": c.get("institutions", 0), "tertiary": c.get("tertiary", 0),
            "tertiary_share": share(c.get("tertiary", 0), tertiary_total),
            "cities": c.get("cities", 0), "city_share": share(c.get("cities", 0), city_total),
            "counties": c.get("counties", 0), "county_share": share(c.get("counties", 0), county_total),
        })

    # per county: varieties stocked, split
    county_cells = list(active.values("institution__region_id", "institution__region__code",
                                      "institution__region__name", "drug__therapeutic_area__group", "drug__route")
                        .annotate(n=Count(variety("drug__"), distinct=True)))
    county_totals = {r["institution__region_id"]: r["n"] for r in
                     active.values("institution__region_id").annotate(n=Count(variety("drug__"), distinct=True))}
    region_rows: dict[int, dict] = {}
    for cell in county_cells:
        row = region_rows.setdefault(cell["institution__region_id"], {
            "code": cell["institution__region__code"], "name": cell["institution__region__name"],
            "varieties": county_totals[cell["institution__region_id"]],
            "by_area_group": dict.fromkeys(AREA_GROUP_LABELS, 0), "by_route_group": dict.fromkeys(ROUTE_GROUP_LABELS, 0)})
        row["by_area_group"][cell["drug__therapeutic_area__group"]] += cell["n"]
        row["by_route_group"][ROUTE_GROUPS[cell["drug__route"]]] += cell["n"]

    # the matrix: area group × dosage-form group, catalogue varieties against varieties stocked anywhere
    stocked_any = list(active.values("drug__therapeutic_area__group", "drug__route").annotate(
        n=Count(variety("drug__"), distinct=True)))
    matrix = []
    for g in AREA_GROUP_LABELS:
        for rg in ROUTE_GROUP_LABELS:
            cat = sum(c["n"] for c in catalogue_cells if c["therapeutic_area__group"] == g and ROUTE_GROUPS[c["route"]] == rg)
            got = sum(c["n"] for c in stocked_any if c["drug__therapeutic_area__group"] == g
                      and ROUTE_GROUPS[c["drug__route"]] == rg)
            matrix.append({"area_group": g, "area_group_label": AREA_GROUP_LABELS[g], "route_group": rg,
                           "route_group_label": ROUTE_GROUP_LABELS[rg], "catalogue": cat, "stocked": got,
                           "share": share(got, cat)})

    return {
        "on": on, "institutions": institution_rows, "drugs": drug_rows,
        "regions": sorted(region_rows.values(), key=lambda r: r["code"]), "matrix": matrix,
        "below_target": [r for r in institution_rows if r["below_target"]],
        "tertiary_total": tertiary_total, "city_total": city_total, "county_total": county_total,
    }


def below_target_count(*, on: dt.date, region=None) -> int:
    """The institutions below their R-STK-3 target (the dashboard's tile): the per-institution part of
    ``stocking_metrics`` only, not its per-drug, per-county and matrix parts (issue 16)."""
    return sum(1 for row in _institution_rows(on=on, region=region)[1] if row["below_target"])


def committee_deadlines(*, today: dt.date, region=None, publication: CataloguePublication | None = None) -> dict:
    """R-STK-4: for the latest catalogue published (or ``publication``), each admitted institution's pharmacy
    committee meeting against its region's deadline; ``flagged`` = late or overdue."""
    publication = publication or CataloguePublication.objects.filter(published_on__lte=today).order_by("-published_on").first()
    if publication is None:
        return {"publication": None, "rows": [], "flagged": []}
    meetings = {m.institution_id: m for m in PharmacyCommitteeMeeting.objects.filter(catalogue_version=publication.version)}
    rows, cache = [], {}
    for inst in admitted_institutions(region):
        rs = cache.get(inst.region_id) or cache.setdefault(inst.region_id, region_settings_for(inst.region))
        deadline = add_months(publication.published_on, rs.pharmacy_committee_deadline_months)
        meeting = meetings.get(inst.pk)
        if meeting is not None:
            status = "on_time" if meeting.held_on <= deadline else "late"
        else:
            status = "overdue" if today > deadline else "pending"
        rows.append({"institution": inst, "code": inst.code, "name": inst.name, "deadline": deadline,
                     "held_on": meeting.held_on if meeting else None, "status": status,
                     "flagged": status in ("late", "overdue")})
    return {"publication": publication, "rows": rows, "flagged": [r for r in rows if r["flagged"]]}


COMMITTEE_STATUS_LABELS = {"on_time": "按时召开", "late": "逾期召开", "overdue": "逾期未召开", "pending": "期限内未召开"}


def counties_without_coverage(*, region=None) -> list[dict]:
    """R-INS-5: counties lacking an admitted dual-channel institution or an admitted dual-channel pharmacy."""
    counties = Region.objects.filter(level=Region.Level.COUNTY)
    if region is not None:
        counties = counties.filter(code__startswith=region.descendant_prefix)
    counties = counties.annotate(
        has_institution=Exists(Institution.objects.filter(region=OuterRef("pk"), status=DesignationStatus.ADMITTED)),
        has_pharmacy=Exists(Pharmacy.objects.filter(region=OuterRef("pk"), status=DesignationStatus.ADMITTED)),
    ).filter(Q(has_institution=False) | Q(has_pharmacy=False)).order_by("code")
    return [{"code": c.code, "name": c.name, "has_institution": c.has_institution, "has_pharmacy": c.has_pharmacy}
            for c in counties]


def departments_short_of_physicians(*, region=None, minimum: int = 2) -> list[dict]:
    """R-DOC-4: departments of admitted institutions with fewer than two filed responsible physicians."""
    rows = (Physician.objects.filter(institution__status=DesignationStatus.ADMITTED)
            .filter(region_q(region, "institution__region"))
            .values("institution__code", "institution__name", "department")
            .annotate(filed=Count("id", filter=Q(status=Physician.Status.FILED)), physicians=Count("id"))
            .filter(filed__lt=minimum).order_by("institution__code", "department"))
    return [{"institution_code": r["institution__code"], "institution_name": r["institution__name"],
             "department": r["department"], "filed": r["filed"], "physicians": r["physicians"]} for r in rows]


def zero_use_drugs(*, year: int, region=None) -> list[Drug]:
    """R-CAT-7 / 001 第十八条(四): drugs listed during ``year`` that no one was dispensed in that year, rare-disease
    drugs excepted."""
    start, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
    used = DispensingLine.objects.filter(drug=OuterRef("pk"), dispensing__kind=Dispensing.Kind.NORMAL,
                                         dispensing__dispensed_at__date__gte=start,
                                         dispensing__dispensed_at__date__lte=end)
    if region is not None:
        used = used.filter(region_q(region, "dispensing__pharmacy__region"))
    return list(
        Drug.objects.filter(agreement_start__lte=end)
        .filter(Q(agreement_end__isnull=True) | Q(agreement_end__gte=start))
        .filter(Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gt=start))
        .exclude(therapeutic_area__group=TherapeuticArea.Group.RARE_DISEASE)
        .filter(~Exists(used)).select_related("therapeutic_area").order_by("generic_name", "code")
    )
