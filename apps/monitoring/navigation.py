from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

_GROUP = _("智能监控")

NAV_ITEMS = [
    NavItem(_("监控预警"), "monitoring:queue", roles=BUREAU, order=90, group=_GROUP),
    NavItem(_("监控月报"), "monitoring:summary", roles=BUREAU, order=91, group=_GROUP),
    NavItem(_("监控预警"), "monitoring:mine", roles=frozenset({"hospital", "pharmacy"}), order=90),
]
