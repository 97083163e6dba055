"""Home-page figures of the catalogue for the signed-in user."""
import datetime as dt

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.catalogue import selectors
from apps.catalogue.models import Drug, ImportRun
from apps.core.home import Figure


def home_figures(user) -> list[Figure]:
    today = timezone.localdate()
    url = reverse("catalogue:drug_list")
    drugs = selectors.drugs_visible_to(user)
    listed = selectors.drugs_listed_on(drugs, today)
    figures = [
        Figure(_("目录内药品（今日有效）"), listed.count(), f"{url}?listed_on={today.isoformat()}", "ok"),
        Figure(_("协议期内谈判药品"), listed.filter(category=Drug.Category.NEGOTIATED).count(),
               f"{url}?category=negotiated&listed_on={today.isoformat()}"),
    ]
    if user.is_bureau or user.is_superuser:
        ending = listed.filter(agreement_end__isnull=False, agreement_end__lte=today + dt.timedelta(days=90))
        figures.append(Figure(_("90 天内协议到期"), ending.count(), url, "warn" if ending.exists() else ""))
        runs = selectors.import_runs_visible_to(user)
        waiting = runs.filter(status=ImportRun.Status.PREVIEWED).count()
        if user.is_bureau_admin:
            figures.append(Figure(_("待确认的导入预览"), waiting, reverse("catalogue:import_list"),
                                  "warn" if waiting else ""))
    return figures
