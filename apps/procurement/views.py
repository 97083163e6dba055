"""Browser pages of volume-based procurement (section 10). Bureau: rounds and varieties (cycle extension,
decomposition, payment-standard linkage), completion by institution and variety (table, chart, Excel), pace
alerts, the fund's statement, overdue repayments, imports with preview. Institutions: their own agreements,
completion and invoices. Views parse input, call one service or selector, render."""
from __future__ import annotations

import datetime as dt
import uuid
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.core.excel import exporting
from apps.core.exceptions import ApplicationError
from apps.core.roles import BUREAU, Role, require_role
from apps.core.scoping import is_system_wide
from apps.core.views import form_errors_message, run_service
from apps.procurement import excel, importing, selectors, services
from apps.procurement.forms import (
    AdvanceForm, DecomposeForm, ExtendForm, ImportForm, RepaymentForm, RoundForm, SettleForm,
)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _get_or_404(qs, **lookup):
    obj = qs.filter(**lookup).first()
    if obj is None:
        raise Http404
    return obj


def _month_param(request, today: dt.date) -> tuple[dt.date, dt.date]:
    """``?month=2026-11`` → (first day, as-of day); default the last complete month."""
    raw = (request.GET.get("month") or "").strip()
    default = selectors.previous_month(today)
    if raw:
        try:
            year, month = raw.split("-")
            default = dt.date(int(year), int(month), 1)
        except ValueError:
            messages.error(request, f"月份“{raw}”无效，应为 2026-11 这样的年月")
    return default, selectors.month_end(default)


# --- rounds and varieties -----------------------------------------------------------------------------------

@login_required
def round_list(request):
    require_role(request.user, BUREAU)
    form = RoundForm(request.POST or None)
    if request.method == "POST":
        require_role(request.user, Role.BUREAU_ADMIN)
        if not request.user.region_id:
            messages.error(request, "只有属于统筹区的经办机构用户可以登记批次")
        elif form.is_valid() and run_service(request, lambda: services.round_create(
                region=request.user.region, actor=request.user, **form.cleaned_data), success="批次已登记"):
            return redirect("procurement:rounds")
        elif not form.is_valid():
            form_errors_message(request, form)
    rounds = selectors.rounds_visible_to(request.user).prefetch_related("products")
    return render(request, "procurement/round_list.html", {"rounds": rounds, "form": form})


@login_required
def product_detail(request, pk):
    require_role(request.user, BUREAU)
    product = _get_or_404(selectors.products_visible_to(request.user), pk=pk)
    today = timezone.localdate()
    contracts = product.contracts.prefetch_related("agreements__institution").order_by("cycle_year")
    linked = product.linked_standards.select_related("drug") if product.standard_linked_at else None
    return render(request, "procurement/product_detail.html", {
        "product": product, "contracts": contracts, "today": today,
        "base": selectors.region_base_of(product),
        "base_uses": product.base_uses.select_related("institution").order_by("institution__code"),
        "ratio": services.FIRST_YEAR_RATIO[product.firm_count],
        "plan": None if linked is not None else services.standard_link_plan(product=product), "linked": linked,
        "extend_form": ExtendForm(initial={"decided_on": today}), "decompose_form": DecomposeForm(),
        # payment standards are shared reference data: the catalogue lets only a system-wide role change them
        "may_link": is_system_wide(request.user),
    })


@login_required
@require_POST
def product_extend(request, pk):
    require_role(request.user, Role.BUREAU_ADMIN)
    product = _get_or_404(selectors.products_visible_to(request.user), pk=pk)
    form = ExtendForm(request.POST)
    if form.is_valid():
        run_service(request, lambda: services.winning_product_extend(product=product, actor=request.user,
                                                                    **form.cleaned_data),
                    success="采购周期已延长一年")
    else:
        form_errors_message(request, form)
    return redirect("procurement:product", pk=pk)


@login_required
@require_POST
def product_decompose(request, pk):
    require_role(request.user, Role.BUREAU_ADMIN)
    product = _get_or_404(selectors.products_visible_to(request.user), pk=pk)
    form = DecomposeForm(request.POST)
    if form.is_valid():
        run_service(request, lambda: services.contract_decompose(
            product=product, actor=request.user, cycle_year=form.cleaned_data["cycle_year"],
            agreed_volume=form.cleaned_data["agreed_volume"]), success="约定采购量已分解到各医疗机构")
    else:
        form_errors_message(request, form)
    return redirect("procurement:product", pk=pk)


