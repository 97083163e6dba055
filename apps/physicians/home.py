"""Home-page figures of the responsible physicians (bureau: its region; hospital: its own)."""
from django.db.models import Count, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.core.home import Figure
from apps.physicians.models import Physician
from apps.physicians.selectors import physicians_visible_to

P = Physician.Status


def home_figures(user) -> list[Figure]:
    if not (user.is_bureau or user.is_superuser or user.is_hospital):
        return []
    counts = physicians_visible_to(user).aggregate(
        filed=Count("id", filter=Q(status=P.FILED)), proposed=Count("id", filter=Q(status=P.PROPOSED)))
    url = reverse("physicians:list")
    filed_label = _("本院已备案责任医师") if user.is_hospital else _("已备案责任医师")
    waiting_label = _("本院待备案提名") if user.is_hospital else _("待备案的医师提名")
    return [
        Figure(filed_label, counts["filed"], f"{url}?status=filed", "ok"),
        Figure(waiting_label, counts["proposed"], f"{url}?status=proposed", "warn" if counts["proposed"] else ""),
    ]
