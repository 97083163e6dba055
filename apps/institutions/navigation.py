from django.utils.translation import gettext_lazy as _

from apps.core.navigation import BUREAU, NavItem

NAV_ITEMS = [
    NavItem(_("定点医疗机构"), "institutions:list", roles=BUREAU, order=10, group=_("定点管理")),
    NavItem(_("本院信息"), "institutions:list", roles=frozenset({"hospital"}), order=10),
]
