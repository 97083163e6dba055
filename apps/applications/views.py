"""Browser screens of applications: the review workspace (queue, application page with decisions and
"下一条"), physician filing requests (R-DOC-3), the hospital's pages, the printable 申请表 and the public
progress lookup (R-APP-9)."""
from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.clickjacking import xframe_options_sameorigin
from django.views.decorators.http import require_http_methods, require_POST

from apps.core.roles import BUREAU, Role, has_role, require_role
from apps.applications import selectors, services
from apps.applications.forms import (
    ApplicationCreateForm,
    DecisionForm,
    DocumentForm,
    FilingDecisionForm,
    LookupForm,
    QueueFilterForm,
    ResubmitForm,
)
from apps.applications.models import HOSPITAL_STAGES, Application, Stage
from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.forms import apply_error_to_form
from apps.core.masking import mask_id_number, mask_name, mask_phone
from apps.core.views import paginate_by_ids
from apps.pharmacies.selectors import pharmacies_visible_to
from apps.physicians import services as physician_services
from apps.physicians.models import Physician
from apps.physicians.selectors import physicians_visible_to

QUEUE_KEYS = ("stage", "status", "generic_name", "institution", "region", "due", "q")


def _filters_from(params) -> tuple[QueueFilterForm, selectors.QueueFilters, str]:
    form = QueueFilterForm(params or None)
    values = form.cleaned_data if form.is_valid() else {}
    filters = selectors.QueueFilters(**{k: values.get(k) or "" for k in QUEUE_KEYS})
    query = urlencode({k: v for k, v in ((k, getattr(filters, k)) for k in QUEUE_KEYS) if v})
    return form, filters, query


def _apply_error(form, exc: ApplicationError):
    return apply_error_to_form(form, exc)


# --- review workspace -----------------------------------------------------------------------------------------

@login_required
def review_queue(request):
    """The queue of applications waiting on the user's stages, most urgent first (R-APP-5), with counts."""
    require_role(request.user, BUREAU, Role.HOSPITAL)
    today = timezone.localdate()
    form, filters, query = _filters_from(request.GET)
    qs = selectors.review_queue_for(request.user, filters, today=today)
    page = paginate_by_ids(qs, request.GET.get("page"), 50)
    filings = None
    if has_role(request.user, BUREAU):
        filings = _filings_for(request.user).count()
    return render(request, "applications/queue.html", {
        "form": form, "page_obj": page, "rows": page.object_list, "counts": selectors.queue_counts(request.user,
                                                                                                  today=today),
        "query": query, "today": today, "filings_count": filings,
    })


def _detail_context(request, application: Application, *, decision_form=None, resubmit_form=None,
                    document_form=None, revealed=None) -> dict:
    user = request.user
    _, filters, query = _filters_from(request.GET)
    owns = (application.status in selectors.DECIDABLE_STATUSES and selectors.user_owns_stage(user, application))
    is_applicant = user.role == Role.HOSPITAL and user.institution_id == application.institution_id
    next_app = selectors.next_in_queue(user, application, filters, today=timezone.localdate()) if (has_role(user, BUREAU) or is_applicant) else None
    stages = application.review_stages or []
    last_stage = bool(stages) and application.current_stage == stages[-1]
    person = application.person
    revealed = revealed or {}
    return {
        "app": application, "person": person,
        "id_number_display": revealed.get("id_number") or mask_id_number(person.id_number),
        "phone_display": revealed.get("phone") or mask_phone(person.phone),
        "revealed": revealed,
        "age": person.age_on(application.applied_on),
        "reviews": selectors.reviews_of(application),
        "documents": application.documents.all(),
        "events": events_for(application)[:50],
        "can_decide": owns and (application.current_stage not in HOSPITAL_STAGES
                                or selectors.user_holds_stage_duty(user, application)),
        "duty_missing": ("" if not owns or application.current_stage not in HOSPITAL_STAGES
                         or selectors.user_holds_stage_duty(user, application)
                         else f"“{application.get_current_stage_display()}”环节由持有该职责的人员审核"),
        "can_extend": (application.status == Application.Status.APPROVED and application.valid_until is not None
                       and selectors.user_holds_stage_duty(user, application, Stage.PHYSICIAN)
                       and application.valid_until - dt.timedelta(days=services.EXTENSION_WINDOW_DAYS - 1)
                       <= timezone.localdate() <= application.valid_until),
        "can_switch": (application.status == Application.Status.APPROVED
                       and selectors.user_holds_stage_duty(user, application, Stage.PHYSICIAN)),
        "pending_switches": application.manufacturer_switches.filter(confirmed_at__isnull=True),
        "can_confirm_switch": selectors.user_holds_stage_duty(user, application, Stage.INSURANCE_OFFICE),
        "last_stage": last_stage,
        "decision_form": decision_form or DecisionForm(),
        "can_resubmit": is_applicant and application.status == Application.Status.RETURNED,
        "resubmit_form": resubmit_form or ResubmitForm(),
        "can_upload": is_applicant and application.is_open,
        "document_form": document_form or DocumentForm(),
        "next_app": next_app, "query": query,
        "can_terminate": has_role(user, BUREAU) and application.status in (*selectors.OPEN_STATUSES,
                                                                       Application.Status.APPROVED)
        and (user.is_superuser or application.insured_region.code.startswith(user.region.descendant_prefix)),
        "stage_labels": [(s, Stage(s).label, s == application.current_stage) for s in stages],
        "today": timezone.localdate(),
    }


