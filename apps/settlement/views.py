"""Browser screens: the bureau dashboard, monthly statements and runs with a progress bar (R-SET-1, R-SET-4),
the monthly report with charts and Excel (R-SET-3), reconciliation (R-SET-2), stocking and coverage
(R-STK-1..4, R-INS-5, R-DOC-4, R-CAT-7)."""
from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_POST

from apps.applications.selectors import queue_counts
from apps.core.roles import BUREAU, Role, has_role, require_role
from apps.catalogue.models import Drug
from apps.core.exceptions import ApplicationError
from apps.core.home import home_figures
from apps.core.models import Region
from apps.settlement import public
from apps.settlement import excel, money_views, services, stocking_selectors
from apps.settlement.api import xlsx_response
from apps.settlement.models import ReconciliationDifference, StockingReport
from apps.settlement.periods import label, parse_period, period_of, previous_period
from apps.settlement.selectors import (
    differences_visible_to, monthly_report_for, months_figures, organisation_of, reported_comparison, runs_visible_to,
    scope_region, statement_get_for, statement_line_sums, statement_totals, statements_visible_to, ward_delivery_statements,
)
from config.db_router import replica_reads


def _period_from(request, default: dt.date) -> tuple[dt.date, str]:
    """The ``period`` query parameter, or ``default`` (with a flash message when it was malformed)."""
    raw = request.GET.get("period")
    if not raw:
        return default, ""
    try:
        return parse_period(raw), ""
    except ApplicationError as exc:
        return default, exc.message


def _recent_periods(today: dt.date, count: int = 12) -> list[str]:
    periods, p = [], period_of(today)
    for _ in range(count):
        periods.append(label(p))
        p = previous_period(p)
    return periods


# --------------------------------------------------------------------------- dashboard

@login_required
def dashboard(request):
    """The bureau's home: this month and last month, applications waiting and overdue, stocking below target,
    open reconciliation differences, and the fund payment of the last six months."""
    require_role(request.user, BUREAU)

    today = timezone.localdate()
    region = scope_region(request.user)
    this_month = period_of(today)
    last_month = previous_period(this_month)
    applications = queue_counts(request.user, today=today)
    below = stocking_selectors.below_target_count(on=today, region=region)
    open_differences = differences_visible_to(request.user).filter(status=ReconciliationDifference.Status.OPEN).count()
    months = []
    p = this_month
    for _ in range(6):
        months.append(p)
        p = previous_period(p)
    months.reverse()
    # this month, last month and the six months' trend: each settled month from its current snapshot, the others
    # summed from their dispensings in one query (issue 16)
    by_month = months_figures(periods=months, region=region)
    current, previous = by_month[this_month], by_month[last_month]
    trend = {"labels": [label(m) for m in months], "fund": [float(by_month[m]["fund"]) for m in months]}
    latest_run = runs_visible_to(request.user).first()
    # the other apps' tiles, without those the dashboard already shows (one tile per figure)
    shown_at = {reverse("applications:queue"), reverse("settlement:stocking"), reverse("settlement:reconciliation")}
    shown_as = {gettext("本月统筹基金支付（元）"), gettext("超时未办结")}
    figures = [f for f in home_figures(request.user)
               if f.url.split("?")[0] not in shown_at and str(f.label) not in shown_as]
    return render(request, "settlement/dashboard.html", {
        "this_month": label(this_month), "last_month": label(last_month), "current": current, "previous": previous,
        "applications": applications, "below_target": below, "open_differences": open_differences,
        "trend": trend, "trend_empty": not any(trend["fund"]), "latest_run": latest_run, "figures": figures,
    })


# --------------------------------------------------------------------------- statements and runs

