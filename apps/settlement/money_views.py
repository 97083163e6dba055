"""Browser screens of the money side (R-SET-5, R-SET-2, R-SET-3): deposit accounts and the annual return, the
payment list, institutions' monthly reports (the bureau's late/missing/differences view and the organisations'
submission), deferral release and ward-delivery payments on a statement. Thin: parse, one service, render."""
from __future__ import annotations

from decimal import Decimal

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from apps.core.exceptions import ApplicationError
from apps.core.roles import BUREAU, Role, require_role
from apps.core.views import form_errors_message, run_service
from apps.settlement import money_excel, money_selectors, money_services
from apps.settlement.models import DepositEntry, InstitutionMonthlyReport
from apps.settlement.periods import label, parse_period, period_of, previous_period
from apps.settlement.selectors import organisation_of, scope_region, statement_get_for
from config.db_router import replica_reads

ORG_ROLES = {Role.HOSPITAL, Role.PHARMACY}


def _period(request, default):
    raw = request.GET.get("period") or request.POST.get("period")
    if not raw:
        return default
    try:
        return parse_period(raw)
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return default


def _recent_periods(today, count: int = 12) -> list[str]:
    periods, p = [], period_of(today)
    for _ in range(count):
        periods.append(label(p))
        p = previous_period(p)
    return periods


# --------------------------------------------------------------------------- deposit accounts (R-SET-5)

class DepositReturnForm(forms.Form):
    year = forms.IntegerField(label=_("考核年度"), min_value=2000, max_value=2100)
    decision = forms.ChoiceField(label=_("考核决定"), choices=DepositEntry.Decision.choices)
    amount = forms.DecimalField(label=_("返还金额（部分返还时填写）"), max_digits=14, decimal_places=2, required=False)
    reason = forms.CharField(label=_("考核结论"), widget=forms.Textarea(attrs={"rows": 2}))


@login_required
def deposit_accounts(request):
    """The bureau: every account of the region with its balance. An organisation: straight to its own account."""
    if request.user.role in ORG_ROLES:
        organisation = organisation_of(request.user)
        if organisation is None:
            raise ApplicationError("forbidden", "未关联机构", status=403)
        return redirect("settlement:deposit_account", code=organisation.code)
    require_role(request.user, BUREAU)
    accounts = money_selectors.deposit_accounts_visible_to(request.user).order_by("organisation_kind", "id")
    return render(request, "settlement/money/deposit_accounts.html", {"accounts": accounts})


@login_required
def deposit_account(request, code):
    organisation = money_selectors.organisation_by_code_for(request.user, code)
    today = timezone.localdate()
    form = DepositReturnForm(request.POST or None, initial={"year": today.year - 1})
    can_return = request.user.is_bureau_admin
    if request.method == "POST":
        if not can_return:
            raise ApplicationError("forbidden", "只有经办机构管理员可以办理考核返还", status=403)
        if form.is_valid():
            data = form.cleaned_data
            if run_service(request, lambda: money_services.deposit_return(
                    organisation=organisation, year=data["year"], decision=data["decision"], amount=data["amount"],
                    reason=data["reason"], actor=request.user, now=timezone.now()),
                    success=f"{organisation.name} {data['year']} 年度质量保证金考核返还已登记"):
                return redirect("settlement:deposit_account", code=code)
        else:
            form_errors_message(request, form)
    return render(request, "settlement/money/deposit_account.html", {
        "summary": money_selectors.deposit_account_summary(organisation), "organisation": organisation,
        "form": form, "can_return": can_return,
    })


# --------------------------------------------------------------------------- sanctions on a statement (R-SET-5)

@login_required
@require_POST
def deferral_release(request, pk, sanction_id):
    """The bureau releases a payment deferral shown on a statement (confirmation dialog in the page)."""
    require_role(request.user, BUREAU)
    statement = statement_get_for(request.user, pk)
    sanction = get_object_or_404(money_selectors.money_sanctions_visible_to(request.user), pk=sanction_id)
    if not request.user.is_bureau_admin:
        raise ApplicationError("forbidden", "只有经办机构管理员可以解除暂缓拨付", status=403)
    run_service(request, lambda: money_services.deferral_release(
        sanction=sanction, actor=request.user, reason=request.POST.get("reason", ""), now=timezone.now()),
        success="已解除暂缓拨付")
    return redirect("settlement:statement", pk=statement.pk)


# --------------------------------------------------------------------------- ward-delivery payments (R-SET-2)