_REVEAL_KEY = "applications_revealed"


def _detail_url(application, query: str) -> str:
    url = reverse("applications:detail", args=[application.pk])
    return f"{url}?{query}" if query else url


@login_required
@require_http_methods(["GET", "POST"])
def application_detail(request, pk):
    """The application page: patient (masked), documents inline, decision history, the decision form of the
    stage the user owns, "下一条"."""
    application = selectors.application_records_get_for(request.user, pk)  # not for pharmacies (R-SEC-1)
    decision_form = None
    if request.method == "POST":
        decision_form = DecisionForm(request.POST)
        _, filters, query = _filters_from(request.GET)
        if decision_form.is_valid():
            d = decision_form.cleaned_data
            try:
                application = services.application_decide(
                    application=application, actor=request.user, decision=d["decision"], opinion=d["opinion"],
                    valid_until=d["valid_until"], now=timezone.now())
            except ApplicationError as exc:
                _apply_error(decision_form, exc)
            else:
                messages.success(request, f"已记录：{application.number} {dict(decision_form.fields['decision'].choices)[d['decision']]}")
                if request.POST.get("and_next"):
                    nxt = selectors.next_in_queue(request.user, application, filters, today=timezone.localdate())
                    if nxt is not None:
                        return redirect(_detail_url(nxt, query))
                    return redirect(f"{reverse('applications:queue')}?{query}")
                return redirect(_detail_url(application, query))
    revealed = {}
    shown = request.session.pop(_REVEAL_KEY, None) if request.method == "GET" else None
    if shown and shown.get("application") == application.pk:
        revealed = {shown["field"]: shown["value"]}
    return render(request, "applications/detail.html",
                  _detail_context(request, application, decision_form=decision_form, revealed=revealed))


@login_required
@require_POST
def reveal(request, pk, field):
    """Show the ID number or phone in full: a logged action (R-SEC-2)."""
    application = selectors.application_records_get_for(request.user, pk)  # not for pharmacies (R-SEC-1)
    try:
        value = services.application_reveal_personal_number(application=application, actor=request.user,
                                                            field=field)
    except ApplicationError as exc:
        if exc.status == 403:
            raise PermissionDenied from exc
        raise Http404 from exc
    # POST-redirect-GET: the logged reveal is shown once by the next GET; refreshing that page neither re-posts
    # nor writes a second log row, and the number is masked again afterwards.
    request.session[_REVEAL_KEY] = {"application": application.pk, "field": field, "value": value}
    return redirect(_detail_url(application, request.GET.urlencode()))


@login_required
@require_POST
def terminate(request, pk):
    """The insured region's bureau ends an application early, with the reason recorded."""
    application = selectors.application_get_for(request.user, pk)
    on = None
    if request.POST.get("on"):
        try:
            on = dt.date.fromisoformat(request.POST["on"])
        except ValueError:
            messages.error(request, "终止日期格式应为 YYYY-MM-DD")
            return redirect("applications:detail", pk=application.pk)
    try:
        services.application_terminate(application=application, actor=request.user,
                                       reason=request.POST.get("reason", ""), on=on, today=timezone.localdate())
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "待遇已终止")
    return redirect("applications:detail", pk=application.pk)


