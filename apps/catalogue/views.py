"""Browser pages of the catalogue: list with search and filters, drug page with payment-standard history and
withdrawal record, create/edit/withdraw (bureau administrators), and the Excel import with preview → confirm,
progress for background runs and the import log (R-CAT-2, R-SEC-3)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.catalogue import selectors, services
from apps.catalogue.forms import DrugForm, ImportForm, WithdrawForm
from apps.core.excel import registry as excel_kinds
from apps.catalogue.models import Drug, ImportRun
from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.forms import apply_error_to_form
from apps.core.roles import BUREAU, Role, has_role, require_role
from apps.core.views import form_errors_message, paginate, run_service

FILTERS = ("q", "category", "therapeutic_area", "dosage_form", "route", "listed_on")


def _drug_or_404(user, pk) -> Drug:
    drug = selectors.drugs_visible_to(user).filter(pk=pk).first()
    if drug is None:
        raise Http404
    return drug


@login_required
def drug_list(request):
    params = {k: request.GET.get(k, "").strip() for k in FILTERS}
    filters = {k: v for k, v in params.items() if v}
    if params["listed_on"]:
        try:
            filters["listed_on"] = dt.date.fromisoformat(params["listed_on"])
        except ValueError:
            messages.error(request, "“有效日期”不是有效的日期")
            filters.pop("listed_on")
    today = timezone.localdate()
    page = paginate(request, selectors.with_current_standard(
        selectors.drug_list(user=request.user, today=today, filters=filters), today=today))
    return render(request, "catalogue/drug_list.html", {
        "page_obj": page, "params": params, "today": today,
        "categories": Drug.Category.choices, "routes": Drug.Route.choices,
        "areas": selectors.therapeutic_areas(), "dosage_forms": selectors.dosage_forms(),
        "listed": {d.pk: d.is_listed_on(filters.get("listed_on") or today) for d in page},
    })


@login_required
def drug_detail(request, pk):
    drug = _drug_or_404(request.user, pk)
    today = timezone.localdate()
    version = selectors.payment_standard_version_on(drug=drug, on=today)
    return render(request, "catalogue/drug_detail.html", {
        "drug": drug, "today": today, "listed_today": drug.is_listed_on(today), "current_version": version,
        "history": selectors.payment_standard_history(drug=drug), "events": events_for(drug)[:30],
        "withdraw_form": WithdrawForm() if request.user.is_bureau_admin and drug.withdrawn_on is None else None,
        "is_bureau": has_role(request.user, BUREAU),
    })


@login_required
def drug_create(request):
    require_role(request.user, Role.BUREAU_ADMIN)
    form = DrugForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.service_kwargs()
        try:
            drug = services.drug_create(actor=request.user, **data)
        except ApplicationError as exc:
            apply_error_to_form(form, exc)
        else:
            messages.success(request, f"已新增药品 {drug.code}")
            return redirect("catalogue:drug_detail", pk=drug.pk)
    return render(request, "catalogue/drug_form.html", {"form": form, "title": "新增药品"})


@login_required
def drug_edit(request, pk):
    require_role(request.user, Role.BUREAU_ADMIN)
    drug = _drug_or_404(request.user, pk)
    initial = {name: getattr(drug, name) for name in DrugForm.base_fields if hasattr(drug, name)}
    initial["first_self_pay_ratio"] = (drug.first_self_pay_ratio * 100).quantize(Decimal("0.01"))
    initial["effective_date"] = timezone.localdate()
    form = DrugForm(request.POST or None, initial=initial, editing=True)
    if request.method == "POST" and form.is_valid():
        data = form.service_kwargs()
        data.pop("code", None)
        effective = data.pop("effective_date", None)
        try:
            services.drug_update(drug=drug, actor=request.user, effective_date=effective or timezone.localdate(),
                                 **data)
        except ApplicationError as exc:
            apply_error_to_form(form, exc)
        else:
            messages.success(request, "已保存")
            return redirect("catalogue:drug_detail", pk=drug.pk)
    return render(request, "catalogue/drug_form.html", {"form": form, "title": f"修改 {drug.generic_name}", "drug": drug})


@login_required
@require_POST
def drug_withdraw(request, pk):
    require_role(request.user, Role.BUREAU_ADMIN)
    drug = _drug_or_404(request.user, pk)
    form = WithdrawForm(request.POST)
    if not form.is_valid():
        form_errors_message(request, form)
    else:
        run_service(request, lambda: services.drug_withdraw(drug=drug, actor=request.user, now=timezone.now(),
                                                            withdrawn_on=form.cleaned_data["withdrawn_on"],
                                                            reason=form.cleaned_data["reason"],
                                                            note=form.cleaned_data["note"]),
                    success="已调出目录；该药品自调出日起不再支付，相关待遇申请同日终止")
    return redirect("catalogue:drug_detail", pk=drug.pk)


# --- imports ----------------------------------------------------------------------------------------------------

@login_required
def import_list(request):
    """The import log (bureau) and, for administrators, the upload form: every upload is previewed first."""
    require_role(request.user, BUREAU)
    form = ImportForm(request.POST or None, request.FILES or None,
                      initial={"kind": request.GET.get("kind") or ImportRun.Kind.DRUGS})
    if request.method == "POST":
        require_role(request.user, Role.BUREAU_ADMIN)
        if form.is_valid():
            try:
                run = services.import_run_create(kind=form.cleaned_data["kind"], upload=form.cleaned_data["file"],
                                                 actor=request.user, now=timezone.now(), dry_run=True,
                                                 effective_date=form.cleaned_data.get("effective_date"))
                services.import_run_start(run=run, clock=timezone.now)
            except ApplicationError as exc:
                apply_error_to_form(form, exc)
            else:
                return redirect("catalogue:import_detail", pk=run.pk)
    runs = selectors.import_runs_visible_to(request.user)
    kind = request.GET.get("kind", "")
    if kind:
        runs = runs.filter(kind=kind)
    return render(request, "catalogue/import_list.html", {
        "form": form, "page_obj": paginate(request, runs), "kinds": ImportRun.Kind.choices, "kind": kind,
    })


@login_required
def import_detail(request, pk):
    require_role(request.user, BUREAU)
    try:
        run = selectors.import_run_get(user=request.user, pk=pk)
    except ApplicationError:
        raise Http404 from None
    return render(request, "catalogue/import_detail.html", {
        "run": run, "spec": excel_kinds.get(run.kind),
        "can_confirm": request.user.is_bureau_admin and run.status == ImportRun.Status.PREVIEWED,
    })


@login_required
def import_changes(request):
    """R-SEC-3 (issue 16): what the applied imports changed for one drug, from each run's one audit record."""
    require_role(request.user, BUREAU)
    code = request.GET.get("code", "").strip().upper()[:23]
    return render(request, "catalogue/import_changes.html", {
        "code": code, "entries": selectors.import_changes_for(user=request.user, key=code) if code else [],
    })


@login_required
@require_POST
def import_confirm(request, pk):
    require_role(request.user, Role.BUREAU_ADMIN)
    try:
        run = selectors.import_run_get(user=request.user, pk=pk)
    except ApplicationError:
        raise Http404 from None

    def confirm():
        confirmed = services.import_run_confirm(run=run, actor=request.user)
        services.import_run_start(run=confirmed, clock=timezone.now)

    run_service(request, confirm, success="已确认导入")
    return redirect("catalogue:import_detail", pk=run.pk)


@login_required
def import_file(request, pk):
    """The kept upload of a run (R-CAT-2, R-SEC-3)."""
    require_role(request.user, BUREAU)
    try:
        run = selectors.import_run_get(user=request.user, pk=pk)
    except ApplicationError:
        raise Http404 from None
    if not run.file:  # deleted after the retention of failed runs (R-SEC-4)
        raise Http404("原文件已删除")
    return FileResponse(run.file.open("rb"), as_attachment=True, filename=run.file_name)
