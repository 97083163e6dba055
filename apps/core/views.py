from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from apps.core.exceptions import ApplicationError
from apps.core.home import home_figures


@login_required
def home(request):
    """Bureau roles land on their dashboard, named by ``settings.BUREAU_HOME_URL_NAME`` (the kernel imports no
    feature app); hospitals and pharmacies on every app's figures for them."""
    if request.user.is_bureau or request.user.is_superuser:
        return redirect(settings.BUREAU_HOME_URL_NAME)
    return render(request, "core/home.html", {"figures": home_figures(request.user)})


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