class WardPaymentForm(forms.Form):
    paid_on = forms.DateField(label=_("支付日期"), widget=forms.DateInput(attrs={"type": "date"}))
    amount = forms.DecimalField(label=_("金额（元）"), max_digits=14, decimal_places=2)
    reference = forms.CharField(label=_("支付凭证号"), max_length=64)
    pharmacy = forms.CharField(label=_("收款药店编码"), required=False)


@login_required
@require_POST
def ward_payment_create(request, pk):
    if request.user.role not in ORG_ROLES:
        raise ApplicationError("forbidden", "只有付款的医疗机构或收款的药店可以登记付款", status=403)
    statement = get_object_or_404(money_selectors.ward_statements_visible_to(request.user), pk=pk)
    form = WardPaymentForm(request.POST)
    if form.is_valid():
        d = form.cleaned_data
        run_service(request, lambda: money_services.ward_payment_record(
            statement=statement, actor=request.user, paid_on=d["paid_on"], amount=d["amount"],
            reference=d["reference"], pharmacy_code=d["pharmacy"] or None, now=timezone.now()),
            success=f"已登记付款 {d['amount']:,.2f} 元")
    else:
        form_errors_message(request, form)
    return redirect("settlement:statement", pk=statement.pk)


@login_required
@require_POST
def ward_payment_reverse(request, pk, payment_id):
    if request.user.role not in ORG_ROLES:
        raise ApplicationError("forbidden", "只有付款的医疗机构或收款的药店可以冲销付款", status=403)
    statement = get_object_or_404(money_selectors.ward_statements_visible_to(request.user), pk=pk)
    payment = get_object_or_404(money_selectors.ward_payments_for(statement, request.user), pk=payment_id)
    run_service(request, lambda: money_services.ward_payment_reverse(
        payment=payment, actor=request.user, reason=request.POST.get("reason", ""), now=timezone.now()),
        success="付款已冲销")
    return redirect("settlement:statement", pk=statement.pk)


def statement_money_context(request, statement) -> dict:
    """What the statement page shows of the money side: the sanction lines, what is held, ward payments."""
    today = timezone.localdate()
    context = {"adjustments": money_selectors.statement_adjustments(statement),
               "held": money_selectors.statement_held(statement),
               "can_release": request.user.is_bureau_admin}
    context["pay_now"] = max(Decimal("0.00"), statement.payable - context["held"])
    if statement.organisation_kind == "institution" and statement.is_locked:
        visible = money_selectors.ward_statements_visible_to(request.user).filter(pk=statement.pk)
        rows = money_selectors.ward_payment_status(statements=visible, today=today)
        if request.user.role == Role.PHARMACY:
            rows = [r for r in rows if r["pharmacy_code"] == request.user.pharmacy.code]
        context.update({"ward_rows": rows, "ward_payments": money_selectors.ward_payments_for(statement, request.user),
                        "can_pay": request.user.role in ORG_ROLES, "payment_form": WardPaymentForm(
                            initial={"paid_on": today})})
    return context


# --------------------------------------------------------------------------- payment list

