"""Home-page figures of procurement: overdue repayments (bureau: its region; an institution: its own)."""
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.core.home import Figure
from apps.procurement import selectors


def home_figures(user) -> list[Figure]:
    bureau, institution = selectors.is_bureau(user), selectors.is_institution(user)
    if not (bureau or institution):
        return []
    today = timezone.localdate()
    overdue = selectors.overdue_invoices(user, today=today).count()
    if overdue == 0 and not selectors.agreements_visible_to(user).exists():
        return []
    url = reverse("procurement:repayments") if bureau else reverse("procurement:mine")
    return [Figure(_("带量采购逾期未回款发票"), overdue, url, "danger" if overdue else "ok")]
