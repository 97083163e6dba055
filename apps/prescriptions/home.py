"""Home-page figures of prescriptions for hospitals, pharmacies and bureau staff."""
from django.db.models import Count, Q, Sum
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.roles import BUREAU_ROLES, Role
from apps.core.home import Figure
from apps.prescriptions import selectors


def home_figures(user) -> list[Figure]:
    if not (user.is_superuser or user.role in BUREAU_ROLES or user.role in (Role.HOSPITAL, Role.PHARMACY)):
        return []
    now = timezone.now()
    url = reverse("prescriptions:list")
    counts = selectors.prescriptions_visible_to(user).aggregate(
        waiting=Count("id", filter=Q(status="flowed", expires_at__gt=now)),
        today=Count("id", filter=Q(issued_at__date=timezone.localdate())),
        declined=Count("id", filter=Q(status="declined")),
    )
    figures = [Figure(_("待配药处方"), counts["waiting"], f"{url}?status=flowed", "warn" if counts["waiting"] else ""),
               Figure(_("今日开具处方"), counts["today"], url)]
    if user.role in (Role.HOSPITAL,):
        figures.append(Figure(_("药店拒配"), counts["declined"], f"{url}?status=declined",
                              "warn" if counts["declined"] else ""))
    period = timezone.localdate().replace(day=1)
    fund = selectors.dispensings_visible_to(user).filter(period=period).aggregate(f=Sum("fund_payment"))["f"]
    figures.append(Figure(_("本月统筹基金支付（元）"), f"{fund or 0:,.2f}", url))
    return figures