@login_required
def statement_list(request):
    today = timezone.localdate()
    period, error = _period_from(request, previous_period(period_of(today)))
    if error:
        messages.error(request, error)
    statements = statements_visible_to(request.user).filter(period=period).order_by("organisation_kind", "id")
    if request.GET.get("format") == "xlsx":
        with replica_reads():  # an export: may read the replica (issue 16)
            return xlsx_response(excel.statements_workbook(period_label=label(period), statements=statements),
                                 f"statements-{label(period)}.xlsx")
    page = Paginator(statements, 50).get_page(request.GET.get("page"))
    runs = runs_visible_to(request.user).filter(period=period)[:5] if has_role(request.user, BUREAU) else []
    return render(request, "settlement/statement_list.html", {
        "period": label(period), "periods": _recent_periods(today), "page_obj": page,
        "totals": statement_totals(statements), "runs": runs, "can_run": request.user.is_bureau_admin,
    })


@login_required
@require_POST
def run_start(request):
    require_role(request.user, Role.BUREAU_ADMIN)
    try:
        run = services.settlement_run_start(period=parse_period(request.POST.get("period")), actor=request.user,
                                            now=timezone.now())
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect(f"{reverse('settlement:statements')}?period={request.POST.get('period', '')}")
    messages.success(request, f"{label(run.period)} 结算任务已提交")
    return redirect("settlement:run", pk=run.pk)


@login_required
def run_detail(request, pk):
    require_role(request.user, BUREAU)
    run = get_object_or_404(runs_visible_to(request.user), pk=pk)
    return render(request, "settlement/run_detail.html", {"run": run, "period": label(run.period)})


@login_required
@require_POST
def statement_confirm(request, pk):
    require_role(request.user, Role.BUREAU_ADMIN)
    statement = statement_get_for(request.user, pk)
    try:
        services.statement_confirm(statement=statement, actor=request.user, today=timezone.localdate(),
                                   now=timezone.now())
        messages.success(request, f"{statement.organisation.name} {label(statement.period)} 结算单已确认")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(f"{reverse('settlement:statements')}?period={label(statement.period)}")


# --------------------------------------------------------------------------- monthly report

