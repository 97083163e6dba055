"""Home-page figures of applications: what waits on the user and what is overdue (R-APP-5)."""
from django.utils import timezone
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.applications.views import _filings_for
from apps.core.roles import BUREAU_ROLES, Role
from apps.applications import selectors
from apps.core.home import Figure


def home_figures(user) -> list[Figure]:
    if not (user.is_superuser or user.role in BUREAU_ROLES or (user.role == Role.HOSPITAL and user.institution_id)):
        return []
    counts = selectors.queue_counts(user, today=timezone.localdate())
    queue = reverse("applications:queue")
    figures = [
        Figure(_("待审核申请"), counts["waiting"], queue, "warn" if counts["waiting"] else ""),
        Figure(_("超时未办结"), counts["overdue"], f"{queue}?due=overdue", "danger" if counts["overdue"] else "ok"),
    ]
    if counts.get("returned") is not None:
        figures.append(Figure(_("已退回待补充"), counts["returned"], f"{queue}?status=returned",
                              "warn" if counts["returned"] else ""))
    if user.is_superuser or user.role in BUREAU_ROLES:
        pending = _filings_for(user).count()
        figures.append(Figure(_("责任医师待备案"), pending, reverse("applications:filings"), "warn" if pending else ""))
    return figures
