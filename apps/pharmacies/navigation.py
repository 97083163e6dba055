from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

NAV_ITEMS = [
    NavItem(_("定点药店"), "pharmacies:list", roles=BUREAU, order=12, group=_("定点管理")),
    NavItem(_("本店信息"), "pharmacies:list", roles=frozenset({"pharmacy"}), order=12),
]
