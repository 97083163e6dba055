"""Who may see which pharmacies (R-SEC-1), admission criteria (R-PHA-1) and exit flags (R-PHA-2)."""
from __future__ import annotations

import datetime as dt

from django.db.models import QuerySet

from apps.core.models import DesignationStatus, Region
from apps.core.scoping import scope_to_user
from apps.core.selectors import region_q
from apps.institutions.selectors import ExitFlag
from apps.pharmacies.models import Pharmacy
from apps.registries.designation import Criterion, exit_flags, filter_organisations, previous_year_patient_counts


def pharmacies_visible_to(user) -> QuerySet[Pharmacy]:
    """Bureau: every pharmacy of its region. Pharmacy: itself. Hospital: admitted pharmacies of its city
    (where it may flow prescriptions)."""
    return scope_to_user(Pharmacy.objects.select_related("region"), user, region_fields=("region",),
                         pharmacy_field="pk", hospital_scope=_admitted_in_city_of_hospital)


def _admitted_in_city_of_hospital(qs: QuerySet[Pharmacy], user) -> QuerySet[Pharmacy]:
    return qs.filter(region__code__startswith=user.institution.region.code[:4], status=DesignationStatus.ADMITTED)


def pharmacy_list(*, user, search: str = "", region: str = "", status: str = "", cold_chain: str = "") -> QuerySet[Pharmacy]:
    qs = filter_organisations(pharmacies_visible_to(user), search=search, region=region, status=status)
    if cold_chain in ("1", "true", "yes"):
        qs = qs.filter(stocks_cold_chain=True)
    elif cold_chain in ("0", "false", "no"):
        qs = qs.filter(stocks_cold_chain=False)
    return qs.order_by("code")


def pharmacy_criteria(pharmacy: Pharmacy) -> list[Criterion]:
    """R-PHA-1 (000 附件1): each admission criterion with whether it is met; cold storage only counts
    when the pharmacy stocks cold-chain drugs. A valid drug-trading licence is required too (R-PHA-2)."""
    criteria = [
        Criterion("has_business_licence", "具备营业执照", pharmacy.has_business_licence),
        Criterion("trading_licence_valid", "药品经营许可有效", pharmacy.trading_licence_valid),
        Criterion("has_dedicated_storage", "具备专门存储场所", pharmacy.has_dedicated_storage),
    ]
    if pharmacy.stocks_cold_chain:
        criteria.append(Criterion("has_cold_storage", "经营冷链药品须具备冷藏设施", pharmacy.has_cold_storage))
    criteria += [
        Criterion("sells_at_or_below_price", "不高于谈判价格销售", pharmacy.sells_at_or_below_price),
        Criterion("has_licensed_pharmacist", "配备执业药师", pharmacy.has_licensed_pharmacist),
        Criterion("traceability_capable", "可进行数据交换和电子追溯", pharmacy.traceability_capable),
        Criterion("delivery_capable", "具备配送能力", pharmacy.delivery_capable),
        Criterion("no_penalty_past_year", "近一年无医保或药监部门处罚", pharmacy.no_penalty_past_year),
    ]
    return criteria


def pharmacies_flagged_for_exit(*, user=None, region: Region | None = None, today: dt.date) -> list[ExitFlag]:
    """R-PHA-2 / R-INS-4: admitted or suspended pharmacies meeting an exit criterion (a revoked
    drug-trading licence shows as the unmet licence criterion)."""
    qs = pharmacies_visible_to(user) if user is not None else Pharmacy.objects.select_related("region")
    if region is not None:
        qs = qs.filter(region_q(region))
    flags = []
    candidates = list(qs.filter(status__in=(DesignationStatus.ADMITTED, DesignationStatus.SUSPENDED)))
    patients = previous_year_patient_counts(candidates, patient_field="pharmacy", today=today)
    for pharmacy in candidates:
        reasons = exit_flags(pharmacy, criteria=pharmacy_criteria(pharmacy), patient_counts=patients, today=today)
        if reasons:
            flags.append(ExitFlag(pharmacy, reasons))
    return flags
