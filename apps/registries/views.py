"""Browser pages shared by designated institutions and pharmacies: the detail page's lifecycle context and the
POST of one lifecycle step (R-INS-3, R-PHA-2). Refusals (``ApplicationError``) are shown as messages."""
from __future__ import annotations

from django.shortcuts import redirect
from django.utils import timezone

from apps.registries.designation import LifecycleServices, sanctions_for
from apps.core.events import events_for
from apps.core.forms import AgreementForm, ReasonForm, SanctionForm
from apps.core.views import form_errors_message, run_service


def lifecycle_actions(lifecycle: LifecycleServices) -> dict:
    """action in the URL → (form, service, success message)."""
    return {
        "admit": (AgreementForm, lifecycle.admit, "已纳入定点"),
        "suspend": (ReasonForm, lifecycle.suspend, "已暂停"),
        "resume": (ReasonForm, lifecycle.resume, "已恢复"),
        "exit": (ReasonForm, lifecycle.exit, "已退出"),
        "sanction": (SanctionForm, lifecycle.sanction, "已登记协议处理"),
    }


def detail_context(request, obj, *, criteria, action_url: str) -> dict:
    """Context of ``core/designation_detail.html``; bureau administrators also get the action forms."""
    context = {"obj": obj, "criteria": criteria, "events": events_for(obj)[:50], "sanctions": sanctions_for(obj),
               "action_url": action_url}
    if request.user.is_bureau_admin:
        today = timezone.localdate()
        context.update(
            admit_form=AgreementForm(initial={"agreement_no": obj.agreement_no or f"SXT-{obj.code}",
                                              "agreement_start": today,
                                              "agreement_end": today.replace(year=today.year + 1, month=12, day=31)}),
            reason_form=ReasonForm(), sanction_form=SanctionForm(initial={"decided_on": today}),
        )
    return context


def run_action(request, obj, *, step: tuple, subject: str, detail_url: str):
    """Validate the step's form, call its service with ``<subject>=obj``, and go back to the detail page."""
    form_class, service, success = step
    form = form_class(request.POST)
    if form.is_valid():
        run_service(request, lambda: service(**{subject: obj}, actor=request.user, now=timezone.now(), **form.cleaned_data),
                    success=success)
    else:
        form_errors_message(request, form)
    return redirect(detail_url, pk=obj.pk)
