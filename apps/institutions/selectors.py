"""Who may see which institutions (R-SEC-1), and the exit flags (R-INS-4)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from apps.core.models import DesignationStatus, Region
from apps.core.scoping import scope_to_user
from apps.core.selectors import region_q, regions_under
from apps.institutions.models import Institution
from apps.pharmacies.models import Pharmacy
from apps.registries.designation import Criterion, exit_flags, filter_organisations, previous_year_patient_counts
from apps.registries.recheck import recheck_due


def institutions_visible_to(user) -> QuerySet[Institution]:
    """Bureau: every institution of its region. Hospital: its own. Pharmacy: admitted institutions of its
    city (the public designated list, to know where prescriptions come from)."""
    return scope_to_user(Institution.objects.select_related("region", "specialty"), user, region_fields=("region",),
                         institution_field="pk", pharmacy_scope=_admitted_in_city_of_pharmacy)


def _admitted_in_city_of_pharmacy(qs: QuerySet[Institution], user) -> QuerySet[Institution]:
    return qs.filter(region__code__startswith=user.pharmacy.region.code[:4], status=DesignationStatus.ADMITTED)


def institution_list(*, user, search: str = "", region: str = "", status: str = "", level: str = "",
                     kind: str = "") -> QuerySet[Institution]:
    """The browser list: search by name/code, filter by region (code prefix), status, level, kind."""
    qs = filter_organisations(
        institutions_visible_to(user).annotate(filed_physicians=Count("physicians", filter=Q(physicians__status="filed"))),
        search=search, region=region, status=status)
    if level:
        qs = qs.filter(level=level)
    if kind:
        qs = qs.filter(kind=kind)
    return qs.order_by("code")


def institution_criteria(institution: Institution) -> list[Criterion]:
    """R-INS-1 (000 附件1): each admission criterion with whether it is met."""
    return [
        Criterion("level", "二级及以上医疗机构", (institution.level or 0) >= Institution.Level.LEVEL_2),
        Criterion("has_clinical_department", "具备相应临床科室", institution.has_clinical_department),
        Criterion("sells_at_negotiated_price", "按谈判价格销售", institution.sells_at_negotiated_price),
        Criterion("info_system_capable", "信息系统可审核、流转、追溯处方", institution.info_system_capable),
        Criterion("no_penalty_past_year", "近一年无医保或卫健部门处罚", institution.no_penalty_past_year),
    ]


@dataclass(frozen=True)
class ExitFlag:
    organisation: object
    reasons: list[str]


def institutions_flagged_for_exit(*, user=None, region: Region | None = None, today: dt.date) -> list[ExitFlag]:
    """R-INS-4: admitted or suspended institutions meeting an exit criterion, with the reasons.
    Scoped by ``user`` (R-SEC-1) and/or ``region``; registries are small, so the per-row checks are fine."""
    qs = institutions_visible_to(user) if user is not None else Institution.objects.select_related("region")
    if region is not None:
        qs = qs.filter(region_q(region))
    flags = []
    candidates = list(qs.filter(status__in=(DesignationStatus.ADMITTED, DesignationStatus.SUSPENDED)))
    patients = previous_year_patient_counts(candidates, patient_field="institution", today=today)
    for institution in candidates:
        reasons = exit_flags(institution, criteria=institution_criteria(institution), patient_counts=patients,
                             today=today)
        if reasons:
            flags.append(ExitFlag(institution, reasons))
    return flags


def coverage_gaps(*, user) -> list[dict]:
    """R-INS-5: counties/districts of the user's region without an admitted dual-channel institution or
    without an admitted dual-channel pharmacy (000 二(一)(三); 001 第二十六条)."""
    counties = regions_under(user.scope_region).filter(level=Region.Level.COUNTY).order_by("code")
    with_institution = set(Institution.objects.filter(status=DesignationStatus.ADMITTED)
                           .values_list("region_id", flat=True))
    with_pharmacy = set(Pharmacy.objects.filter(status=DesignationStatus.ADMITTED).values_list("region_id", flat=True))
    return [{"region": county, "has_institution": county.pk in with_institution,
             "has_pharmacy": county.pk in with_pharmacy}
            for county in counties if county.pk not in with_institution or county.pk not in with_pharmacy]


def institutions_recheck_overdue(*, user, today: dt.date) -> list[dict]:
    """R-INS-6: admitted institutions in the user's scope whose annual re-check is overdue (a year after the last
    one, or after admission when never re-checked), most overdue first."""
    rows = []
    for inst in institutions_visible_to(user).filter(status=DesignationStatus.ADMITTED):
        since = inst.agreement_start or (inst.status_changed_at.date() if inst.status_changed_at else None)
        due = recheck_due(last_rechecked_on=inst.last_rechecked_on, since=since)
        if due is not None and due < today:
            rows.append({"kind": "institution", "code": inst.code, "name": inst.name,
                         "last_rechecked_on": inst.last_rechecked_on, "due": due})
    return sorted(rows, key=lambda r: (r["due"], r["code"]))

