from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.exceptions import ApplicationError
from apps.core.home import home_figures
from apps.core.roles import Role


@login_required
def home(request):
    """Bureau roles land on their dashboard, named by ``settings.BUREAU_HOME_URL_NAME`` (the kernel imports no
    feature app); hospitals and pharmacies on every app's figures for them."""
    if request.user.is_bureau or request.user.is_superuser:
        return redirect(settings.BUREAU_HOME_URL_NAME)
    figures = home_figures(request.user)
    # "what needs me today": the figures that ask for action, then the role's usual next steps
    todo = [f for f in figures if f.tone in ("warn", "danger") and str(f.value) not in ("0", "0.00")]
    return render(request, "core/home.html", {"figures": figures, "todo": todo, "today": timezone.localdate(),
                                              "actions": _next_steps(request.user)})


#: the usual next steps of a role on its home page, by URL name (the kernel imports no feature app)
NEXT_STEPS = {
    Role.HOSPITAL: [(_("新建待遇申请"), "applications:create", ""), (_("查看电子处方"), "prescriptions:list", ""),
                    (_("本院月度结算"), "settlement:statements", "")],
    Role.PHARMACY: [(_("待配药处方"), "prescriptions:list", "?status=flowed"),
                    (_("登记采购或退货"), "prescriptions:stock", ""), (_("本店月度结算"), "settlement:statements", "")],
}


def _next_steps(user) -> list[tuple[str, str]]:
    steps = []
    for label, name, query in NEXT_STEPS.get(user.role, []):
        try:
            steps.append((label, reverse(name) + query))
        except NoReverseMatch:
            continue
    return steps


def run_service(request, call, *, success: str) -> bool:
    """Browser side of a service call: success → flash message; ``ApplicationError`` → error message with
    its field details (nothing changed)."""
    from django.contrib import messages


    try:
        call()
    except ApplicationError as exc:
        details = "；".join(m for msgs in exc.fields.values() for m in msgs if m not in exc.message)
        messages.error(request, f"{exc.message}{'（' + details + '）' if details else ''}")
        return False
    messages.success(request, success)
    return True


def form_errors_message(request, form) -> None:
    from django.contrib import messages

    text = "；".join(f"{form.fields[k].label if k in form.fields else ''}{'：' if k in form.fields else ''}{'、'.join(v)}"
                    for k, v in form.errors.items())
    messages.error(request, f"输入有误：{text}")


def paginate(request, queryset, per_page: int = 25):
    from django.core.paginator import Paginator

    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def paginate_by_ids(queryset, page_number, per_page: int = 50):
    """A page of ``queryset`` (ordered) whose sort and slice run on the ids alone, the rows of the page then loaded
    with the queryset's joins (issue 16: PostgreSQL joined every matching row to its person, organisations and
    regions before sorting them to keep 50). The page's ``object_list`` holds the rows in the queryset's order."""
    from django.core.paginator import Paginator

    page = Paginator(queryset.values_list("pk", flat=True), per_page).get_page(page_number)
    ids = list(page.object_list)
    rows = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
    page.object_list = [rows[pk] for pk in ids if pk in rows]
    return page