@login_required
@require_POST
def product_link_standard(request, pk):
    require_role(request.user, Role.BUREAU_ADMIN)
    product = _get_or_404(selectors.products_visible_to(request.user), pk=pk)
    run_service(request, lambda: services.standard_link_apply(product=product, actor=request.user, now=timezone.now()),
                success="中选价格已作为支付标准新版本，自执行日期起生效")
    return redirect("procurement:product", pk=pk)


# --- completion, pace -------------------------------------------------------------------------------------------

@login_required
def completion(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    period, as_of = _month_param(request, today)
    rows = selectors.agreement_progress(as_of=as_of, qs=selectors.agreements_visible_to(request.user))
    label = f"{period:%Y-%m}"
    if request.GET.get("format") == "xlsx":
        return excel.completion_response(rows, month=label)
    return render(request, "procurement/completion.html", {
        "rows": rows, "totals": selectors.progress_totals(rows), "month": label, "as_of": as_of,
        "chart": selectors.completion_chart(rows),
    })


@login_required
def pace(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    period, as_of = _month_param(request, today)
    rows = selectors.agreement_progress(as_of=as_of, qs=selectors.agreements_visible_to(request.user))
    return render(request, "procurement/pace.html", {
        "behind": [r for r in rows if r["behind_pace"]], "low_use": [r for r in rows if r["low_use"]],
        "month": f"{period:%Y-%m}", "as_of": as_of, "margin": rows[0]["margin"] if rows else None,
    })


# --- fund -------------------------------------------------------------------------------------------------------

@login_required
def fund(request):
    require_role(request.user, BUREAU)
    accounts = list(selectors.fund_accounts_visible_to(request.user).order_by("-round_id"))
    account = None
    if accounts:
        wanted = request.GET.get("round") or request.POST.get("round")
        account = next((a for a in accounts if str(a.round_id) == wanted), accounts[0])
    advance_form = AdvanceForm(request.POST if request.POST.get("action") == "advance" else None,
                               initial={"occurred_on": timezone.localdate(), "cycle_year": 1})
    settle_form = SettleForm(request.POST if request.POST.get("action") == "settle" else None,
                             initial={"occurred_on": timezone.localdate()})
    if request.method == "POST" and account is not None:
        require_role(request.user, Role.BUREAU_ADMIN)
        form = advance_form if request.POST.get("action") == "advance" else settle_form
        if form.is_valid():
            call = (lambda: services.fund_advance(round_=account.round, actor=request.user, **form.cleaned_data)) \
                if form is advance_form else \
                (lambda: services.fund_settle(round_=account.round, actor=request.user, **form.cleaned_data))
            if run_service(request, call, success="已记入周转金账户"):
                return redirect(f"{request.path}?round={account.round_id}")
        else:
            form_errors_message(request, form)
    context = {"accounts": accounts, "account": account, "advance_form": advance_form, "settle_form": settle_form}
    if account is not None:
        context["statement"] = selectors.fund_statement(account)
        context["annual"] = [(year, selectors.annual_agreed_amount(round_=account.round, cycle_year=year))
                             for year in (1, 2, 3)]
        context["firms"] = sorted({f for fs in account.round.products.values_list("firms", flat=True) for f in fs})
    return render(request, "procurement/fund.html", context)


# --- repayments -------------------------------------------------------------------------------------------------

@login_required
def repayments(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    form = RepaymentForm(request.POST or None, initial={"paid_on": today})
    if request.method == "POST":
        require_role(request.user, Role.BUREAU_ADMIN)
        if form.is_valid():
            data = form.cleaned_data
            purchase = selectors.purchases_visible_to(request.user).filter(invoice_no=data["invoice_no"]).first()
            if purchase is None:
                messages.error(request, f"未找到发票 {data['invoice_no']}")
            elif run_service(request, lambda: services.repayment_record(
                    purchase=purchase, amount=data["amount"], paid_on=data["paid_on"], reference=data["reference"],
                    actor=request.user), success=f"发票 {purchase.invoice_no} 的回款已登记"):
                return redirect("procurement:repayments")
        else:
            form_errors_message(request, form)
    overdue = [(i, selectors.days_overdue(i, today=today))
               for i in selectors.overdue_invoices(request.user, today=today)]
    return render(request, "procurement/repayments.html", {
        "overdue": overdue, "offenders": selectors.repeat_offenders(request.user, year=today.year, today=today),
        "today": today, "form": form, "year": today.year,
    })


# --- imports ----------------------------------------------------------------------------------------------------

SESSION_KEY = "procurement_import"


@login_required
def imports(request):
    require_role(request.user, Role.BUREAU_ADMIN)
    rounds = selectors.rounds_visible_to(request.user)
    form = ImportForm(None, rounds=rounds)
    result = None
    if request.method == "POST" and request.POST.get("action") == "confirm":
        pending = request.session.pop(SESSION_KEY, None)
        if not pending or pending.get("token") != request.POST.get("token"):
            messages.error(request, "预览已失效，请重新上传预览")
        else:
            result = _run_kept(request, pending)
    elif request.method == "POST":
        form = ImportForm(request.POST, request.FILES, rounds=rounds)
        if form.is_valid():
            round_id = form.cleaned_data["round"] or None
            result = _preview(request, form.cleaned_data["kind"], round_id, form.cleaned_data["file"])
        else:
            form_errors_message(request, form)
    return render(request, "procurement/imports.html", {"form": form, "result": result,
                                                       "kinds": importing.KIND_CHOICES})


def _preview(request, kind: str, round_id, upload) -> dict:
    try:
        result = importing.import_file(kind=kind, upload=upload, actor=request.user, dry_run=True, round_id=round_id)
    except ApplicationError as exc:
        return {"failed": True, "message": exc.message, "errors": exc.data.get("errors", []), "kind": kind}
    token = uuid.uuid4().hex
    upload.seek(0)
    path = default_storage.save(f"procurement/imports/{token}.xlsx", upload)
    request.session[SESSION_KEY] = {"token": token, "kind": kind, "round_id": round_id, "path": path,
                                    "digest": result["digest"], "name": upload.name}
    return result | {"token": token, "kind": kind, "name": upload.name}


def _run_kept(request, pending: dict) -> dict:
    try:
        with default_storage.open(pending["path"], "rb") as fh:
            result = importing.import_file(kind=pending["kind"], upload=fh, actor=request.user, dry_run=False,
                                           round_id=pending["round_id"], expected_digest=pending["digest"],
                                           file_name=pending["name"])
    except ApplicationError as exc:
        return {"failed": True, "message": exc.message, "errors": exc.data.get("errors", []), "kind": pending["kind"]}
    finally:
        default_storage.delete(pending["path"])
    messages.success(request, f"已导入 {result['created']} 行")
    return result | {"kind": pending["kind"], "name": pending["name"]}


@login_required
def import_template(request, kind):
    """The empty template workbook of a kind (the same columns the import reads)."""
    require_role(request.user, BUREAU)
    if kind not in importing.SPECS:
        raise Http404
    response = HttpResponse(exporting.export_workbook(kind=kind, user=request.user, empty=True), content_type=XLSX)
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(exporting.export_filename(kind, empty=True))}"
    return response


# --- institutions -----------------------------------------------------------------------------------------------

@login_required
def mine(request):
    """An institution's own agreements with their completion, and its invoices with the repayment state."""
    require_role(request.user, Role.HOSPITAL)
    today = timezone.localdate()
    agreements = selectors.agreement_list(user=request.user, today=today)
    invoices = [(i, selectors.invoice_status(i, today=today), selectors.days_overdue(i, today=today))
                for i in selectors.invoices_visible_to(request.user, today=today).order_by("-invoice_date")[:200]]
    progress = selectors.agreement_progress(as_of=today, qs=selectors.agreements_visible_to(request.user))
    return render(request, "procurement/mine.html", {
        "agreements": [(a, selectors.completion_ratio(a.purchased, a.agreed_volume)) for a in agreements],
        "progress": progress, "invoices": invoices, "today": today,
    })