@login_required
def payment_list(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    period = _period(request, previous_period(period_of(today)))
    listing, error = None, None
    try:
        with replica_reads():  # a list for payment and export: may read the replica (issue 16)
            listing = money_selectors.payment_list(period=period, region=scope_region(request.user))
    except ApplicationError as exc:
        error = exc
    if listing is not None and request.GET.get("format") == "xlsx":
        return money_excel.payment_list_xlsx_response(listing)
    if listing is not None and request.GET.get("format") == "csv":
        return money_excel.payment_list_csv_response(listing)
    return render(request, "settlement/money/payment_list.html", {
        "period": label(period), "periods": _recent_periods(today), "listing": listing, "error": error,
        "can_confirm": request.user.is_bureau_admin and error is not None and error.code == "period_not_confirmed",
    })


@login_required
@require_POST
def confirm_month(request):
    require_role(request.user, BUREAU)
    period = _period(request, previous_period(period_of(timezone.localdate())))
    if not request.user.is_bureau_admin:
        raise ApplicationError("forbidden", "只有经办机构管理员可以确认结算单", status=403)
    run_service(request, lambda: money_services.statements_confirm_month(
        period=period, region=scope_region(request.user), actor=request.user, today=timezone.localdate(),
        now=timezone.now()), success=f"{label(period)} 结算单已全部确认")
    return redirect(f"{reverse('settlement:payment_list')}?period={label(period)}")


# --------------------------------------------------------------------------- monthly reports (R-SET-3)

STATUS_LABELS = {"on_time": _("按时报送"), "late": _("逾期报送"), "missing": _("未报送"), "missing_overdue": _("逾期未报")}


@login_required
def report_status(request):
    """The bureau: who has not reported, who reported late, whose figures differ (R-SET-3)."""
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    period = _period(request, previous_period(period_of(today)))
    rows = money_selectors.report_status(period=period, region=scope_region(request.user), today=today)
    for row in rows:
        row["status_label"] = STATUS_LABELS[row["status"]]
    counts = {key: sum(1 for r in rows if r["status"] == key) for key in STATUS_LABELS}
    counts["differs"] = sum(1 for r in rows if r["differs"])
    return render(request, "settlement/money/report_status.html", {
        "period": label(period), "periods": _recent_periods(today), "rows": rows, "counts": counts,
        "due": money_selectors.report_due(period),
    })


@login_required
def report_detail(request, pk):
    report = get_object_or_404(money_selectors.reports_visible_to(request.user), pk=pk)
    late = timezone.localtime(report.submitted_at).date() > money_selectors.report_due(report.period)
    return render(request, "settlement/money/report_detail.html", {
        "report": report, "diff": money_selectors.report_differences(report), "late": late,
        "due": money_selectors.report_due(report.period),
    })


class ReportForm(forms.Form):
    period = forms.CharField(label=_("月份"), widget=forms.TextInput(attrs={"type": "month"}))
    visits = forms.IntegerField(label=_("人次"), required=False)
    total = forms.DecimalField(label=_("医疗费用总额"), max_digits=14, decimal_places=2, required=False)
    fund_payment = forms.DecimalField(label=_("统筹基金支付"), max_digits=14, decimal_places=2, required=False)
    file = forms.FileField(label=_("或上传 Excel 报表"), required=False)


@login_required
def report_submit(request):
    """Hospitals and pharmacies submit their monthly figures by the 5th (a form, or the Excel report)."""
    if request.user.role not in ORG_ROLES:
        raise ApplicationError("forbidden", "此页面仅供定点医疗机构和药店使用", status=403)
    organisation = organisation_of(request.user)
    today = timezone.localdate()
    default = previous_period(period_of(today))
    form = ReportForm(request.POST or None, request.FILES or None, initial={"period": label(default)})
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data

        def submit():
            period = parse_period(d["period"])
            if d["file"] is not None:
                figures, lines = money_services.institution_report_rows_from_xlsx(d["file"])
                source = InstitutionMonthlyReport.Source.EXCEL
            else:
                figures = {"visits": "" if d["visits"] is None else d["visits"],
                           "total": "" if d["total"] is None else d["total"],
                           "fund_payment": "" if d["fund_payment"] is None else d["fund_payment"]}
                lines, source = [], InstitutionMonthlyReport.Source.BROWSER
            money_services.institution_report_submit(organisation=organisation, period=period, figures=figures,
                                                     lines=lines, actor=request.user, source=source,
                                                     now=timezone.now())

        if run_service(request, submit, success=f"{d['period']} 月度报表已提交"):
            return redirect("settlement:report_submit")
    elif request.method == "POST":
        form_errors_message(request, form)
    reports = money_selectors.reports_visible_to(request.user).order_by("-period")
    rows = [{"report": r, "late": timezone.localtime(r.submitted_at).date() > money_selectors.report_due(r.period),
             "due": money_selectors.report_due(r.period)} for r in reports]
    return render(request, "settlement/money/report_submit.html", {
        "form": form, "rows": rows, "organisation": organisation, "due": money_selectors.report_due(default),
        "default_period": label(default),
    })


# --------------------------------------------------------------------------- rectification queue (R-SET-5)

@login_required
def rectifications(request):
    """The bureau's queue of deadline rectifications (限时整改): escalated ones first (逾期未整改 / 六个月内再次发现)."""
    require_role(request.user, BUREAU)
    return render(request, "settlement/money/rectifications.html", {
        "follow_ups": money_selectors.rectifications_visible_to(request.user)[:500],
        "can_resolve": request.user.is_bureau_admin, "today": timezone.localdate(),
    })


@login_required
@require_POST
def rectification_resolve(request, pk):
    require_role(request.user, BUREAU)
    follow_up = get_object_or_404(money_selectors.rectifications_visible_to(request.user), pk=pk)
    if not request.user.is_bureau_admin:
        raise ApplicationError("forbidden", "只有经办机构管理员可以确认整改完成", status=403)
    run_service(request, lambda: money_services.rectification_resolve(
        follow_up=follow_up, actor=request.user, reason=request.POST.get("reason", ""), now=timezone.now()),
        success="已确认整改完成")
    return redirect("settlement:rectifications")
