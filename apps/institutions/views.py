"""Browser pages of the institution registry (bureau staff; a hospital sees its own institution)."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from apps.core.roles import BUREAU, Role, require_role
from apps.registries.views import detail_context, lifecycle_actions, run_action
from apps.core.models import DesignationStatus
from apps.core.selectors import regions_under
from apps.core.views import paginate
from apps.institutions import services
from apps.institutions.models import Institution
from apps.institutions.selectors import (
    coverage_gaps, institution_criteria, institution_list, institutions_flagged_for_exit, institutions_visible_to,
)
from apps.pharmacies.selectors import pharmacies_flagged_for_exit
from apps.physicians.selectors import departments_below_two_physicians, physicians_visible_to

FILTERS = ("q", "region", "status", "level", "kind")


@login_required
def institution_list_view(request):
    if request.user.is_hospital:
        return redirect("institutions:detail", pk=request.user.institution_id)
    require_role(request.user, BUREAU)
    params = {k: request.GET.get(k, "").strip() for k in FILTERS}
    qs = institution_list(user=request.user, search=params["q"], region=params["region"], status=params["status"],
                          level=params["level"], kind=params["kind"])
    return render(request, "institutions/list.html", {
        "page_obj": paginate(request, qs), "params": params,
        "regions": regions_under(request.user.scope_region).exclude(level="province"),
        "statuses": DesignationStatus.choices, "levels": Institution.Level.choices, "kinds": Institution.Kind.choices,
    })


@login_required
def institution_detail(request, pk):
    institution = get_object_or_404(institutions_visible_to(request.user), pk=pk)
    context = detail_context(request, institution, criteria=institution_criteria(institution),
                             action_url="institutions:action")
    context["physicians"] = physicians_visible_to(request.user).filter(institution=institution)
    return render(request, "institutions/detail.html", context)


ACTIONS = lifecycle_actions(services.LIFECYCLE)


@login_required
@require_POST
def institution_action(request, pk, action):
    """R-INS-3: one lifecycle step through its service; refusals shown as messages."""
    require_role(request.user, Role.BUREAU_ADMIN)
    institution = get_object_or_404(institutions_visible_to(request.user), pk=pk)
    if action not in ACTIONS:
        raise PermissionDenied
    return run_action(request, institution, step=ACTIONS[action], subject="institution",
                      detail_url="institutions:detail")


@login_required
def exit_flags(request):
    """R-INS-4 / R-PHA-2: institutions and pharmacies meeting an exit criterion."""
    require_role(request.user, BUREAU)
    today = timezone.localdate()
    return render(request, "institutions/exit_flags.html", {
        "institutions": institutions_flagged_for_exit(user=request.user, today=today),
        "pharmacies": pharmacies_flagged_for_exit(user=request.user, today=today), "today": today,
    })


@login_required
def registry_report(request):
    """R-INS-5 coverage (counties lacking an institution or a pharmacy) and R-DOC-4 (departments with fewer
    than two filed responsible physicians)."""
    require_role(request.user, BUREAU)
    return render(request, "institutions/report.html", {
        "gaps": coverage_gaps(user=request.user),
        "departments": departments_below_two_physicians(user=request.user),
    })
