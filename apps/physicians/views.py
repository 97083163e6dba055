"""Browser pages of the responsible physicians: bureau lists and filing; a hospital sees and proposes its own."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from apps.catalogue.models import TherapeuticArea
from apps.core.events import events_for
from apps.core.exceptions import ApplicationError
from apps.core.forms import ReasonForm, apply_error_to_form
from apps.core.roles import BUREAU, Role, require_role
from apps.core.selectors import regions_under
from apps.core.views import form_errors_message, paginate, run_service
from apps.physicians import services
from apps.physicians.forms import DatedReasonForm, FileForm, ProposeForm
from apps.physicians.models import Physician
from apps.physicians.selectors import physician_list, physician_problems, physicians_visible_to

FILTERS = ("q", "region", "institution", "status", "title", "department", "area")


@login_required
def physician_list_view(request):
    require_role(request.user, BUREAU, Role.HOSPITAL)
    params = {k: request.GET.get(k, "").strip() for k in FILTERS}
    qs = physician_list(user=request.user, search=params["q"], region=params["region"],
                        institution=params["institution"], status=params["status"], title=params["title"],
                        department=params["department"], area=params["area"])
    return render(request, "physicians/list.html", {
        "page_obj": paginate(request, qs), "params": params,
        "regions": regions_under(request.user.scope_region).exclude(level="province") if request.user.is_bureau else [],
        "statuses": Physician.Status.choices, "titles": Physician.Title.choices,
        "areas": TherapeuticArea.objects.all(),
    })


@login_required
def physician_detail(request, pk):
    require_role(request.user, BUREAU, Role.HOSPITAL)
    physician = get_object_or_404(physicians_visible_to(request.user), pk=pk)
    context = {"obj": physician, "problems": physician_problems(physician), "events": events_for(physician)[:50]}
    if request.user.is_bureau:
        context.update(file_form=FileForm(), reason_form=ReasonForm(), dated_form=DatedReasonForm())
    return render(request, "physicians/detail.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def physician_propose(request):
    """R-DOC-3: a hospital (or a bureau administrator) proposes a physician for filing."""
    require_role(request.user, Role.HOSPITAL, Role.BUREAU_ADMIN)
    initial = {}
    if request.GET.get("institution"):
        initial["institution"] = ProposeForm(user=request.user).fields["institution"].queryset.filter(
            code=request.GET["institution"]).first()
    form = ProposeForm(request.POST or None, user=request.user, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            physician = services.physician_propose(actor=request.user, now=timezone.now(), **form.cleaned_data)
        except ApplicationError as exc:
            apply_error_to_form(form, exc)
        else:
            from django.contrib import messages
            messages.success(request, f"已提名 {physician.name}（{physician.code}），等待经办机构备案")
            return redirect("physicians:detail", pk=physician.pk)
    return render(request, "physicians/propose.html", {"form": form})


ACTIONS = {
    # action: (form, service, success message, bureau admin only)
    "file": (FileForm, services.physician_file, "已备案", False),
    "reject": (ReasonForm, services.physician_reject_filing, "已不予备案", False),
    "suspend": (DatedReasonForm, services.physician_suspend, "已暂停", True),
    "resume": (ReasonForm, services.physician_resume, "已恢复", True),
    "revoke": (DatedReasonForm, services.physician_revoke, "已撤销备案", True),
}


@login_required
@require_POST
def physician_action(request, pk, action):
    if action not in ACTIONS:
        raise PermissionDenied
    form_class, service, success, admin_only = ACTIONS[action]
    if not (request.user.is_bureau_admin if admin_only else (request.user.is_bureau or request.user.is_superuser)):
        raise PermissionDenied
    physician = get_object_or_404(physicians_visible_to(request.user), pk=pk)
    form = form_class(request.POST)
    if form.is_valid():
        run_service(request, lambda: service(physician=physician, actor=request.user, now=timezone.now(),
                                                     **form.cleaned_data),
                    success=success)
    else:
        form_errors_message(request, form)
    return redirect("physicians:detail", pk=physician.pk)
