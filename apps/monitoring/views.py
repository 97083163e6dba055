"""The reviewer's alert workspace (section 9, browser, Chinese): the queue (by rule, status, region,
organisation, amount, age) with bulk dismissal, the alert page with its evidence laid out (R-MON-5 supply
timeline per pharmacy, R-MON-4 code history, R-MON-9 peers' distribution chart) and its workflow, the monthly
summary with its Excel export, and monitoring runs with their progress. Hospitals and pharmacies: the confirmed
alerts about themselves. Views parse input, call one service or selector, render."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from io import BytesIO

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST
from openpyxl import Workbook
from openpyxl.styles import Font

from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.models import Sanction
from apps.core.roles import BUREAU, Role, require_role
from apps.core.views import paginate, run_service
from apps.monitoring import selectors, services
from apps.monitoring.models import Alert, Rule
from apps.monitoring.rules.base import month_bounds

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
SANCTION_CHOICES = [(k, Sanction.Kind(k).label) for k in services.PROPOSABLE]


def _month(raw: str, default: dt.date, request) -> dt.date:
    raw = (raw or "").strip()
    if not raw:
        return default
    try:
        return dt.date.fromisoformat(raw[:7] + "-01")
    except ValueError:
        messages.error(request, f"月份“{raw}”无效，应为 2026-11 这样的年月")
        return default


def _int(raw) -> int | None:
    try:
        return int(raw) if str(raw or "").strip() else None
    except ValueError:
        return None


@login_required
def queue(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    q = request.GET
    try:
        min_amount = Decimal(q["min_amount"]) if q.get("min_amount") else None
    except InvalidOperation:
        messages.error(request, "金额应为数字")
        min_amount = None
    status = q.get("status", "open_or_assigned")
    qs = selectors.alert_queue(user=request.user, rule=q.get("rule", ""),
                               status="" if status in ("", "open_or_assigned") else status,
                               region=q.get("region", ""), organisation=q.get("organisation", "").strip(),
                               min_amount=min_amount, min_age_days=_int(q.get("min_age")),
                               max_age_days=_int(q.get("max_age")), today=today)
    if status == "open_or_assigned":
        qs = qs.filter(status__in=services.UNDECIDED)
    return render(request, "monitoring/queue.html", {
        "page": paginate(request, qs, 50), "rules": Rule.choices, "statuses": Alert.Status.choices,
        "filters": q, "status": status, "today": today,
        "default_period": month_bounds(month_bounds(today)[0] - dt.timedelta(days=1))[0]})


@login_required
def alert_detail(request, pk):
    alert = selectors.alert_get(user=request.user, pk=pk)
    reviewer = selectors.is_reviewer(request.user)
    context = {"alert": alert, "reviewer": reviewer, "dispensings": selectors.evidence_dispensings(alert),
               "sanction_choices": SANCTION_CHOICES}
    if alert.rule == Rule.SUPPLY_BEYOND_NEED:
        context["timeline"] = selectors.supply_timeline(alert)
        pharmacies = {}
        for row in context["timeline"]:
            pharmacies.setdefault(row["pharmacy"].pk, {"pharmacy": row["pharmacy"], "rows": []})["rows"].append(row)
        context["timeline_by_pharmacy"] = list(pharmacies.values())
    if alert.rule == Rule.TRACE_CODE_REUSED:
        context["code_history"] = selectors.code_history(alert)
    if alert.rule == Rule.PHYSICIAN_OUTLIER:
        context["distribution"] = selectors.peer_distribution(alert)
    if reviewer:
        context["assignees"] = [u for u in get_user_model().objects.filter(
            is_active=True, role__in=[Role.BUREAU_ADMIN, Role.BUREAU_REVIEWER]).order_by("username")
            if selectors.alerts_visible_to(u).filter(pk=alert.pk).exists()]
        context["events"] = events_for(alert)
    return render(request, "monitoring/alert_detail.html", context)


@login_required
@require_POST
def alert_assign(request, pk):
    require_role(request.user, BUREAU)
    alert = selectors.alert_get(user=request.user, pk=pk)
    assignee = get_user_model().objects.filter(pk=_int(request.POST.get("assignee"))).first()
    run_service(request, lambda: services.alert_assign(alert=alert, assignee=assignee, actor=request.user,
                                                       now=timezone.now()), success="预警已分派")
    return redirect("monitoring:alert", pk=pk)


@login_required
@require_POST
def alert_confirm(request, pk):
    require_role(request.user, BUREAU)
    alert = selectors.alert_get(user=request.user, pk=pk)
    now = timezone.now()
    run_service(request, lambda: services.alert_confirm(
        alert=alert, actor=request.user, reason=request.POST.get("reason", ""),
        sanction_kind=request.POST.get("sanction_kind", ""), sanction_amount=request.POST.get("sanction_amount"),
        now=now, today=timezone.localdate(now)), success="预警已确认")
    return redirect("monitoring:alert", pk=pk)


@login_required
@require_POST
def alert_dismiss(request, pk):
    require_role(request.user, BUREAU)
    alert = selectors.alert_get(user=request.user, pk=pk)
    run_service(request, lambda: services.alert_dismiss(alert=alert, actor=request.user,
                                                        reason=request.POST.get("reason", ""), now=timezone.now()),
                success="预警已排除")
    return redirect("monitoring:alert", pk=pk)


@login_required
@require_POST
def bulk_dismiss(request):
    require_role(request.user, BUREAU)
    ids = [i for i in (_int(x) for x in request.POST.getlist("alerts")) if i is not None]
    alerts = list(selectors.alerts_visible_to(request.user).filter(pk__in=ids))
    run_service(request, lambda: services.alerts_bulk_dismiss(alerts=alerts, actor=request.user,
                                                              reason=request.POST.get("reason", ""),
                                                              now=timezone.now()),
                success=f"已排除 {len(alerts)} 条预警")
    return redirect(request.POST.get("next") or "monitoring:queue")


@login_required
def summary(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    default = month_bounds(month_bounds(today)[0] - dt.timedelta(days=1))[0]
    period = _month(request.GET.get("period", ""), default, request)
    report = selectors.monitoring_summary(user=request.user, period=period)
    if request.GET.get("format") == "xlsx":
        response = HttpResponse(summary_workbook(report), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="monitoring-{period:%Y-%m}.xlsx"'
        return response
    chart = {"labels": [r["rule"] for r in report["rows"]],
             "open": [r["open"] + r["assigned"] for r in report["rows"]],
             "confirmed": [r["confirmed"] for r in report["rows"]],
             "dismissed": [r["dismissed"] for r in report["rows"]]}
    return render(request, "monitoring/summary.html", {"report": report, "period": f"{period:%Y-%m}",
                                                       "chart": chart})


def summary_workbook(report: dict) -> bytes:
    """The monthly monitoring summary as .xlsx: one row per rule, then the totals."""
    wb = Workbook()
    ws = wb.active
    ws.title = "智能监控月报"
    ws.append([f"智能监控月度汇总 · {report['period']:%Y-%m}"])
    ws["A1"].font = Font(bold=True, size=13)
    headers = ["规则", "名称", "预警数", "待处理", "已分派", "已确认", "已排除", "涉及金额（元）", "确认金额（元）",
               "追回/扣除金额（元）"]
    ws.append(headers)
    for cell in ws[2]:
        cell.font = Font(bold=True)
    keys = ["total", "open", "assigned", "confirmed", "dismissed", "amount_at_risk", "amount_confirmed",
            "amount_recovered"]
    for r in report["rows"]:
        ws.append([r["rule"], str(r["label"])] + [r[k] for k in keys])
    ws.append(["合计", ""] + [report["totals"][k] for k in keys])
    for row in ws.iter_rows(min_row=3, min_col=8, max_col=10):
        for cell in row:
            cell.number_format = "#,##0.00"
    for col, width in zip("ABCDEFGHIJ", (10, 30, 9, 9, 9, 9, 9, 16, 16, 18)):
        ws.column_dimensions[col].width = width
    out = BytesIO()
    wb.save(out)
    return out.getvalue()


@login_required
@require_POST
def run_start(request):
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    period = _month(request.POST.get("period", ""), month_bounds(month_bounds(today)[0] - dt.timedelta(days=1))[0],
                    request)
    try:
        run = services.monitoring_run_queue(period=period, actor=request.user, now=timezone.now())
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("monitoring:queue")
    messages.success(request, f"已开始对 {period:%Y-%m} 运行全部监控规则")
    return redirect("monitoring:run", pk=run.pk)


@login_required
def run_detail(request, pk):
    require_role(request.user, BUREAU)
    run = get_object_or_404(selectors.runs_visible_to(request.user), pk=pk)
    return render(request, "monitoring/run.html", {"run": run})


@login_required
def mine(request):
    require_role(request.user, Role.HOSPITAL, Role.PHARMACY)
    return render(request, "monitoring/mine.html",
                  {"page": paginate(request, selectors.alerts_visible_to(request.user), 50)})