@login_required
def monthly(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    period, error = _period_from(request, previous_period(period_of(today)))
    if error:
        messages.error(request, error)
    with replica_reads():  # a report: may read the replica (issue 16)
        report = monthly_report_for(period=period, region=scope_region(request.user))
    if request.GET.get("format") == "xlsx":
        return xlsx_response(excel.monthly_report_workbook(report), f"monthly-report-{label(period)}.xlsx")
    top_drugs = sorted(report["by_drug"], key=lambda r: -float(r["fund_payment"]))[:10]
    charts = {
        "region": {"labels": [r["region_name"] for r in report["by_region"]],
                   "fund": [float(r["fund_payment"]) for r in report["by_region"]],
                   "total": [float(r["total"]) for r in report["by_region"]]},
        "insurance": {"labels": [r["name"] for r in report["by_insurance_type"]],
                      "fund": [float(r["fund_payment"]) for r in report["by_insurance_type"]]},
        "drugs": {"labels": [r["generic_name"] for r in top_drugs], "fund": [float(r["fund_payment"]) for r in top_drugs]},
    }
    return render(request, "settlement/monthly.html", {
        "report": report, "period": label(period), "periods": _recent_periods(today),
        "charts": charts,
    })


# --------------------------------------------------------------------------- reconciliation

class ReportedTotalsUploadForm(forms.Form):
    period = forms.CharField(label="月份", help_text="YYYY-MM")
    file = forms.FileField(label="月度汇总（.xlsx）", help_text="第一行为表头；列：药品代码、数量、金额、统筹基金支付")


@login_required
def reconciliation(request):
    user = request.user
    today = timezone.localdate()
    period, error = _period_from(request, previous_period(period_of(today)))
    if error:
        messages.error(request, error)
    organisation = organisation_of(user)
    if not (has_role(user, BUREAU) or organisation is not None):
        raise PermissionDenied
    upload_form = ReportedTotalsUploadForm(initial={"period": label(period)})
    if request.method == "POST" and organisation is not None:
        upload_form = ReportedTotalsUploadForm(request.POST, request.FILES)
        if upload_form.is_valid():
            try:
                target = parse_period(upload_form.cleaned_data["period"])
                rows = services.reported_totals_from_xlsx(upload_form.cleaned_data["file"])
                saved = services.reported_totals_replace(organisation=organisation, period=target, rows=rows, actor=user)
                messages.success(request, f"已保存 {len(saved)} 行月度汇总")
                return redirect(f"{reverse('settlement:reconciliation')}?period={label(target)}")
            except ApplicationError as exc:
                upload_form.add_error(None, exc.message)
                for line in (exc.fields or {}).get("rows", [])[:50]:
                    upload_form.add_error(None, line)
    elif request.method == "POST":
        raise PermissionDenied
    differences = differences_visible_to(user).filter(period=period)
    kind = request.GET.get("kind", "")
    status = request.GET.get("status", "open")
    if kind:
        differences = differences.filter(kind=kind)
    if status:
        differences = differences.filter(status=status)
    counts = dict(differences_visible_to(user).filter(period=period, status="open").values_list("kind")
                  .annotate(n=Count("id")).values_list("kind", "n"))
    return render(request, "settlement/reconciliation.html", {
        "period": label(period), "periods": _recent_periods(today),
        "page_obj": Paginator(differences, 50).get_page(request.GET.get("page")),
        "kinds": [(value, text, counts.get(value, 0)) for value, text in ReconciliationDifference.Kind.choices],
        "kind": kind, "status": status, "ward": ward_delivery_statements(user=user, period=period, today=today),
        "organisation": organisation, "upload_form": upload_form,
        "comparison": reported_comparison(organisation=organisation, period=period) if organisation else None,
        "can_run": user.is_bureau_admin, "is_bureau": has_role(user, BUREAU),
    })


@login_required
@require_POST
def reconciliation_run(request):
    require_role(request.user, Role.BUREAU_ADMIN)
    try:
        period = parse_period(request.POST.get("period"))
        counts = services.reconciliation_run(period=period, actor=request.user, now=timezone.now())
        messages.success(request, f"{label(period)} 对账完成，发现 {sum(counts.values())} 项差异")
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("settlement:reconciliation")
    return redirect(f"{reverse('settlement:reconciliation')}?period={label(period)}")


@login_required
@require_POST
def difference_resolve(request, pk):
    require_role(request.user, BUREAU)
    difference = get_object_or_404(differences_visible_to(request.user), pk=pk)
    try:
        services.reconciliation_difference_resolve(difference=difference, resolution=request.POST.get("resolution", ""),
                                                   actor=request.user, now=timezone.now())
        messages.success(request, "差异已标记为已处理")
    except ApplicationError as exc:
        messages.error(request, exc.message)
    return redirect(f"{reverse('settlement:reconciliation')}?period={label(difference.period)}")


# --------------------------------------------------------------------------- stocking and coverage

class StockingReportForm(forms.Form):
    drug = forms.ModelChoiceField(label="谈判药品", queryset=Drug.objects.none())
    kind = forms.ChoiceField(label="配备方式", choices=StockingReport.Kind.choices)
    listed_on = forms.DateField(label="配备日期", widget=forms.DateInput(attrs={"type": "date"}))
    ended_on = forms.DateField(label="停止配备日期", required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["drug"].queryset = Drug.objects.filter(category=Drug.Category.NEGOTIATED).order_by("generic_name")


@login_required
def stocking(request):
    """Bureau: R-STK-2/3 metrics. Hospital: its own stocking reports and the form to report (R-STK-1)."""
    user = request.user
    today = timezone.localdate()
    if user.role == Role.HOSPITAL and user.institution_id:
        form = StockingReportForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                services.stocking_report_create(institution=user.institution, drug=form.cleaned_data["drug"],
                                                kind=form.cleaned_data["kind"], listed_on=form.cleaned_data["listed_on"],
                                                ended_on=form.cleaned_data["ended_on"], actor=user)
                messages.success(request, "配备情况已报告")
                return redirect("settlement:stocking")
            except ApplicationError as exc:
                form.add_error(None, exc.message)
        reports = stocking_selectors.stocking_reports_visible_to(user).order_by("drug__generic_name", "-listed_on")
        return render(request, "settlement/stocking_hospital.html", {"form": form, "reports": reports, "today": today})
    require_role(user, BUREAU)
    on = today
    if request.GET.get("date"):
        try:
            on = dt.date.fromisoformat(request.GET["date"])
        except ValueError:
            messages.error(request, "日期格式应为 YYYY-MM-DD")
    metrics = stocking_selectors.stocking_metrics(on=on, region=scope_region(user))
    chart = {"labels": [r["name"] for r in metrics["institutions"]],
             "rate": [float(r["rate"] or 0) * 100 for r in metrics["institutions"]],
             "target": [float(r["target"]) * 100 if r["target"] is not None else None for r in metrics["institutions"]]}
    return render(request, "settlement/stocking.html", {
        "metrics": metrics, "on": on, "chart": chart,
        "area_groups": stocking_selectors.AREA_GROUP_LABELS, "route_groups": stocking_selectors.ROUTE_GROUP_LABELS,
    })


class PublicationForm(forms.Form):
    version = forms.CharField(label="目录版本", max_length=32)
    published_on = forms.DateField(label="公布日期", widget=forms.DateInput(attrs={"type": "date"}))


@login_required
def coverage(request):
    """R-INS-5 counties, R-DOC-4 departments, R-STK-4 committee deadlines, R-CAT-7 zero-use drugs."""
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    region = scope_region(request.user)
    form = PublicationForm(request.POST or None)
    if request.method == "POST":
        require_role(request.user, Role.BUREAU_ADMIN)
        if form.is_valid():
            try:
                services.catalogue_publication_create(actor=request.user, **form.cleaned_data)
                messages.success(request, "目录发布已登记")
                return redirect("settlement:coverage")
            except ApplicationError as exc:
                form.add_error(None, exc.message)
    committee = stocking_selectors.committee_deadlines(today=today, region=region)
    return render(request, "settlement/coverage.html", {
        "counties": stocking_selectors.counties_without_coverage(region=region),
        "departments": stocking_selectors.departments_short_of_physicians(region=region),
        "committee": committee, "committee_labels": stocking_selectors.COMMITTEE_STATUS_LABELS,
        "zero_use": stocking_selectors.zero_use_drugs(year=today.year - 1, region=region),
        "last_year": today.year - 1, "form": form, "can_publish": request.user.is_bureau_admin,
    })


@login_required
def statement_detail(request, pk):
    statement = statement_get_for(request.user, pk)
    lines = (statement.lines.select_related("dispensing", "dispensing__prescription", "dispensing__person")
             .order_by("dispensing__dispensed_at"))
    return render(request, "settlement/statement_detail.html", {
        "statement": statement, "sums": statement_line_sums(statement),
        "page_obj": Paginator(lines, 100).get_page(request.GET.get("page")),
        **money_views.statement_money_context(request, statement),  # R-SET-5 lines, R-SET-2 payments
    })



def public_designated(request):
    """R-PUB-1: no login — the designated institutions and pharmacies in service (``?region=640500`` narrows it to
    a region), with the diseases each can certify or treat and the negotiated drugs each stocks."""
    region = Region.objects.filter(code=(request.GET.get("region") or "").strip()).first()
    regions = Region.objects.filter(level=Region.Level.CITY).order_by("code")
    return render(request, "settlement/public_designated.html",
                  {"page": public.public_designated(today=timezone.localdate(), region=region), "regions": regions,
                   "selected": region.code if region else ""})