@login_required
@require_POST
def resubmit(request, pk):
    application = selectors.application_get_for(request.user, pk)
    form = ResubmitForm(request.POST)
    if form.is_valid():
        try:
            services.application_resubmit(application=application, actor=request.user, note=form.cleaned_data["note"], now=timezone.now())
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "已重新提交，审核从第一环节重新开始")
    return redirect("applications:detail", pk=application.pk)


@login_required
@require_POST
def document_upload(request, pk):
    application = selectors.application_records_get_for(request.user, pk)  # not for pharmacies (R-SEC-1)
    form = DocumentForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.application_document_add(application=application, actor=request.user,
                                              uploaded_file=form.cleaned_data["file"], kind=form.cleaned_data["kind"])
        except ApplicationError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "材料已上传")
            return redirect("applications:detail", pk=application.pk)
    else:
        messages.error(request, "请选择材料类型和文件")
    return redirect("applications:detail", pk=application.pk)


@login_required
@xframe_options_sameorigin
def document_file(request, pk, document_id):
    """A document shown inline in the application page (same-origin frames only)."""
    application = selectors.application_records_get_for(request.user, pk)  # not for pharmacies (R-SEC-1)
    document = get_object_or_404(application.documents, pk=document_id)
    response = FileResponse(document.file.open("rb"), content_type=document.content_type)
    response["Content-Disposition"] = "inline"
    response["X-Content-Type-Options"] = "nosniff"
    add_never_cache_headers(response)  # personal documents: never kept by a browser or proxy (R-SEC-2)
    return response


@login_required
def print_form(request, pk):
    """The 001 附件 申请表 for printing."""
    application = selectors.application_records_get_for(request.user, pk)  # not for pharmacies (R-SEC-1)
    reviews = list(selectors.reviews_of(application))
    by_stage = {}
    for review in reviews:
        by_stage[review.stage] = review
    return render(request, "applications/print.html", {
        "app": application, "person": application.person, "age": application.person.age_on(application.applied_on),
        "id_number_display": mask_id_number(application.person.id_number),
        "phone_display": mask_phone(application.person.phone),
        "hospital_review": by_stage.get(Stage.INSURANCE_OFFICE) or by_stage.get(Stage.PHARMACY_DEPT)
        or by_stage.get(Stage.PHYSICIAN),
        "physician_review": by_stage.get(Stage.PHYSICIAN),
        "bureau_review": by_stage.get(Stage.BUREAU),
    })


# --- hospital pages -------------------------------------------------------------------------------------------

@login_required
def application_list(request):
    """Every application the user may see (a hospital: its own), newest first, filterable by status."""
    require_role(request.user, BUREAU, Role.HOSPITAL)
    qs = selectors.applications_visible_to(request.user)
    status = request.GET.get("status", "")
    if status in Application.Status.values:
        qs = qs.filter(status=status)
    term = request.GET.get("q", "").strip()
    if term:
        qs = qs.filter(number__icontains=term) | qs.filter(person__name__icontains=term)
    page = paginate_by_ids(qs.order_by("-submitted_at", "-id"), request.GET.get("page"), 50)
    return render(request, "applications/list.html", {
        "page_obj": page, "rows": page.object_list, "status": status, "q": term,
        "statuses": Application.Status.choices, "today": timezone.localdate(),
    })


@login_required
@require_http_methods(["GET", "POST"])
def application_create(request):
    user = request.user
    require_role(user, Role.HOSPITAL)

    physicians = physicians_visible_to(user).filter(status=Physician.Status.FILED)
    pharmacies = pharmacies_visible_to(user)
    form = ApplicationCreateForm(request.POST or None, physicians=physicians, pharmacies=pharmacies,
                                 initial={"insured_region": user.institution.region.code[:4] + "00"})
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_submit(actor=user, now=timezone.now(), **form.service_kwargs())
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, f"申请已提交，申请编号 {application.number}（请告知患者用于查询进度）")
            return redirect("applications:detail", pk=application.pk)
    return render(request, "applications/create.html", {"form": form})


# --- physician filing requests (R-DOC-3) ----------------------------------------------------------------------

def _filings_for(user):
    return physicians_visible_to(user).filter(status=Physician.Status.PROPOSED).order_by("created_at", "code")


@login_required
def filing_list(request):
    require_role(request.user, BUREAU)
    rows = _filings_for(request.user)
    return render(request, "applications/filing_list.html", {"rows": rows})


