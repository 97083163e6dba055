"""Browser pages of the pharmacy registry (bureau staff; a pharmacy sees itself)."""
from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.registries.views import detail_context, lifecycle_actions, run_action
from apps.core.models import DesignationStatus
from apps.core.selectors import regions_under
from apps.core.views import paginate
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
    context = detail_context(request, pharmacy, criteria=pharmacy_criteria(pharmacy), action_url="pharmacies:action")
    if request.user.is_bureau_admin:
        context["licence_form"] = LicenceRevokedForm(initial={"revoked_on": timezone.localdate()})
    return render(request, "pharmacies/detail.html", context)


ACTIONS = {
    **lifecycle_actions(services.LIFECYCLE),
    "revoke-licence": (LicenceRevokedForm, services.pharmacy_revoke_licence, "已登记许可吊销并退出"),
}


@login_required
@require_POST
def pharmacy_action(request, pk, action):
    if not request.user.is_bureau_admin or action not in ACTIONS:
        raise PermissionDenied
    pharmacy = get_object_or_404(pharmacies_visible_to(request.user), pk=pk)
    return run_action(request, pharmacy, step=ACTIONS[action], subject="pharmacy", detail_url="pharmacies:detail")
