"""Browser pages of the pharmacy registry (bureau staff; a pharmacy sees itself)."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.core.designation import sanctions_for
from apps.core.events import events_for
from apps.core.forms import AgreementForm, ReasonForm, SanctionForm
from apps.core.models import DesignationStatus
from apps.core.selectors import regions_under
from apps.core.views import form_errors_message, paginate, run_service
from apps.pharmacies import services
from apps.pharmacies.selectors import pharmacies_visible_to, pharmacy_criteria, pharmacy_list

FILTERS = ("q", "region", "status", "cold_chain")


class LicenceRevokedForm(forms.Form):
    revoked_on = forms.DateField(label="吊销日期", widget=forms.DateInput(attrs={"type": "date"}))
    reason = forms.CharField(label="原因", widget=forms.Textarea(attrs={"rows": 2}))


@login_required
def pharmacy_list_view(request):
    if request.user.is_pharmacy:
        return redirect("pharmacies:detail", pk=request.user.pharmacy_id)
    if not (request.user.is_bureau or request.user.is_superuser):
        raise PermissionDenied
    params = {k: request.GET.get(k, "").strip() for k in FILTERS}
    qs = pharmacy_list(user=request.user, search=params["q"], region=params["region"], status=params["status"],
                       cold_chain=params["cold_chain"])
    return render(request, "pharmacies/list.html", {
        "page_obj": paginate(request, qs), "params": params,
        "regions": regions_under(request.user.scope_region).exclude(level="province"),
        "statuses": DesignationStatus.choices,
    })


@login_required
def pharmacy_detail(request, pk):
    pharmacy = get_object_or_404(pharmacies_visible_to(request.user), pk=pk)
    context = {"obj": pharmacy, "criteria": pharmacy_criteria(pharmacy), "events": events_for(pharmacy)[:50],
               "sanctions": sanctions_for(pharmacy), "action_url": "pharmacies:action"}
    if request.user.is_bureau_admin:
        today = timezone.localdate()
        context.update(
            admit_form=AgreementForm(initial={"agreement_no": pharmacy.agreement_no or f"SXT-{pharmacy.code}",
                                              "agreement_start": today,
                                              "agreement_end": today.replace(year=today.year + 1, month=12, day=31)}),
            reason_form=ReasonForm(), sanction_form=SanctionForm(initial={"decided_on": today}),
            licence_form=LicenceRevokedForm(initial={"revoked_on": today}),
        )
    return render(request, "pharmacies/detail.html", context)


ACTIONS = {
    "admit": (AgreementForm, services.pharmacy_admit, "已纳入定点"),
    "suspend": (ReasonForm, services.pharmacy_suspend, "已暂停"),
    "resume": (ReasonForm, services.pharmacy_resume, "已恢复"),
    "exit": (ReasonForm, services.pharmacy_exit, "已退出"),
    "sanction": (SanctionForm, services.pharmacy_sanction, "已登记协议处理"),
    "revoke-licence": (LicenceRevokedForm, services.pharmacy_revoke_licence, "已登记许可吊销并退出"),
}


@login_required
@require_POST
def pharmacy_action(request, pk, action):
    if not request.user.is_bureau_admin or action not in ACTIONS:
        raise PermissionDenied
    pharmacy = get_object_or_404(pharmacies_visible_to(request.user), pk=pk)
    form_class, service, success = ACTIONS[action]
    form = form_class(request.POST)
    if form.is_valid():
        run_service(request, lambda: service(pharmacy=pharmacy, actor=request.user, **form.cleaned_data),
                    success=success)
    else:
        form_errors_message(request, form)
    return redirect("pharmacies:detail", pk=pharmacy.pk)
