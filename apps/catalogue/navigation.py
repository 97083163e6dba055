from django.utils.translation import gettext_lazy as _

from apps.core.navigation import ALL_ROLES, NavItem

NAV_ITEMS = [
    NavItem(_("药品目录"), "catalogue:drug_list", roles=ALL_ROLES, order=25, group=_("药品目录")),
    NavItem(_("Excel 导入"), "catalogue:import_list", roles=frozenset({"bureau_admin"}), order=26, group=_("药品目录")),
]
