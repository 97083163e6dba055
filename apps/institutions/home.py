"""Home-page figures of the institution registry for the signed-in user."""
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.home import Figure
from apps.core.models import DesignationStatus as S
from apps.institutions.selectors import institutions_flagged_for_exit, institutions_visible_to
from apps.pharmacies.selectors import pharmacies_flagged_for_exit


def home_figures(user) -> list[Figure]:
    if not (user.is_bureau or user.is_superuser):
        return []
    counts = institutions_visible_to(user).aggregate(
        admitted=Count("id", filter=Q(status=S.ADMITTED)), applied=Count("id", filter=Q(status=S.APPLIED)))
    url = reverse("institutions:list")
    today = timezone.localdate()
    flagged = len(institutions_flagged_for_exit(user=user, today=today)) + len(
        pharmacies_flagged_for_exit(user=user, today=today))
    return [
        Figure(_("已纳入定点医疗机构"), counts["admitted"], f"{url}?status=admitted", "ok"),
        Figure(_("待纳入医疗机构申请"), counts["applied"], f"{url}?status=applied", "warn" if counts["applied"] else ""),
        Figure(_("退出预警（机构/药店）"), flagged, reverse("institutions:exit_flags"), "danger" if flagged else ""),
    ]
