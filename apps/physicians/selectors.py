"""Who may see which responsible physicians (R-SEC-1), eligibility (R-DOC-1, R-DOC-2), recognition (R-DOC-5)."""
from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet

from apps.core.models import Region
from apps.registries.recheck import recheck_due
from apps.core.scoping import scope_to_user
from apps.core.selectors import region_q, region_settings_for
from apps.physicians.models import Physician

T = Physician.Title


def physicians_visible_to(user) -> QuerySet[Physician]:
    """Bureau: physicians of its region's institutions. Hospital: its own. Pharmacy: none."""
    qs = Physician.objects.select_related("institution", "institution__region").prefetch_related(
        "therapeutic_areas")
    return scope_to_user(qs, user, region_fields=("institution__region",), pharmacy_field=None)


def physician_list(*, user, search: str = "", region: str = "", institution: str = "", status: str = "",
                   title: str = "", department: str = "", area: str = "") -> QuerySet[Physician]:
    qs = physicians_visible_to(user)
    if search:
        qs = qs.filter(Q(name__icontains=search) | Q(code__icontains=search))
    if region:
        node = Region.objects.filter(code=region).first()
        qs = qs.filter(region_q(node, "institution__region")) if node else qs.none()
    if institution:
        qs = qs.filter(institution__code=institution)
    if status:
        qs = qs.filter(status=status)
    if title:
        qs = qs.filter(title=title)
    if department:
        qs = qs.filter(department__icontains=department)
    if area:
        qs = qs.filter(therapeutic_areas__code=area).distinct()
    return qs


def physician_eligibility_problems(*, institution, title: str, is_certifying: bool, is_treating: bool,
                                   area_count: int, no_insurance_sanction_3y: bool,
                                   no_pharmacy_incident_3y: bool) -> dict[str, list[str]]:
    """R-DOC-1 and R-DOC-2: field → reasons the physician cannot be filed (empty when eligible).

    Title: associate chief (副主任医师) or above; attending (主治医师) where the institution is level two or
    below (002) or the region enables the relaxation (000, 001). No insurance sanction and no pharmacy incident
    in the past three years. A certifying physician only in a certifying institution; at least one role and
    one therapeutic area."""
    problems: dict[str, list[str]] = {}
    if title == T.ATTENDING:
        relaxed = institution.level <= 2 or region_settings_for(institution.region).attending_physician_allowed
        if not relaxed:
            problems["title"] = ["主治医师仅可在二级及以下医疗机构或已放宽的统筹区担任责任医师，须为副主任医师及以上"]
    elif title not in (T.CHIEF, T.ASSOCIATE_CHIEF):
        problems["title"] = ["责任医师须具有副主任医师及以上职称"]
    if not no_insurance_sanction_3y:
        problems["no_insurance_sanction_3y"] = ["近三年受过医保处理，不能担任责任医师"]
    if not no_pharmacy_incident_3y:
        problems["no_pharmacy_incident_3y"] = ["近三年发生过药事事故，不能担任责任医师"]
    if is_certifying and institution.kind != "certifying":
        problems["is_certifying"] = ["认定医师须在认定类医疗机构执业"]
    if not is_certifying and not is_treating:
        problems["is_treating"] = ["须至少担任认定医师或诊治医师之一"]
    if area_count < 1:
        problems["therapeutic_areas"] = ["至少选择一个治疗领域"]
    return problems


def physician_problems(physician: Physician) -> dict[str, list[str]]:
    return physician_eligibility_problems(
        institution=physician.institution, title=physician.title, is_certifying=physician.is_certifying,
        is_treating=physician.is_treating, area_count=physician.therapeutic_areas.count(),
        no_insurance_sanction_3y=physician.no_insurance_sanction_3y,
        no_pharmacy_incident_3y=physician.no_pharmacy_incident_3y,
    )


def physician_recognised_in(physician: Physician, region: Region) -> bool:
    """R-DOC-5 (001 第二十一条): a filing is recognised in every region of the physician's province."""
    return physician.institution.region.code[:2] == region.code[:2]


def departments_below_two_physicians(*, user) -> list[dict]:
    """R-DOC-4: departments (per institution) with fewer than two filed physicians."""
    from django.db.models import Count

    rows = (physicians_visible_to(user).order_by().values("institution__code", "institution__name", "department")
            .annotate(filed=Count("id", filter=Q(status=Physician.Status.FILED))).filter(filed__lt=2)
            .order_by("institution__code", "department"))
    return list(rows)


def physicians_recheck_overdue(*, user, today: dt.date) -> list[dict]:
    """R-INS-6: filed physicians in the user's scope whose annual re-check is overdue (a year after the last one,
    or after filing when never re-checked), most overdue first."""
    rows = []
    for p in physicians_visible_to(user).filter(status=Physician.Status.FILED):
        due = recheck_due(last_rechecked_on=p.last_rechecked_on, since=p.filed_on)
        if due is not None and due < today:
            rows.append({"kind": "physician", "code": p.code, "name": p.name, "institution": p.institution.code,
                         "last_rechecked_on": p.last_rechecked_on, "due": due})
    return sorted(rows, key=lambda r: (r["due"], r["code"]))

