"""Home-page figures of the pharmacy registry."""
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.core.home import Figure
from apps.core.models import DesignationStatus as S
from apps.pharmacies.selectors import pharmacies_visible_to


def home_figures(user) -> list[Figure]:
    if not (user.is_bureau or user.is_superuser):
        return []
    counts = pharmacies_visible_to(user).aggregate(
        admitted=Count("id", filter=Q(status=S.ADMITTED)), applied=Count("id", filter=Q(status=S.APPLIED)))
    url = reverse("pharmacies:list")
    return [
        Figure(_("已纳入定点药店"), counts["admitted"], f"{url}?status=admitted", "ok"),
        Figure(_("待纳入药店申请"), counts["applied"], f"{url}?status=applied", "warn" if counts["applied"] else ""),
    ]
