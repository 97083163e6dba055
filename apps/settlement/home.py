"""Home-page figures of settlement for bureau users: this month's fund payment and visits, stocking below target,
open reconciliation differences (the full dashboard is ``settlement:dashboard``)."""
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.roles import BUREAU_ROLES
from apps.core.home import Figure
from apps.settlement import stocking_selectors
from apps.settlement.models import ReconciliationDifference
from apps.settlement.periods import period_of
from apps.settlement.selectors import differences_visible_to, month_figures, scope_region


def home_figures(user) -> list[Figure]:
    if not (user.is_superuser or user.role in BUREAU_ROLES):
        return []
    today = timezone.localdate()
    region = scope_region(user)
    month = month_figures(period=period_of(today), region=region)
    below = stocking_selectors.below_target_count(on=today, region=region)
    open_differences = differences_visible_to(user).filter(status=ReconciliationDifference.Status.OPEN).count()
    dashboard = reverse("settlement:dashboard")
    return [
        Figure(_("本月统筹基金支付（元）"), f"{month['fund']:,.2f}", dashboard),
        Figure(_("本月结算人次"), month["visits"], dashboard),
        Figure(_("配备率未达标机构"), below, reverse("settlement:stocking"), "warn" if below else "ok"),
        Figure(_("待处理对账差异"), open_differences, reverse("settlement:reconciliation") + "?status=open",
               "danger" if open_differences else "ok"),
    ]