@login_required
@require_http_methods(["GET", "POST"])
def filing_detail(request, pk):
    """A physician filing request: file it or refuse it (R-DOC-3), then on to the next request."""
    require_role(request.user, BUREAU)

    physician = get_object_or_404(physicians_visible_to(request.user), pk=pk)
    form = FilingDecisionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        try:
            if d["decision"] == "file":
                physician_services.physician_file(physician=physician, actor=request.user,
                                                  valid_until=d["valid_until"], reason=d["reason"], now=timezone.now())
            else:
                if not d["reason"].strip():
                    raise ApplicationError("reason_required", "不予备案时必须填写理由", fields={"reason": ["必填"]})
                physician_services.physician_reject_filing(physician=physician, actor=request.user,
                                                           reason=d["reason"], now=timezone.now())
        except ApplicationError as exc:
            _apply_error(form, exc)
        else:
            messages.success(request, f"{physician.name}：{'已备案' if d['decision'] == 'file' else '不予备案'}")
            nxt = _filings_for(request.user).exclude(pk=physician.pk).first()
            return redirect("applications:filing_detail", pk=nxt.pk) if nxt else redirect("applications:filings")
    nxt = _filings_for(request.user).exclude(pk=physician.pk).first()
    return render(request, "applications/filing_detail.html", {
        "physician": physician, "form": form, "next_filing": nxt,
        "pending": physician.status == physician.Status.PROPOSED, "events": events_for(physician)[:20],
    })


# --- public lookup (R-APP-9) ----------------------------------------------------------------------------------

def _client_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "") or "unknown"


@require_http_methods(["GET", "POST"])
def lookup(request):
    """No login: application number + last six characters of the ID number → stage, decision, validity only."""
    form = LookupForm(request.POST or None)
    result = None
    not_found = False
    if request.method == "POST" and form.is_valid():
        try:
            application = services.application_lookup(number=form.cleaned_data["number"],
                                                      id_suffix=form.cleaned_data["id_suffix"],
                                                      ip=_client_ip(request))
        except ApplicationError as exc:
            form.add_error(None, exc.message)
        else:
            if application is None:
                not_found = True
            else:
                last = application.reviews.order_by("-decided_at", "-id").first()
                result = {
                    "number": application.number, "name": mask_name(application.person.name),
                    "generic_name": application.generic_name, "status": application.get_status_display(),
                    "status_code": application.status,
                    "stage": application.get_current_stage_display() if application.current_stage else "",
                    "decision": last.get_decision_display() if last else "",
                    "decision_stage": last.get_stage_display() if last else "",
                    "decided_on": timezone.localtime(last.decided_at).date() if last else None,
                    "valid_from": application.valid_from, "valid_until": application.valid_until,
                    "terminated_on": application.terminated_on,
                }
    status = 429 if any("过多" in e for e in form.non_field_errors()) else 200
    return render(request, "applications/lookup.html", {"form": form, "result": result, "not_found": not_found},
                  status=status)


@login_required
@require_POST
def extend(request, pk):
    """R-APP-11: the responsible physician's account files an extension within the last 60 days."""
    application = selectors.application_get_for(request.user, pk)
    try:
        extension = services.application_extend(application=application, actor=request.user,
                                                opinion=request.POST.get("opinion", ""), now=timezone.now())
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("applications:detail", pk=application.pk)
    messages.success(request, f"已提交延期申请 {extension.number}，等待经办机构审核")
    return redirect("applications:detail", pk=extension.pk)


@login_required
@require_POST
def switch(request, pk):
    """R-CAT-6: the responsible physician's account determines a manufacturer switch."""
    application = selectors.application_get_for(request.user, pk)
    try:
        services.manufacturer_switch_determine(application=application, actor=request.user,
                                               to_manufacturer=request.POST.get("to_manufacturer", ""),
                                               reason=request.POST.get("reason", ""), now=timezone.now())
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "已确定更换生产企业，待医疗机构确认后生效")
    return redirect("applications:detail", pk=application.pk)


@login_required
@require_POST
def switch_confirm(request, pk, switch_id):
    """R-CAT-6: the institution (insurance office) confirms; the application records the new manufacturer."""
    application = selectors.application_get_for(request.user, pk)
    switch_row = get_object_or_404(application.manufacturer_switches, pk=switch_id)
    try:
        services.manufacturer_switch_confirm(switch=switch_row, actor=request.user, now=timezone.now())
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "更换生产企业已确认生效")
    return redirect("applications:detail", pk=application.pk)

