"""Reads of the drug catalogue (R-CAT-1, R-CAT-3, R-CAT-4) and of the import log."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import OuterRef, Q, QuerySet, Subquery

from apps.catalogue.models import Drug, ImportAudit, ImportRun, PaymentStandard, TherapeuticArea
from apps.core.exceptions import ApplicationError, NotFoundError
from apps.core.scoping import scope_to_user


def drugs_visible_to(user) -> QuerySet[Drug]:
    """The catalogue is national and public to every signed-in role (R-SEC-1 has nothing to hide here)."""
    if user is None or not user.is_authenticated:
        return Drug.objects.none()
    return Drug.objects.select_related("therapeutic_area")


def drug_by_code(code: str) -> Drug | None:
    return Drug.objects.select_related("therapeutic_area").filter(code=(code or "").strip().upper()).first()


def listed_on_q(day: dt.date) -> Q:
    """``Q`` for drugs listed on ``day`` (R-CAT-4 listing period, R-CAT-5 not withdrawn), the set-based twin of
    ``Drug.is_listed_on``. A regular class-B drug's one-year listing is applied in Python by ``drugs_listed_on``
    because its end is computed from the start (the year after ``day`` is the lower bound of the start)."""
    one_year_ago = _years_before(day, 1)
    return (
        Q(agreement_start__lte=day)
        & (Q(agreement_end__isnull=True) | Q(agreement_end__gte=day))
        & (Q(withdrawn_on__isnull=True) | Q(withdrawn_on__gt=day))
        & (Q(category=Drug.Category.NEGOTIATED) | Q(agreement_start__gt=one_year_ago))
    )


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)


def drugs_listed_on(qs: QuerySet[Drug], day: dt.date) -> QuerySet[Drug]:
    return qs.filter(listed_on_q(day))


def drug_list(*, user, today: dt.date, filters: dict | None = None) -> QuerySet[Drug]:
    """The catalogue as seen by ``user``, filtered by the browser/API filters:
    ``q`` (generic name, code or manufacturer), ``code``, ``generic_name``, ``category``, ``therapeutic_area``
    (code or name), ``dosage_form``, ``route``, ``listed_on`` (a date), ``active`` (listed on ``today``, given by the
    view)."""
    qs = drugs_visible_to(user)
    f = filters or {}
    if f.get("q"):
        term = f["q"].strip()
        qs = qs.filter(Q(generic_name__icontains=term) | Q(code__icontains=term) | Q(manufacturer__icontains=term))
    if f.get("code"):
        qs = qs.filter(code__iexact=f["code"].strip())
    if f.get("generic_name"):
        qs = qs.filter(generic_name__icontains=f["generic_name"].strip())
    if f.get("manufacturer"):
        qs = qs.filter(manufacturer__icontains=f["manufacturer"].strip())
    if f.get("category"):
        qs = qs.filter(category=f["category"])
    if f.get("therapeutic_area"):
        area = f["therapeutic_area"]
        qs = qs.filter(Q(therapeutic_area__code=area) | Q(therapeutic_area__name=area))
    if f.get("dosage_form"):
        qs = qs.filter(dosage_form=f["dosage_form"])
    if f.get("route"):
        qs = qs.filter(route=f["route"])
    if f.get("listed_on"):
        qs = drugs_listed_on(qs, f["listed_on"])
    if f.get("active") is not None and f.get("active") != "":
        qs = qs.filter(listed_on_q(today)) if f["active"] else qs.exclude(listed_on_q(today))
    return qs


def dosage_forms() -> list[str]:
    return list(Drug.objects.order_by("dosage_form").values_list("dosage_form", flat=True).distinct())


def therapeutic_areas() -> QuerySet[TherapeuticArea]:
    return TherapeuticArea.objects.all()


def payment_standard_version_on(*, drug: Drug, on: dt.date) -> PaymentStandard | None:
    return (
        PaymentStandard.objects.filter(drug=drug, valid_from__lte=on)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on))
        .order_by("-valid_from")
        .first()
    )


def payment_standard_on(*, drug: Drug, on: dt.date) -> Decimal:
    """R-CAT-3: the payment standard in force on ``on`` (settlement and dispensing use this, never
    ``Drug.payment_standard``). Raises ``drug_not_listed`` when the drug is not listed that day (R-CAT-4/5) or
    no version covers the day."""
    if not drug.is_listed_on(on):
        raise ApplicationError("drug_not_listed", f"药品 {drug.code}（{drug.generic_name}）在 {on} 不在目录有效期内或已调出")
    version = payment_standard_version_on(drug=drug, on=on)
    if version is None:
        raise ApplicationError("drug_not_listed", f"药品 {drug.code}（{drug.generic_name}）在 {on} 没有有效的支付标准")
    return version.amount


def payment_standard_history(*, drug: Drug) -> QuerySet[PaymentStandard]:
    return drug.payment_standards.select_related("created_by").order_by("-valid_from")


def import_runs_visible_to(user) -> QuerySet[ImportRun]:
    """Import log: bureau staff see the runs of their region (superusers all); other roles none."""
    return scope_to_user(ImportRun.objects.select_related("created_by", "region"), user, region_fields=("region",),
                         institution_field=None, pharmacy_field=None)


def import_run_get(*, user, pk: int) -> ImportRun:
    run = import_runs_visible_to(user).filter(pk=pk).first()
    if run is None:
        raise NotFoundError("导入记录不存在")
    return run


def import_audits_visible_to(user) -> QuerySet[ImportAudit]:
    """The audit records of applied imports, scoped as the import log (R-SEC-1, R-SEC-3)."""
    return ImportAudit.objects.filter(run__in=import_runs_visible_to(user)).select_related("run", "actor").defer(
        "change_log")


def import_changes_for(*, user, key: str, kind: str = ImportRun.Kind.DRUGS, limit_runs: int = 200) -> list[dict]:
    """R-SEC-3 (issue 16): what the applied imports changed for one row — a drug by its code — newest run first,
    read from each run's one audit record (``ImportAudit.change_log``; no audit row per drug is written). Each entry:
    ``{"audit", "run", "row", "action" ("create"/"update"), "changes": [(column header, old, new), …]}``; the
    values are shown as in the workbook (labels, 是/否, percentages)."""
    from apps.core.excel import registry as excel_kinds
    from apps.core.excel.engine import ChangeLog

    key = (key or "").strip().upper() if kind == ImportRun.Kind.DRUGS else (key or "").strip()
    if not key:
        return []
    spec = excel_kinds.get(kind)
    show = _audit_display(kind)
    needle = f'"{key}"'
    found = []
    audits = import_audits_visible_to(user).filter(kind=kind).order_by("-applied_at", "-id")[:limit_runs]
    for audit in audits:
        blob = ImportAudit.objects.filter(pk=audit.pk).values_list("change_log", flat=True).first()
        for header, entry in ChangeLog.lines(blob, containing=needle):
            number, entry_key, action, payload = entry
            if entry_key != key:
                continue
            if action == "c":
                pairs = [(attr, None, value) for attr, value in zip(header["columns"], payload)]
            else:
                pairs = [(attr, old, new) for attr, (old, new) in payload.items()]
            found.append({"audit": audit, "run": audit.run, "row": number,
                          "action": "create" if action == "c" else "update",
                          "changes": [(spec.header_of(attr), show(attr, old), show(attr, new)) for attr, old, new in pairs
                                      if old is not None or new is not None]})
    return found


def _audit_display(kind: str):
    """How a change-log value (text) is shown: choice labels, area names, ratios as percentages."""
    if kind != ImportRun.Kind.DRUGS:
        return lambda attr, value: value if value is None or isinstance(value, str) else str(value)
    areas = {str(pk): name for pk, name in TherapeuticArea.objects.values_list("pk", "name")}
    labels = {"category": dict(Drug.Category.choices), "route": dict(Drug.Route.choices)}

    def show(attr, value):
        if value is None:
            return None
        if isinstance(value, bool):
            return "是" if value else "否"
        value = str(value)
        if attr == "therapeutic_area_id":
            return areas.get(value, value)
        if attr in labels:
            return str(labels[attr].get(value, value))
        if attr == "first_self_pay_ratio":
            try:
                return f"{(Decimal(value) * 100).normalize():f}%"
            except ArithmeticError:
                return value
        return value
    return show


def with_current_standard(qs: QuerySet[Drug], *, today: dt.date) -> QuerySet[Drug]:
    """Annotate ``current_standard``: the payment standard in force on ``today`` (R-CAT-3), NULL when none is."""
    current = PaymentStandard.objects.filter(drug=OuterRef("pk"), valid_from__lte=today).filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=today)).order_by("-valid_from").values("amount")[:1]
    return qs.annotate(current_standard=Subquery(current))
